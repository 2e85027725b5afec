/**
 * A catch-up source for tests of the SUBSCRIBE `history` option (router/src/realm/pubsub.ts),
 * installed as an embedder's realm plugin: it records every publication of realm1 a session made
 * (in memory, as it is delivered) and answers `{after}`/`{last}` from that list. A test can make
 * reads wait (`pause`) to publish while a catch-up is pending, learn when a read started
 * (`reading`), make the source refuse, and choose whether a read sees what was published while it
 * waited (`snapshot: 'late'`, as a store read after flush does) or only what was there when it
 * was asked (`'early'`: those events then come from the router's hold).
 */
import type { CatchUpReplay, CatchUpRequest, Outcome, RealmPlugin, ReplayEvent } from '@switchboard/router';

export class TestHistory implements RealmPlugin {
  readonly name = 'test-history';
  /** Publications recorded, oldest first. */
  readonly events: ReplayEvent[] = [];
  /** Reads asked so far. */
  reads = 0;
  /** When a read takes its events: after the pause (`late`, the default) or when asked (`early`). */
  snapshot: 'early' | 'late' = 'late';
  /** Set: every read is refused with this error. */
  refuse: string | undefined;
  #gate: Promise<void> | undefined;
  #onRead: (() => void) | undefined;

  constructor(
    /** Topics the source keeps (others are refused with wamp.error.history_unavailable, as the history plugin does). */
    readonly keeps: (topic: string) => boolean = () => true,
  ) {}

  /** Reads wait until the function returned is called. */
  pause(): () => void {
    let release!: () => void;
    this.#gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.#gate = undefined;
      release();
    };
  }

  /** Resolves when the next read is asked. */
  reading(): Promise<void> {
    return new Promise<void>((resolve) => (this.#onRead = resolve));
  }

  install: RealmPlugin['install'] = (realm, context) => {
    if (realm.name !== 'realm1') return;
    context.observe({
      onPublished: (plan, details, args, kwargs, origin) => {
        if (origin.kind !== 'session' || !this.keeps(plan.topic)) return;
        this.events.push({ publication: plan.publication, topic: plan.topic, details: { ...details }, args, kwargs });
      },
    });
    context.catchUp(async (_session, subscription, request) => {
      this.reads++;
      const onRead = this.#onRead;
      this.#onRead = undefined;
      onRead?.();
      const covered = subscription.match === 'prefix' ? (t: string) => t.startsWith(subscription.topic) : (t: string) => t === subscription.topic;
      const early = this.snapshot === 'early' ? this.events.filter((e) => covered(e.topic)) : undefined;
      await this.#gate;
      if (this.refuse !== undefined) return { ok: false, error: this.refuse, message: 'refused by the test' };
      if (!this.keeps(subscription.topic)) return { ok: false, error: 'wamp.error.history_unavailable', message: `no history for '${subscription.topic}'` };
      return replay(early ?? this.events.filter((e) => covered(e.topic)), request);
    });
  };
}

function replay(events: ReplayEvent[], request: CatchUpRequest): Outcome<CatchUpReplay> {
  if ('last' in request) return { ok: true, events: events.slice(-request.last), gap: false };
  const at = events.findIndex((e) => e.publication === request.after);
  return at < 0 ? { ok: true, events, gap: true } : { ok: true, events: events.slice(at + 1), gap: false };
}
