/**
 * The SUBSCRIBE `history` option's pure parts: the hold of a subscription's live EVENTs
 * (core/hold.ts), the option's check, the realm's one catch-up source (realm-hooks.ts) and the
 * bounds of a catch-up (read time, held events) on a Realm with fake sessions and fake timers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ErrorMessage, PublicationId, RequestId, SessionId, Subscribe, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import type { Allowed } from '../../src/auth/gate.js';
import type { Endpoint, Hold, HoldLimits, SendOutcome, SharedEvent } from '../../src/core/endpoint.js';
import { HeldEvents } from '../../src/core/hold.js';
import type { HeldEventsOutput } from '../../src/core/hold.js';
import { Pause } from '../../src/core/pause.js';
import { DEFAULT_REALM_LIMITS } from '../../src/limits.js';
import type { RealmLimits } from '../../src/limits.js';
import { silentLogger } from '../../src/log.js';
import { Realm } from '../../src/realm.js';
import type { CatchUpSource } from '../../src/realm-hooks.js';
import { catchUpRequest } from '../../src/realm/pubsub.js';
import { RouterStats } from '../../src/stats.js';

afterEach(() => {
  vi.useRealTimers();
});

function shared(publication: number, subscription = 1): SharedEvent {
  return {
    subscription: subscription as SubscriptionId,
    publication: publication as PublicationId,
    frame: () => null,
    message: () => ({ code: MessageCode.Event, subscription: subscription as SubscriptionId, publication: publication as PublicationId, details: {} }),
  };
}

/** A hold's output that records what it sends (`*` marks a copy with history_gap) and counts 10 bytes an event. */
function output(): HeldEventsOutput & { sent: string[]; ended: number } {
  const out = {
    sent: [] as string[],
    ended: 0,
    bytes: () => 10,
    send: (e: SharedEvent, gap: boolean) => void out.sent.push(`${e.publication}${gap ? '*' : ''}`),
    done: () => void out.ended++,
  };
  return out;
}

const WIDE: HoldLimits = { maxEvents: 10, maxBytes: 1000 };

describe('HeldEvents', () => {
  it('releases what it holds in order, less the skipped publications, once; then it is over', () => {
    const out = output();
    const hold = new HeldEvents(WIDE, out);
    for (const p of [1, 2, 3, 4]) hold.add(shared(p));
    expect(hold.holds(3 as PublicationId)).toBe(true);
    expect(hold.holds(9 as PublicationId)).toBe(false);
    hold.release(new Set([2, 3] as PublicationId[]));
    expect(out.sent).toEqual(['1', '4']);
    expect(out.ended).toBe(1);
    hold.release(new Set());
    hold.drop();
    hold.add(shared(5));
    expect(out.sent).toEqual(['1', '4']);
    expect(out.ended).toBe(1);
  });

  it('past its count bound it lets go of what it held and says so', () => {
    const out = output();
    const hold = new HeldEvents({ maxEvents: 2, maxBytes: 1000 }, out);
    hold.add(shared(1));
    hold.add(shared(2));
    expect(hold.overflow).toBeUndefined();
    hold.add(shared(3));
    expect(hold.overflow).toBe('events');
    expect(hold.holds(1 as PublicationId)).toBe(false);
    hold.release(new Set());
    expect(out.sent).toEqual([]);
  });

  it('past its byte bound it lets go of what it held and says so', () => {
    const out = output();
    const hold = new HeldEvents({ maxEvents: 100, maxBytes: 25 }, out);
    hold.add(shared(1));
    hold.add(shared(2));
    expect(hold.overflow).toBeUndefined();
    hold.add(shared(3));
    expect(hold.overflow).toBe('bytes');
    expect(hold.holds(2 as PublicationId)).toBe(false);
    hold.release(new Set());
    expect(out.sent).toEqual([]);
  });

  it('of a subscription the session already had, past a bound it sends what it held (and the event past it) and stops holding', () => {
    const out = output();
    const hold = new HeldEvents({ maxEvents: 2, maxBytes: 1000, existing: true }, out);
    hold.add(shared(1));
    hold.add(shared(2));
    expect(out.sent).toEqual([]);
    hold.add(shared(3));
    expect(hold.overflow).toBe('events');
    expect(out.sent).toEqual(['1', '2', '3']);
    expect(out.ended).toBe(1);
    // Over: later events are the session's as usual, not the hold's.
    hold.add(shared(4));
    hold.release(new Set());
    expect(out.sent).toEqual(['1', '2', '3']);
  });

  it('drop sends nothing', () => {
    const out = output();
    const hold = new HeldEvents(WIDE, out);
    hold.add(shared(1));
    hold.drop();
    expect(out.sent).toEqual([]);
    expect(out.ended).toBe(1);
  });

  it('a gap goes on the first released event, only that one', () => {
    const out = output();
    const hold = new HeldEvents(WIDE, out);
    for (const p of [1, 2, 3]) hold.add(shared(p));
    hold.release(new Set([1] as PublicationId[]), true);
    expect(out.sent).toEqual(['2*', '3']);
    expect(out.ended).toBe(1);
  });

  it('a gap with nothing to release marks the next live event, once; then the hold is over', () => {
    const out = output();
    const hold = new HeldEvents(WIDE, out);
    hold.add(shared(1));
    hold.release(new Set([1] as PublicationId[]), true);
    expect(out.sent).toEqual([]);
    expect(hold.marking).toBe(true);
    expect(out.ended).toBe(0);
    hold.add(shared(2));
    expect(out.sent).toEqual(['2*']);
    expect(out.ended).toBe(1);
    expect(hold.marking).toBe(false);
    hold.add(shared(3));
    expect(out.sent).toEqual(['2*']);
  });

  it('a mark dropped (the session unsubscribed) flags nothing', () => {
    const out = output();
    const hold = new HeldEvents(WIDE, out);
    hold.release(new Set(), true);
    hold.drop();
    hold.add(shared(1));
    expect(out.sent).toEqual([]);
    expect(out.ended).toBe(1);
  });
});

describe('catchUpRequest (SUBSCRIBE.Options.history)', () => {
  it('is absent without the option, {after} or {last} clamped to the page size, else a refusal', () => {
    expect(catchUpRequest({}, 1000)).toBeUndefined();
    expect(catchUpRequest({ history: { after: 7 } }, 1000)).toEqual({ after: 7 });
    expect(catchUpRequest({ history: { last: 5 } }, 1000)).toEqual({ last: 5 });
    expect(catchUpRequest({ history: { last: 5000 } }, 1000)).toEqual({ last: 1000 });
    for (const bad of [0, {}, { last: 0 }, { after: 2 ** 53 }, { after: 1, last: 1 }, { first: 1 }, { last: '2' }, [], null]) {
      expect(catchUpRequest({ history: bad }, 1000), JSON.stringify(bad)).toMatchObject({ ok: false, error: ErrorUri.InvalidArgument });
    }
  });
});

let nextId = 0;

/** A joined session that keeps what it is sent and holds events as WampSession does. */
function endpoint(): Endpoint & { sent: WampMessage[] } {
  const sent: WampMessage[] = [];
  const holds = new Map<SubscriptionId, HeldEvents>();
  const self = {
    id: ++nextId as SessionId,
    identity: { authid: 'alice', authrole: 'user', authmethod: 'anonymous', authprovider: 'static' },
    authid: 'alice',
    authrole: 'user',
    membership: {},
    roles: {},
    transport: { type: 'test', protocol: 'wamp.2.json', peer: 'test:1' },
    serializer: 'json',
    live: true,
    attached: true,
    sent,
    supports: () => true,
    outboundRoom: Number.POSITIVE_INFINITY,
    send(msg: WampMessage): SendOutcome {
      sent.push(msg);
      return 'sent';
    },
    sendError(requestType: MessageCode, request: RequestId, error: string): void {
      sent.push({ code: MessageCode.Error, requestType, request, details: {}, error });
    },
    sendEvent(event: SharedEvent): SendOutcome {
      const hold = holds.get(event.subscription);
      if (hold !== undefined) hold.add(event);
      else sent.push(event.message());
      return 'sent';
    },
    hold(subscription: SubscriptionId, limits: HoldLimits): Hold {
      holds.get(subscription)?.drop();
      const hold = new HeldEvents(limits, {
        bytes: () => 100,
        send: (e, gap) => {
          const message = e.message();
          sent.push(gap ? { ...message, details: { ...message.details, history_gap: true } } : message);
        },
        done: (ended) => {
          if (holds.get(subscription) === ended) holds.delete(subscription);
        },
      });
      holds.set(subscription, hold);
      return hold;
    },
    unhold(subscription: SubscriptionId): void {
      holds.get(subscription)?.drop();
    },
    protocolViolation: () => undefined,
    abort: () => undefined,
    goodbye: () => undefined,
  };
  return self;
}

function realmWith(source: CatchUpSource | undefined, limits: Partial<RealmLimits> = {}): { realm: Realm; stats: RouterStats } {
  const stats = new RouterStats();
  const realm = new Realm({ name: 'realm1', uriCheck: 'loose', limits }, silentLogger(), undefined, stats);
  if (source !== undefined) realm.catchUp(source);
  return { realm, stats };
}

function subscribe(request: number, history: unknown): Subscribe {
  return { code: MessageCode.Subscribe, request: request as RequestId, options: { history }, topic: 'com.t' };
}

describe('a realm catching up a SUBSCRIBE', () => {
  it('has one catch-up source: a second is refused; WELCOME announces history_catch_up only with one', () => {
    const { realm } = realmWith(undefined);
    const identity = { authid: 'a', authrole: 'r', authmethod: 'anonymous', authprovider: 'static' };
    expect(realm.welcomeDetails(identity)['roles']).not.toHaveProperty('broker.features.history_catch_up');
    const remove = realm.catchUp(async () => ({ ok: true, events: [], gap: false }));
    expect(() => realm.catchUp(async () => ({ ok: true, events: [], gap: false }))).toThrow(/already has a catch-up source/);
    expect(realm.welcomeDetails(identity)['roles']).toHaveProperty('broker.features.history_catch_up', true);
    remove();
    expect(realm.welcomeDetails(identity)['roles']).not.toHaveProperty('broker.features.history_catch_up');
  });

  it(`a read that takes longer than limits.catchUpTimeoutMs (${DEFAULT_REALM_LIMITS.catchUpTimeoutMs} ms) fails the SUBSCRIBE with wamp.error.timeout and undoes the subscription`, async () => {
    vi.useFakeTimers();
    const CATCH_UP_TIMEOUT_MS = DEFAULT_REALM_LIMITS.catchUpTimeoutMs;
    const { realm } = realmWith(() => new Promise(() => undefined));
    const session = endpoint();
    realm.join(session);
    const handled = realm.pubsub.onSubscribe(session, subscribe(1, { last: 3 }));
    expect(handled).toBeInstanceOf(Pause);
    expect(realm.broker.match('com.t').length).toBe(1);
    await vi.advanceTimersByTimeAsync(CATCH_UP_TIMEOUT_MS - 1);
    expect(session.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await (handled as Pause).settled;
    expect(session.sent).toHaveLength(1);
    expect(session.sent[0]).toMatchObject({ code: MessageCode.Error, requestType: MessageCode.Subscribe, request: 1, error: ErrorUri.Timeout });
    expect(realm.broker.match('com.t')).toEqual([]);
  });

  it('more live events than limits.maxCatchUpEvents while the replay is read: ERROR limit_exceeded {limit, value}, counted, subscription undone', async () => {
    let answer!: () => void;
    const source: CatchUpSource = () => new Promise((resolve) => (answer = () => resolve({ ok: true, events: [], gap: false })));
    const limits = { maxCatchUpEvents: 2 } as Partial<RealmLimits>;
    const { realm, stats } = realmWith(source, limits);
    const session = endpoint();
    const publisher = endpoint();
    realm.join(session);
    realm.join(publisher);
    const handled = realm.pubsub.onSubscribe(session, subscribe(1, { after: 5 })) as Pause;
    const allowed: Allowed = { ok: true, disclose: false };
    for (let i = 0; i < 3; i++) realm.pubsub.publishAs(publisher, allowed, 'com.t', { args: [i] }, { exclude_me: false });
    answer();
    await handled.settled;
    expect(session.sent).toEqual([
      {
        code: MessageCode.Error,
        requestType: MessageCode.Subscribe,
        request: 1 as RequestId,
        details: {},
        error: 'switchboard.error.limit_exceeded',
        args: ['limit maxCatchUpEvents (2) reached'],
        kwargs: { limit: 'maxCatchUpEvents', value: 2 },
      } satisfies ErrorMessage,
    ]);
    expect(realm.broker.match('com.t')).toEqual([]);
    expect(stats.limitsExceeded.get('maxCatchUpEvents')).toBe(1);
  });

  it('more held bytes than limits.maxCatchUpBytes: ERROR limit_exceeded {limit: maxCatchUpBytes, value}, counted, subscription undone', async () => {
    let answer!: () => void;
    const source: CatchUpSource = () => new Promise((resolve) => (answer = () => resolve({ ok: true, events: [], gap: false })));
    // The fake session counts 100 bytes an event: the third goes past 250.
    const limits = { maxCatchUpBytes: 250 } as Partial<RealmLimits>;
    const { realm, stats } = realmWith(source, limits);
    const session = endpoint();
    const publisher = endpoint();
    realm.join(session);
    realm.join(publisher);
    const handled = realm.pubsub.onSubscribe(session, subscribe(1, { after: 5 })) as Pause;
    const allowed: Allowed = { ok: true, disclose: false };
    for (let i = 0; i < 3; i++) realm.pubsub.publishAs(publisher, allowed, 'com.t', { args: [i] }, { exclude_me: false });
    answer();
    await handled.settled;
    expect(session.sent).toEqual([
      {
        code: MessageCode.Error,
        requestType: MessageCode.Subscribe,
        request: 1 as RequestId,
        details: {},
        error: 'switchboard.error.limit_exceeded',
        args: ['limit maxCatchUpBytes (250) reached'],
        kwargs: { limit: 'maxCatchUpBytes', value: 250 },
      } satisfies ErrorMessage,
    ]);
    expect(realm.broker.match('com.t')).toEqual([]);
    expect(stats.limitsExceeded.get('maxCatchUpBytes')).toBe(1);
  });

  it('limits.catchUpTimeoutMs bounds the read', async () => {
    vi.useFakeTimers();
    const { realm } = realmWith(() => new Promise(() => undefined), { catchUpTimeoutMs: 50 });
    const session = endpoint();
    realm.join(session);
    const handled = realm.pubsub.onSubscribe(session, subscribe(1, { last: 3 })) as Pause;
    await vi.advanceTimersByTimeAsync(49);
    expect(session.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await handled.settled;
    expect(session.sent[0]).toMatchObject({ code: MessageCode.Error, request: 1, error: ErrorUri.Timeout });
  });

  it('a gap with nothing replayed goes on the first live EVENT, for that session only, once; an unsubscribe forgets it', async () => {
    const { realm } = realmWith(async () => ({ ok: true, events: [], gap: true }));
    const session = endpoint();
    const other = endpoint();
    const publisher = endpoint();
    for (const s of [session, other, publisher]) realm.join(s);
    realm.pubsub.onSubscribe(other, { code: MessageCode.Subscribe, request: 1 as RequestId, options: {}, topic: 'com.t' });
    await (realm.pubsub.onSubscribe(session, subscribe(1, { after: 5 })) as Pause).settled;
    expect(session.sent).toEqual([expect.objectContaining({ code: MessageCode.Subscribed, request: 1 })]);
    const allowed: Allowed = { ok: true, disclose: false };
    for (let i = 0; i < 2; i++) realm.pubsub.publishAs(publisher, allowed, 'com.t', { args: [i] }, {});
    const events = (peer: typeof session) => peer.sent.filter((m) => m.code === MessageCode.Event).map((m) => (m as { details: object }).details);
    expect(events(session)).toEqual([{ history_gap: true }, {}]);
    expect(events(other)).toEqual([{}, {}]);
    // Again, but the session unsubscribes before any live event: the mark goes with it.
    const subscription = (session.sent[0] as { subscription: SubscriptionId }).subscription;
    realm.pubsub.onUnsubscribe(session, { code: MessageCode.Unsubscribe, request: 2 as RequestId, subscription });
    await (realm.pubsub.onSubscribe(session, subscribe(3, { after: 5 })) as Pause).settled;
    realm.pubsub.onUnsubscribe(session, { code: MessageCode.Unsubscribe, request: 4 as RequestId, subscription });
    realm.pubsub.onSubscribe(session, { code: MessageCode.Subscribe, request: 5 as RequestId, options: {}, topic: 'com.t' });
    session.sent.length = 0;
    realm.pubsub.publishAs(publisher, allowed, 'com.t', { args: [9] }, {});
    expect(events(session)).toEqual([{}]);
  });

  it('a source that throws costs that SUBSCRIBE (wamp.error.internal_error), not the realm', async () => {
    const { realm } = realmWith(() => {
      throw new Error('bug');
    });
    const session = endpoint();
    realm.join(session);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const handled = realm.pubsub.onSubscribe(session, subscribe(1, { last: 1 })) as Pause;
    await handled.settled;
    expect(session.sent[0]).toMatchObject({ code: MessageCode.Error, request: 1, error: 'wamp.error.internal_error' });
    expect(errors).toHaveBeenCalled();
    errors.mockRestore();
  });
});
