/**
 * Invocations relayed to this node's callees, for one realm. The caller's node runs the call
 * (its dealer holds a stand-in for the callee, remote-session.ts) and sends INVOCATION, INTERRUPT
 * or ERROR here; this module hands them to the real session under IDs of this node's own (a
 * progressive call invocation's later INVOCATIONs and an INTERRUPT find the ID given first), and
 * sends the callee's YIELD or ERROR back under the caller's node's ID. A callee leaving, or a
 * caller's node going away, ends its relays.
 */
import type { ErrorMessage, RegistrationId, RequestId, SessionId, Yield } from '@switchboard/schemas';
import { ErrorUri, MessageCode, isMatchPolicy, parseMessage, toWire } from '@switchboard/schemas';
import type { MatchPolicy } from '@switchboard/schemas';
import type { Endpoint } from '../core/endpoint.js';
import { LIMIT_EXCEEDED } from '../core/outcome.js';

/** An INVOCATION relayed from another node to a session here. */
interface Relay {
  from: string;
  /** The INVOCATION request ID the caller's node gave. */
  origin: RequestId;
}

/** What relaying needs of its realm. */
export interface RelayRealm {
  readonly sessions: ReadonlyMap<SessionId, Endpoint>;
  /** The registration of `procedure` under `match` here, with its callees. */
  registrationOf(
    procedure: string,
    match: MatchPolicy,
  ): { readonly id: RegistrationId; readonly callees: readonly { readonly session: Endpoint }[] } | undefined;
  /** A fresh INVOCATION request ID for `session`, unused by this node's own calls. */
  reserveInvocationId(session: Endpoint): RequestId;
}

/** Sends a WAMP message (as its wire array) to the caller's node, for session `session` there; false when NATS does not take it. */
export type AnswerToNode = (node: string, session: SessionId, wire: unknown[]) => boolean;

export class InvocationRelays {
  /** Invocations relayed to sessions here: by session, by the request ID given here. */
  readonly #relays = new Map<Endpoint, Map<RequestId, Relay>>();
  /** `from/session/origin` → the request ID given here (progressive call invocations, INTERRUPT). */
  readonly #ids = new Map<string, RequestId>();

  constructor(
    readonly realm: RelayRealm,
    readonly answer: AnswerToNode,
    readonly warn: (fields: Record<string, unknown>, message: string) => void = () => undefined,
  ) {}

  /** How many invocations are relayed now (tests, diagnostics). */
  get size(): number {
    return this.#ids.size;
  }

  /** An INVOCATION, INTERRUPT or ERROR from node `from` for session `id` here. */
  toCallee(from: string, id: SessionId, match: string, procedure: string, wire: unknown[]): void {
    const msg = parseMessage(wire);
    const session = this.realm.sessions.get(id);
    if (msg.code === MessageCode.Invocation) {
      const origin = msg.request;
      const refuse = (error: string, text: string): void => {
        this.answer(from, id, [MessageCode.Error, MessageCode.Invocation, origin, {}, error, [text]]);
      };
      if (session === undefined || !session.live) return refuse(ErrorUri.Canceled, 'callee left the realm before answering');
      // The caller's node saw an attached stand-in; the session here has no transport. [ap_session_resumption]
      if (session.attached === false) return refuse(ErrorUri.SessionUnattached, 'the callee is detached (its session may resume)');
      const registration = isMatchPolicy(match) ? this.realm.registrationOf(procedure, match) : undefined;
      if (registration === undefined || !registration.callees.some((c) => c.session === session))
        return refuse(ErrorUri.Canceled, 'callee no longer registered');
      const relayKey = `${from}/${id}/${origin}`;
      let local = this.#ids.get(relayKey);
      if (local === undefined) {
        local = this.realm.reserveInvocationId(session);
        this.#ids.set(relayKey, local);
        let relays = this.#relays.get(session);
        if (relays === undefined) this.#relays.set(session, (relays = new Map()));
        relays.set(local, { from, origin });
      }
      session.send({ ...msg, request: local, registration: registration.id });
      return;
    }
    if (session === undefined) return;
    if (msg.code === MessageCode.Interrupt || (msg.code === MessageCode.Error && msg.requestType === MessageCode.Invocation)) {
      const relayKey = `${from}/${id}/${msg.request}`;
      const local = this.#ids.get(relayKey);
      if (local === undefined) return;
      session.send({ ...msg, request: local });
      // After killnowait or an ERROR the caller's node has closed the call: later answers go nowhere.
      if (msg.code === MessageCode.Error || msg.options['mode'] !== 'kill') this.#end(session, local, relayKey);
    }
  }

  /** A YIELD or ERROR the realm's dealer does not know: true when it answers a relayed invocation. */
  takeAnswer(session: Endpoint, msg: Yield | ErrorMessage): boolean {
    const relay = this.#relays.get(session)?.get(msg.request);
    if (relay === undefined) return false;
    const final = !(msg.code === MessageCode.Yield && msg.options['progress'] === true);
    const relayKey = `${relay.from}/${session.id}/${relay.origin}`;
    if (final) this.#end(session, msg.request, relayKey);
    if (this.answer(relay.from, session.id, toWire({ ...msg, request: relay.origin }))) return true;
    // Not relayed (larger than any node takes, or NATS closed): the caller gets a small ERROR
    // instead of waiting for its timeout, when NATS takes that; the call ends here either way.
    this.warn({ session: session.id, node: relay.from }, "cluster: a callee's answer could not be relayed to the caller's node; it gets an ERROR");
    if (!final) this.#end(session, msg.request, relayKey);
    this.answer(relay.from, session.id, [
      MessageCode.Error,
      MessageCode.Invocation,
      relay.origin,
      {},
      LIMIT_EXCEEDED,
      ["the callee's answer could not be relayed to the caller's node (larger than cluster.maxReassemblyBytes, or NATS unavailable)"],
    ]);
    return true;
  }

  /** A callee left: the callers' nodes answer wamp.error.canceled. */
  left(session: Endpoint): void {
    this.#endAll(session, ErrorUri.Canceled, 'callee left the realm before answering');
  }

  /**
   * A callee detached (session resumption): the invocations relayed to it end, the callers' nodes
   * answer wamp.error.session_unattached, as for this node's own calls (calls.ts). Its late
   * answers find no relay and are dropped. [ap_session_resumption]
   */
  detached(session: Endpoint): void {
    this.#endAll(session, ErrorUri.SessionUnattached, 'the callee detached before answering');
  }

  #endAll(session: Endpoint, error: string, text: string): void {
    const relays = this.#relays.get(session);
    if (relays === undefined) return;
    this.#relays.delete(session);
    for (const [, relay] of relays) {
      this.#ids.delete(`${relay.from}/${session.id}/${relay.origin}`);
      this.answer(relay.from, session.id, [MessageCode.Error, MessageCode.Invocation, relay.origin, {}, error, [text]]);
    }
  }

  /** Callers on a node that is gone will not hear back: their invocations here are interrupted. */
  nodeGone(node: string): void {
    for (const [session, relays] of this.#relays) {
      for (const [local, relay] of relays) {
        if (relay.from !== node) continue;
        this.#end(session, local, `${relay.from}/${session.id}/${relay.origin}`);
        if (session.supports('callee', 'call_canceling'))
          session.send({ code: MessageCode.Interrupt, request: local, options: { mode: 'killnowait', reason: ErrorUri.Canceled } });
      }
    }
  }

  #end(session: Endpoint, local: RequestId, relayKey: string): void {
    this.#ids.delete(relayKey);
    const relays = this.#relays.get(session);
    relays?.delete(local);
    if (relays?.size === 0) this.#relays.delete(session);
  }
}
