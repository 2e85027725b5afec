/**
 * An `sse` path: `GET <path>?topic=…[&match=prefix|wildcard]` streams the topic's events as
 * Server-Sent Events, one WAMP subscription (of a session of its own) per stream:
 *
 *   id: <publication>
 *   event: <topic>            (left out with &events=message, for EventSource.onmessage)
 *   data: {"topic", "args", "kwargs", "details"}
 *
 * with a comment line every keepAliveMs. A client that comes back with `Last-Event-ID` gets what
 * it missed from the subscription's event history when the realm keeps one, or else the topic's
 * retained event if it is not the one it last saw; `get_retained=true` asks for the retained
 * event on a first connection too. A stream whose client does not read (unsent output past
 * maxBufferedBytes) is closed; the client resumes with Last-Event-ID.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Args, Dict, Kwargs, PublicationId, SessionId, SubscriptionId } from '@switchboard/schemas';
import { isMatchPolicy, listArgs } from '@switchboard/schemas';
import type { Endpoint } from '../../core/endpoint.js';
import type { Admission } from '../admission.js';
import { payloadBytes } from '../../limits.js';
import type { Logger } from '../../log.js';
import type { Realm } from '../../realm.js';
import { catchUpReplay } from '../../meta/history.js';
import type { BridgePath } from './config.js';
import type { Admitted } from './guard.js';
import type { BridgeSession, EventMessage } from './local-session.js';
import { queryText } from './query.js';
import { HttpRefusal, NotRepresentable, bridgeJson, sendBody } from './respond.js';
import type { SessionPool } from './sessions.js';
import { errorAnswer } from './status.js';

interface StreamEvent {
  publication: number;
  topic: string;
  details: Dict;
  args: Args | undefined;
  kwargs: Kwargs | undefined;
}

/** One event's SSE text; throws NotRepresentable for a payload the bridge's JSON cannot carry. */
function format(e: StreamEvent, named: boolean): string {
  const data = bridgeJson({ topic: e.topic, args: e.args ?? [], kwargs: e.kwargs ?? {}, details: e.details });
  return `id: ${e.publication}\n${named ? `event: ${e.topic}\n` : ''}data: ${data}\n\n`;
}

function lastEventId(req: IncomingMessage, admitted: Admitted): number | undefined {
  const header = req.headers['last-event-id'];
  const text = (Array.isArray(header) ? header[0] : header) ?? queryText(admitted.query, 'lastEventId');
  if (text === undefined || !/^\d{1,16}$/.test(text.trim())) return undefined;
  return Number(text.trim());
}

export class SsePath {
  readonly methods = 'GET,OPTIONS';
  readonly #streams = new Set<ServerResponse>();

  constructor(
    private readonly path: BridgePath,
    private readonly pool: SessionPool,
    private readonly realmOf: (name: string) => Realm | undefined,
    private readonly log: Logger,
    /** The listener's gate: Origin, connections per address, SSE streams per address. */
    private readonly admission?: Admission,
  ) {}

  /** Open streams. */
  get size(): number {
    return this.#streams.size;
  }

  async handle(req: IncomingMessage, res: ServerResponse, admitted: Admitted): Promise<void> {
    // A stream holds its address's slots until its response closes, however it ends.
    const slot = this.admission?.admitRequest(req, 'sse');
    if (slot !== undefined && typeof slot !== 'function') throw new HttpRefusal(slot.status, slot.error);
    if (slot !== undefined) res.once('close', slot);
    const topic = queryText(admitted.query, 'topic');
    if (topic === undefined || topic === '') throw new HttpRefusal(400, "missing query parameter 'topic'");
    const match = queryText(admitted.query, 'match') ?? 'exact';
    if (!isMatchPolicy(match)) throw new HttpRefusal(400, `unknown match policy '${match}' (exact, prefix or wildcard)`);
    const named = queryText(admitted.query, 'events') !== 'message';
    const last = lastEventId(req, admitted);
    const wantRetained = last !== undefined || queryText(admitted.query, 'get_retained') === 'true';
    let session: BridgeSession;
    try {
      session = await this.pool.open(admitted.identity);
    } catch (err) {
      const answer = errorAnswer(err, true);
      return sendBody(res, answer.status, answer.body);
    }
    const routerSession = (): Endpoint | undefined => this.realmOf(this.path.realm)?.sessions.get(session.id as SessionId);
    /** Publications sent from history, which may also arrive live once. */
    const replayed = new Set<number>();
    let fromHistory = false;
    let unsent = 0;
    /** An event is written, or left out when the bridge's JSON cannot carry it (logged). */
    const send = (e: StreamEvent): void => {
      let text: string;
      try {
        text = format(e, named);
      } catch (err) {
        if (!(err instanceof NotRepresentable)) throw err;
        unsent++;
        if (unsent === 1 || unsent % 1000 === 0)
          this.log.warn(
            { path: this.path.path, topic: e.topic, publication: e.publication, unsent },
            'SSE: an event holds a string that starts with U+0000, which has no JSON form here: left out',
          );
        return;
      }
      write(text);
    };
    const write = (chunk: string): void => {
      if (res.destroyed || res.writableEnded) return;
      res.write(chunk);
      if (res.writableLength > this.path.maxBufferedBytes) {
        this.log.info({ path: this.path.path, topic, buffered: res.writableLength }, 'SSE client does not keep up: stream closed');
        res.destroy();
      }
    };
    /**
     * Live events that arrive while the history is read (Last-Event-ID): sent after the replay,
     * those it already sent left out. Bounded as a SUBSCRIBE catch-up's hold is, by the realm's
     * limits.maxCatchUpEvents and maxCatchUpBytes (estimated): a stream past them closes (counted
     * in switchboard_limits_exceeded_total), the client resumes.
     */
    let held: EventMessage[] | undefined;
    let heldBytes = 0;
    let holdingIn: Realm | undefined;
    const onSubscribed = (subscription: number): void => {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      write(`: subscribed ${subscription}\n\n`);
      if (last === undefined) return;
      const realm = this.realmOf(this.path.realm);
      const routed = realm?.broker.getSubscription(subscription as SubscriptionId);
      const reader = routerSession();
      if (realm === undefined || routed === undefined || reader === undefined) return;
      held = [];
      heldBytes = 0;
      holdingIn = realm;
      // A history read with no gate of its own: the SUBSCRIBE that made this subscription passed
      // the realm's gate for its topic and match, which is what reading its history asks for
      // (meta/history.ts). Everything after the last event seen; all that is kept if that one is
      // no longer kept.
      void catchUpReplay(realm, reader, routed, { after: last as PublicationId })
        .then(
          (replay) => {
            if (replay.ok) {
              fromHistory = true;
              for (const e of replay.events) {
                replayed.add(e.publication);
                send({
                  publication: e.publication,
                  topic: e.topic,
                  details: e.details,
                  args: e.args === undefined ? undefined : listArgs(e.args),
                  kwargs: e.kwargs,
                });
              }
            }
            release();
          },
          () => release(),
        )
        .catch((err: unknown) => {
          // A fault of this stream's own (never the router's): the stream ends, the client resumes.
          this.log.error(
            { path: this.path.path, topic, err: err instanceof Error ? err.message : String(err) },
            'SSE: the history replay failed: stream closed',
          );
          res.destroy();
        });
    };
    const release = (): void => {
      const live = held ?? [];
      held = undefined;
      for (const e of live) deliver(e);
    };
    const deliver = (e: EventMessage): void => {
      if (e.details['retained'] === true) {
        if (fromHistory || e.publication === last) return;
      } else if (replayed.delete(e.publication)) return;
      const eventTopic = typeof e.details['topic'] === 'string' ? e.details['topic'] : topic;
      send({ publication: e.publication, topic: eventTopic, details: e.details, args: e.args, kwargs: e.kwargs });
    };
    const onEvent = (e: EventMessage): void => {
      if (held === undefined || holdingIn === undefined) return deliver(e);
      if (res.destroyed) return;
      const limits = holdingIn.quotas.limits;
      heldBytes += payloadBytes(e.args, e.kwargs, e.details);
      const over = held.length >= limits.maxCatchUpEvents ? 'maxCatchUpEvents' : heldBytes > limits.maxCatchUpBytes ? 'maxCatchUpBytes' : undefined;
      if (over !== undefined) {
        holdingIn.stats.limitExceeded(over);
        this.log.info(
          { path: this.path.path, topic, held: held.length, bytes: heldBytes, limit: over },
          'SSE: too many live events while reading the history: stream closed',
        );
        held = [];
        res.destroy();
        return;
      }
      held.push(e);
    };
    const options: Dict = { match };
    if (wantRetained) options['get_retained'] = true;
    let keepAlive: NodeJS.Timeout | undefined;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      this.#streams.delete(res);
      session.close();
      if (!res.writableEnded) res.end();
    };
    // Registered first: a client may leave while the subscription is still being made.
    res.once('close', end);
    // The router ended the session (shutdown, wamp.session.kill): the stream ends too.
    void session.closed.then(end);
    try {
      await session.subscribe(topic, options, onEvent, onSubscribed);
    } catch (err) {
      if (ended) return;
      ended = true;
      res.off('close', end);
      session.close();
      const answer = errorAnswer(err, true);
      return sendBody(res, answer.status, answer.body);
    }
    if (ended) return;
    this.#streams.add(res);
    keepAlive = setInterval(() => write(': keep-alive\n\n'), this.path.keepAliveMs);
  }

  close(): void {
    for (const res of this.#streams) res.end();
  }
}
