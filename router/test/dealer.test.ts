/**
 * Dealer unit tests: pure, no sockets. Sessions are plain objects; registration IDs and the clock
 * are injected where a test needs to pin them.
 */
import { describe, expect, it } from 'vitest';
import type { RegistrationId, RequestId, SessionId } from '@switchboard/schemas';
import { ErrorUri } from '@switchboard/schemas';
import { refusal } from '../src/core/outcome.js';
import { Dealer } from '../src/dealer/dealer.js';
import type { CallOutcome, PendingCall, RegisterOutcome, Registration } from '../src/dealer/dealer.js';
// Not (yet) re-exported by the package entry point.
import type { InvocationPolicy, RegisterOptions } from '../src/dealer/dealer.js';

interface FakeSession {
  readonly id: SessionId;
  readonly name: string;
}

let nextSession = 0;
function session(name = 'session'): FakeSession {
  nextSession += 1;
  return { id: nextSession as SessionId, name };
}

const req = (n: number): RequestId => n as RequestId;

function registered<S>(outcome: RegisterOutcome<S>): Registration<S> {
  if (!outcome.ok) throw new Error(`expected a registration, got ${outcome.error}`);
  return outcome.registration;
}

function refused<S>(outcome: RegisterOutcome<S>): { error: string; message: string } {
  if (outcome.ok) throw new Error(`expected a refusal, got registration ${outcome.registration.id}`);
  return { error: outcome.error, message: outcome.message };
}

function routed<S>(outcome: CallOutcome<S>): PendingCall<S> {
  if (!outcome.ok) throw new Error(`expected a routed call, got ${outcome.error}`);
  return outcome.call;
}

/**
 * What the call owner (calls.ts) does with a callee's final answer: finds the call by the
 * callee's invocation request and ends it. Undefined when it was no longer pending (the answer is dropped).
 */
function settle<S extends { readonly id: SessionId }>(dealer: Dealer<S>, callee: S, invocationRequest: RequestId): PendingCall<S> | undefined {
  const call = dealer.pendingInvocation(callee, invocationRequest);
  if (call !== undefined) dealer.end(call);
  return call;
}

describe('Dealer.register', () => {
  it('registers a procedure for its callee', () => {
    const dealer = new Dealer<FakeSession>();
    const callee = session('callee');
    const registration = registered(dealer.register(callee, 'com.example.add'));
    expect(registration).toMatchObject({
      procedure: 'com.example.add',
      match: 'exact',
      invoke: 'single',
      callees: [{ session: callee, discloseCaller: false, forwardTimeout: false }],
    });
    expect(dealer.lookup('com.example.add')).toBe(registration);
    expect(dealer.getRegistration(registration.id)).toBe(registration);
    expect(dealer.registrationCount).toBe(1);
  });

  it('refuses a second registration of the same procedure with wamp.error.procedure_already_exists', () => {
    const dealer = new Dealer<FakeSession>();
    const [first, second] = [session('first'), session('second')];
    const registration = registered(dealer.register(first, 'com.example.add'));

    expect(refused(dealer.register(second, 'com.example.add')).error).toBe('wamp.error.procedure_already_exists');
    // The same callee registering again is refused too.
    expect(refused(dealer.register(first, 'com.example.add')).error).toBe(ErrorUri.ProcedureAlreadyExists);
    expect(dealer.lookup('com.example.add')).toBe(registration);
    expect(dealer.registrationCount).toBe(1);
  });

  it('uses the injected registration ID generator and clock', () => {
    let id = 40;
    let now = 1_000;
    const dealer = new Dealer<FakeSession>({
      registrationIds: { next: () => (id += 2) as RegistrationId },
      clock: () => (now += 7),
    });
    const callee = session();
    const one = registered(dealer.register(callee, 'a'));
    const two = registered(dealer.register(callee, 'b'));
    expect([one.id, one.created]).toEqual([42, 1_007]);
    expect([two.id, two.created]).toEqual([44, 1_014]);
  });

  it('does not draw a registration ID for a refused registration', () => {
    let drawn = 0;
    const dealer = new Dealer<FakeSession>({ registrationIds: { next: () => ++drawn as RegistrationId } });
    const callee = session();
    dealer.register(callee, 'a');
    dealer.register(callee, 'a');
    expect(drawn).toBe(1);
  });
});

describe('Dealer.unregister', () => {
  it('removes the registration for its owner and frees the procedure', () => {
    const dealer = new Dealer<FakeSession>();
    const callee = session();
    const registration = registered(dealer.register(callee, 'com.example.add'));

    expect(dealer.unregister(callee, registration.id)).toEqual({ registration, deleted: true });
    expect(dealer.lookup('com.example.add')).toBeUndefined();
    expect(dealer.getRegistration(registration.id)).toBeUndefined();
    expect(dealer.registrationCount).toBe(0);
    expect(dealer.call(session(), req(1), 'com.example.add')).toEqual(refusal(ErrorUri.NoSuchProcedure, "no callee registered for 'com.example.add'"));
    expect(registered(dealer.register(session(), 'com.example.add')).id).not.toBe(registration.id);
  });

  it('returns undefined for a non-owner and keeps the registration', () => {
    const dealer = new Dealer<FakeSession>();
    const [owner, other] = [session('owner'), session('other')];
    const registration = registered(dealer.register(owner, 'com.example.add'));
    dealer.register(other, 'com.example.other');

    expect(dealer.unregister(other, registration.id)).toBeUndefined();
    expect(dealer.lookup('com.example.add')).toBe(registration);
    expect(routed(dealer.call(other, req(1), 'com.example.add')).callee.session).toBe(owner);
  });

  it('returns undefined for an unknown ID and for a second unregister', () => {
    const dealer = new Dealer<FakeSession>();
    const callee = session();
    const registration = registered(dealer.register(callee, 'com.example.add'));
    expect(dealer.unregister(callee, 12345 as RegistrationId)).toBeUndefined();
    expect(dealer.unregister(callee, registration.id)).toEqual({ registration, deleted: true });
    expect(dealer.unregister(callee, registration.id)).toBeUndefined();
  });
});

describe('Dealer.call', () => {
  it('answers a call to an unknown procedure with wamp.error.no_such_procedure', () => {
    const dealer = new Dealer<FakeSession>();
    dealer.register(session(), 'com.example.add');
    expect(dealer.call(session(), req(1), 'com.example.sub')).toEqual(refusal(ErrorUri.NoSuchProcedure, "no callee registered for 'com.example.sub'"));
  });

  it('routes a call to the callee with everything needed to answer it', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session('caller'), session('callee')];
    const registration = registered(dealer.register(callee, 'com.example.add'));

    const call = routed(dealer.call(caller, req(7), 'com.example.add'));

    expect(call).toMatchObject({
      caller,
      callRequest: 7,
      callee: { session: callee, discloseCaller: false, forwardTimeout: false },
      invocationRequest: 1,
      registration,
      procedure: 'com.example.add',
      callerStreaming: false,
      receiveProgress: false,
      ended: undefined,
    });
    expect(dealer.pendingInvocations(callee)).toBe(1);
  });

  it('numbers invocations per callee from 1, each callee independently', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, calleeA, calleeB] = [session('caller'), session('A'), session('B')];
    dealer.register(calleeA, 'com.example.a1');
    dealer.register(calleeA, 'com.example.a2');
    dealer.register(calleeB, 'com.example.b');

    const order: [string, number][] = [];
    let request = 0;
    for (const procedure of ['com.example.a1', 'com.example.b', 'com.example.a2', 'com.example.a1', 'com.example.b', 'com.example.a1']) {
      const call = routed(dealer.call(caller, req(++request), procedure));
      order.push([call.callee.session.name, call.invocationRequest]);
    }

    // A's two procedures share A's one sequence; B counts on its own.
    expect(order).toEqual([
      ['A', 1],
      ['B', 1],
      ['A', 2],
      ['A', 3],
      ['B', 2],
      ['A', 4],
    ]);
  });

  it('keeps counting invocation IDs after calls settle (never reuses one)', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    const first = routed(dealer.call(caller, req(1), 'p'));
    settle(dealer, callee, first.invocationRequest);
    expect(routed(dealer.call(caller, req(2), 'p')).invocationRequest).toBe(2);
  });

  it('numbers invocations per callee regardless of which caller calls', () => {
    const dealer = new Dealer<FakeSession>();
    const [c1, c2, callee] = [session(), session(), session()];
    dealer.register(callee, 'p');
    expect(routed(dealer.call(c1, req(1), 'p')).invocationRequest).toBe(1);
    expect(routed(dealer.call(c2, req(1), 'p')).invocationRequest).toBe(2);
    expect(routed(dealer.call(c1, req(2), 'p')).invocationRequest).toBe(3);
  });
});

describe('Dealer answers (pendingInvocation, end) and wasIssued', () => {
  it('returns the pending call once, then undefined', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    const call = routed(dealer.call(caller, req(1), 'p'));

    expect(settle(dealer, callee, call.invocationRequest)).toBe(call);
    expect(dealer.pendingInvocations(callee)).toBe(0);
    expect(settle(dealer, callee, call.invocationRequest)).toBeUndefined();
  });

  it('returns undefined for an invocation ID of another callee, or one never issued', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, calleeA, calleeB] = [session(), session(), session()];
    dealer.register(calleeA, 'a');
    dealer.register(calleeB, 'b');
    const call = routed(dealer.call(caller, req(1), 'a'));

    expect(settle(dealer, calleeB, call.invocationRequest)).toBeUndefined();
    expect(settle(dealer, calleeA, req(2))).toBeUndefined();
    expect(settle(dealer, caller, call.invocationRequest)).toBeUndefined();
    expect(settle(dealer, calleeA, call.invocationRequest)).toBe(call);
  });

  it('settles calls out of order', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    const calls = [1, 2, 3].map((n) => routed(dealer.call(caller, req(n), 'p')));
    expect(settle(dealer, callee, req(2))).toBe(calls[1]);
    expect(settle(dealer, callee, req(3))).toBe(calls[2]);
    expect(settle(dealer, callee, req(1))).toBe(calls[0]);
  });

  it('wasIssued: true for every issued ID (settled or not), false for 0, negatives and IDs past the last', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee, other] = [session(), session(), session()];
    dealer.register(callee, 'p');
    expect(dealer.wasIssued(callee, 1)).toBe(false); // nothing issued yet
    routed(dealer.call(caller, req(1), 'p'));
    routed(dealer.call(caller, req(2), 'p'));
    routed(dealer.call(caller, req(3), 'p'));
    settle(dealer, callee, req(2));

    expect(dealer.wasIssued(callee, 1)).toBe(true);
    expect(dealer.wasIssued(callee, 2)).toBe(true); // settled: a late answer, not a violation
    expect(dealer.wasIssued(callee, 3)).toBe(true);
    expect(dealer.wasIssued(callee, 0)).toBe(false);
    expect(dealer.wasIssued(callee, -1)).toBe(false);
    expect(dealer.wasIssued(callee, 4)).toBe(false);
    expect(dealer.wasIssued(other, 1)).toBe(false); // per callee
    expect(dealer.wasIssued(caller, 1)).toBe(false);
  });
});

describe('Dealer.removeSession', () => {
  it('returns an empty removal for an unknown session', () => {
    const dealer = new Dealer<FakeSession>();
    expect(dealer.removeSession(session())).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [], ownCalls: [] });
  });

  it('callee leaving: returns its registrations and orphaned calls, and frees its procedures', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller1, caller2, callee, bystander] = [session('c1'), session('c2'), session('callee'), session('by')];
    const add = registered(dealer.register(callee, 'com.example.add'));
    const mul = registered(dealer.register(callee, 'com.example.mul'));
    const keep = registered(dealer.register(bystander, 'com.example.keep'));
    const call1 = routed(dealer.call(caller1, req(1), 'com.example.add'));
    const call2 = routed(dealer.call(caller2, req(1), 'com.example.mul'));
    const settled = routed(dealer.call(caller1, req(2), 'com.example.add'));
    settle(dealer, callee, settled.invocationRequest);
    const elsewhere = routed(dealer.call(caller1, req(3), 'com.example.keep'));

    const removal = dealer.removeSession(callee);

    expect(removal.registrations).toEqual([
      { registration: add, deleted: true },
      { registration: mul, deleted: true },
    ]);
    // The callers must be answered with wamp.error.canceled; the settled call is not among them.
    expect(removal.orphanedCalls).toEqual([call1, call2]);
    expect(removal.abandonedCalls).toEqual([]);
    expect(dealer.lookup('com.example.add')).toBeUndefined();
    expect(dealer.lookup('com.example.mul')).toBeUndefined();
    expect(dealer.getRegistration(add.id)).toBeUndefined();
    expect(dealer.registrationCount).toBe(1);
    expect(dealer.lookup('com.example.keep')).toBe(keep);
    expect(dealer.call(caller1, req(4), 'com.example.add')).toEqual(refusal(ErrorUri.NoSuchProcedure, "no callee registered for 'com.example.add'"));

    // The procedure can be registered again, by anyone.
    const again = registered(dealer.register(session('new'), 'com.example.add'));
    expect(again.id).not.toBe(add.id);

    // The orphaned calls are gone from their callers too: a caller leaving later abandons only
    // the call still pending elsewhere.
    expect(dealer.removeSession(caller2)).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [], ownCalls: [] });
    expect(dealer.removeSession(caller1).abandonedCalls).toEqual([elsewhere]);
  });

  it('callee leaving: a late answer from it settles nothing', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    const call = routed(dealer.call(caller, req(1), 'p'));
    dealer.removeSession(callee);
    expect(settle(dealer, callee, call.invocationRequest)).toBeUndefined();
    expect(dealer.pendingInvocations(callee)).toBe(0);
  });

  it('caller leaving: returns abandoned calls; the callee can still answer but settle drops it', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, other, callee] = [session('caller'), session('other'), session('callee')];
    dealer.register(callee, 'p');
    const mine1 = routed(dealer.call(caller, req(1), 'p'));
    const theirs = routed(dealer.call(other, req(1), 'p'));
    const mine2 = routed(dealer.call(caller, req(2), 'p'));

    const removal = dealer.removeSession(caller);

    expect(removal).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [mine1, mine2], ownCalls: [] });
    // The late YIELD is recognised as issued (no protocol violation) and dropped.
    expect(dealer.wasIssued(callee, mine1.invocationRequest)).toBe(true);
    expect(settle(dealer, callee, mine1.invocationRequest)).toBeUndefined();
    expect(settle(dealer, callee, mine2.invocationRequest)).toBeUndefined();
    // Other callers' calls are untouched.
    expect(dealer.pendingInvocations(callee)).toBe(1);
    expect(settle(dealer, callee, theirs.invocationRequest)).toBe(theirs);
    // The callee keeps its registration and its invocation sequence.
    const later = routed(dealer.call(other, req(2), 'p'));
    expect(later.invocationRequest).toBe(4);
    // The callee leaving later orphans only the live call, nothing of the departed caller's.
    expect(dealer.removeSession(callee).orphanedCalls).toEqual([later]);
  });

  it('a session that is both caller and callee of the same call (self-call) leaves cleanly', () => {
    const dealer = new Dealer<FakeSession>();
    const [self, caller] = [session('self'), session('caller')];
    const registration = registered(dealer.register(self, 'com.example.echo'));
    const selfCall = routed(dealer.call(self, req(1), 'com.example.echo'));
    const external = routed(dealer.call(caller, req(1), 'com.example.echo'));
    expect(selfCall.caller).toBe(self);
    expect(selfCall.callee.session).toBe(self);

    const removal = dealer.removeSession(self);

    // Nobody is left to tell about the self-call: it is neither orphaned nor abandoned, only
    // reported as the session's own (its timer must stop).
    expect(removal.registrations).toEqual([{ registration, deleted: true }]);
    expect(removal.orphanedCalls).toEqual([external]);
    expect(removal.abandonedCalls).toEqual([]);
    expect(removal.ownCalls).toEqual([selfCall]);
    expect(settle(dealer, self, selfCall.invocationRequest)).toBeUndefined();
    expect(dealer.lookup('com.example.echo')).toBeUndefined();
    expect(dealer.removeSession(caller)).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [], ownCalls: [] });
  });

  it('a session that calls itself and another callee: only the other call is abandoned', () => {
    const dealer = new Dealer<FakeSession>();
    const [self, callee] = [session('self'), session('callee')];
    dealer.register(self, 'mine');
    dealer.register(callee, 'theirs');
    routed(dealer.call(self, req(1), 'mine'));
    const out = routed(dealer.call(self, req(2), 'theirs'));

    const removal = dealer.removeSession(self);

    expect(removal.orphanedCalls).toEqual([]);
    expect(removal.abandonedCalls).toEqual([out]);
    expect(settle(dealer, callee, out.invocationRequest)).toBeUndefined();
    expect(dealer.pendingInvocations(callee)).toBe(0);
  });

  it('removing a session twice returns nothing the second time', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    dealer.call(caller, req(1), 'p');
    expect(dealer.removeSession(callee).orphanedCalls).toHaveLength(1);
    expect(dealer.removeSession(callee)).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [], ownCalls: [] });
  });
});

/** Registers and expects success; the outcome's `created` flag is checked by the caller when it matters. */
function join<S extends FakeSession>(dealer: Dealer<S>, callee: S, procedure: string, options: RegisterOptions = {}): Registration<S> {
  return registered(dealer.register(callee, procedure, options));
}

/** Who answers each of `count` calls to `procedure`. */
function picks(dealer: Dealer<FakeSession>, procedure: string, count: number): string[] {
  const caller = session('caller');
  return Array.from({ length: count }, (_, i) => routed(dealer.call(caller, req(i + 1), procedure)).callee.session.name);
}

/** An RNG returning the given values in turn, counting its draws; it fails the test when it runs dry. */
function scripted(values: number[]): { random: () => number; draws: number } {
  const rng = {
    draws: 0,
    random(): number {
      const value = values[rng.draws++];
      if (value === undefined) throw new Error('RNG drawn more often than expected');
      return value;
    },
  };
  return rng;
}

const NO_RANDOM = (): number => {
  throw new Error('the RNG is only for the random policy');
};

describe('Dealer.register: options and shared registrations', () => {
  // [ap_rpc_shared_registration]
  it('records the match and invocation policies, and each callee with its own options, in order', () => {
    let drawn = 0;
    const dealer = new Dealer<FakeSession>({ registrationIds: { next: () => ++drawn as RegistrationId } });
    const [a, b] = [session('a'), session('b')];

    const first = dealer.register(a, 'com.example.', { match: 'prefix', invoke: 'roundrobin', discloseCaller: true, forwardTimeout: true });
    const second = dealer.register(b, 'com.example.', { match: 'prefix', invoke: 'roundrobin' });

    if (!first.ok || !second.ok) throw new Error('expected both registrations to succeed');
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.registration).toBe(first.registration);
    expect(first.registration).toMatchObject({ id: 1, procedure: 'com.example.', match: 'prefix', invoke: 'roundrobin' });
    expect(first.registration.callees).toEqual([
      { session: a, discloseCaller: true, forwardTimeout: true },
      { session: b, discloseCaller: false, forwardTimeout: false },
    ]);
    expect(drawn).toBe(1); // joining draws no ID
    expect(dealer.registrationCount).toBe(1);
    expect([...dealer.registrations()]).toEqual([first.registration]);
    expect([...dealer.registrationsOf(b)]).toEqual([first.registration]);
    expect(dealer.lookup('com.example.', 'prefix')).toBe(first.registration);
    expect(dealer.lookup('com.example.')).toBeUndefined(); // no exact registration of that URI
  });

  it.each<[InvocationPolicy, InvocationPolicy, string]>([
    ['single', 'single', ErrorUri.ProcedureAlreadyExists],
    ['single', 'roundrobin', ErrorUri.ProcedureExistsWithDifferentInvocationPolicy],
    ['roundrobin', 'single', ErrorUri.ProcedureExistsWithDifferentInvocationPolicy],
    ['roundrobin', 'random', ErrorUri.ProcedureExistsWithDifferentInvocationPolicy],
    ['first', 'last', ErrorUri.ProcedureExistsWithDifferentInvocationPolicy],
    ['random', 'first', ErrorUri.ProcedureExistsWithDifferentInvocationPolicy],
  ])('refuses %s then %s with %s, changing nothing', (existing, requested, error) => {
    let drawn = 0;
    const dealer = new Dealer<FakeSession>({ registrationIds: { next: () => ++drawn as RegistrationId } });
    const registration = join(dealer, session('owner'), 'com.example.add', { invoke: existing });
    const other = session('other');

    const refusal = refused(dealer.register(other, 'com.example.add', { invoke: requested }));

    expect(refusal.error).toBe(error);
    expect(refusal.message).toContain('com.example.add');
    if (existing !== requested) expect(refusal.message).toContain(`'${existing}'`);
    expect(registration.callees).toHaveLength(1);
    expect(registration.invoke).toBe(existing);
    expect(dealer.registrationsOf(other).size).toBe(0);
    expect(drawn).toBe(1);
  });

  it.each<InvocationPolicy>(['roundrobin', 'random', 'first', 'last'])('lets callees share a %s registration', (invoke) => {
    const dealer = new Dealer<FakeSession>();
    const [a, b, c] = [session('a'), session('b'), session('c')];
    const registration = join(dealer, a, 'p', { invoke });
    expect(dealer.register(b, 'p', { invoke })).toEqual({ ok: true, registration, created: false });
    expect(dealer.register(c, 'p', { invoke })).toEqual({ ok: true, registration, created: false });
    expect(registration.callees.map((e) => e.session)).toEqual([a, b, c]);
  });

  it('refuses a session joining a shared registration it already holds', () => {
    const dealer = new Dealer<FakeSession>();
    const [a, b] = [session('a'), session('b')];
    const registration = join(dealer, a, 'p', { invoke: 'roundrobin' });
    join(dealer, b, 'p', { invoke: 'roundrobin' });
    const refusal = refused(dealer.register(a, 'p', { invoke: 'roundrobin' }));
    expect(refusal.error).toBe(ErrorUri.ProcedureAlreadyExists);
    expect(refusal.message).toContain("'p'");
    expect(registration.callees.map((e) => e.session)).toEqual([a, b]);
  });

  it('treats the same URI under another match policy as another registration', () => {
    const dealer = new Dealer<FakeSession>();
    const [a, b, c] = [session('a'), session('b'), session('c')];
    const exact = join(dealer, a, 'com.example');
    const prefix = join(dealer, b, 'com.example', { match: 'prefix' });
    const wildcard = join(dealer, c, 'com.example', { match: 'wildcard' });
    expect(new Set([exact.id, prefix.id, wildcard.id]).size).toBe(3);
    expect(dealer.lookup('com.example', 'exact')).toBe(exact);
    expect(dealer.lookup('com.example', 'prefix')).toBe(prefix);
    expect(dealer.lookup('com.example', 'wildcard')).toBe(wildcard);
    // The same session may hold a pattern and an exact registration of the same string.
    expect(dealer.register(a, 'com.example', { match: 'prefix', invoke: 'single' })).toMatchObject({ ok: false, error: ErrorUri.ProcedureAlreadyExists });
    expect(join(dealer, a, 'com.example.', { match: 'prefix' }).callees[0]?.session).toBe(a);
  });
});

describe('Dealer.resolve: which registration a call goes to', () => {
  // [ap_rpc_pattern_based_registration]
  it('prefers exact over prefix over wildcard, falling back as each goes away', () => {
    const dealer = new Dealer<FakeSession>();
    const [exactCallee, prefixCallee, wildcardCallee] = [session('exact'), session('prefix'), session('wildcard')];
    const exact = join(dealer, exactCallee, 'com.x.y');
    const prefix = join(dealer, prefixCallee, 'c', { match: 'prefix' }); // shortest possible, still beats the wildcard
    const wildcard = join(dealer, wildcardCallee, 'com.x.', { match: 'wildcard' });

    expect(dealer.resolve('com.x.y')).toBe(exact);
    expect(dealer.matches('com.x.y')).toEqual([exact, prefix, wildcard]);
    expect(routed(dealer.call(session(), req(1), 'com.x.y')).callee.session).toBe(exactCallee);

    dealer.unregister(exactCallee, exact.id);
    expect(dealer.resolve('com.x.y')).toBe(prefix);
    expect(routed(dealer.call(session(), req(1), 'com.x.y')).callee.session).toBe(prefixCallee);

    dealer.unregister(prefixCallee, prefix.id);
    expect(dealer.resolve('com.x.y')).toBe(wildcard);
    expect(routed(dealer.call(session(), req(1), 'com.x.y')).callee.session).toBe(wildcardCallee);

    dealer.removeSession(wildcardCallee);
    expect(dealer.resolve('com.x.y')).toBeUndefined();
    expect(dealer.matches('com.x.y')).toEqual([]);
    expect(dealer.call(session(), req(1), 'com.x.y')).toEqual(refusal(ErrorUri.NoSuchProcedure, "no callee registered for 'com.x.y'"));
  });

  it('picks the longest matching prefix (a plain string prefix)', () => {
    const dealer = new Dealer<FakeSession>();
    const callee = session();
    const com = join(dealer, callee, 'com', { match: 'prefix' });
    const example = join(dealer, callee, 'com.example', { match: 'prefix' });
    const ad = join(dealer, callee, 'com.example.ad', { match: 'prefix' });

    expect(dealer.resolve('com.example.add')).toBe(ad);
    expect(dealer.resolve('com.example.ad')).toBe(ad);
    expect(dealer.resolve('com.example.sub')).toBe(example);
    expect(dealer.resolve('com.examples')).toBe(example);
    expect(dealer.resolve('com.other')).toBe(com);
    expect(dealer.resolve('co')).toBeUndefined();
    expect(dealer.matches('com.example.add')).toEqual([ad, example, com]); // longest first
  });

  it('picks the most specific wildcard: the concrete component furthest left wins', () => {
    const dealer = new Dealer<FakeSession>();
    const callee = session();
    const early = join(dealer, callee, 'com.x.', { match: 'wildcard' });
    const late = join(dealer, callee, 'com..y', { match: 'wildcard' });
    const anyTwo = join(dealer, callee, '.x.y', { match: 'wildcard' });
    join(dealer, callee, 'com.x..', { match: 'wildcard' }); // four components: never matches com.x.y

    // For com.x.y both 'com.x.' and 'com..y' match; at the second component the concrete 'x' is
    // tried before the wildcard, so 'com.x.' wins. Position counts, not the number of concrete
    // components: 'com..y' (first component concrete) beats '.x.y' (two concrete, later).
    expect(dealer.resolve('com.x.y')).toBe(early);
    expect(dealer.matches('com.x.y')).toEqual([early, late, anyTwo]);
    expect(dealer.resolve('com.z.y')).toBe(late);
    expect(dealer.resolve('org.x.y')).toBe(anyTwo);
    expect(dealer.resolve('com.x.y.z')).not.toBe(early);
    expect(dealer.resolve('com.z.z')).toBeUndefined();
  });

  it('lists every match in precedence order: exact, prefixes longest first, wildcards most specific first', () => {
    const dealer = new Dealer<FakeSession>();
    const callee = session();
    const w1 = join(dealer, callee, '..add', { match: 'wildcard' });
    const p1 = join(dealer, callee, 'com', { match: 'prefix' });
    const e = join(dealer, callee, 'com.example.add');
    const w2 = join(dealer, callee, 'com..add', { match: 'wildcard' });
    const p2 = join(dealer, callee, 'com.example.', { match: 'prefix' });
    join(dealer, callee, 'org', { match: 'prefix' });
    expect(dealer.matches('com.example.add')).toEqual([e, p2, p1, w2, w1]);
  });

  it('tells the callee which procedure was called: the caller’s URI, not the pattern', () => {
    const dealer = new Dealer<FakeSession>();
    const registration = join(dealer, session(), 'com.example.', { match: 'prefix' });
    const call = routed(dealer.call(session(), req(1), 'com.example.add'));
    expect(call.registration).toBe(registration);
    expect(call.procedure).toBe('com.example.add');
    expect(call.registration.procedure).toBe('com.example.');
  });
});

describe('Dealer invocation policies', () => {
  it('single: the one callee answers every call, without the RNG', () => {
    const dealer = new Dealer<FakeSession>({ random: NO_RANDOM });
    join(dealer, session('a'), 'p');
    expect(picks(dealer, 'p', 3)).toEqual(['a', 'a', 'a']);
  });

  it('roundrobin: cycles through the callees in registration order, without the RNG', () => {
    const dealer = new Dealer<FakeSession>({ random: NO_RANDOM });
    for (const name of ['a', 'b', 'c']) join(dealer, session(name), 'p', { invoke: 'roundrobin' });
    expect(picks(dealer, 'p', 7)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('roundrobin: keeps cycling over whoever is left, and takes in newcomers', () => {
    const dealer = new Dealer<FakeSession>();
    const [a, b, c, d] = [session('a'), session('b'), session('c'), session('d')];
    const registration = join(dealer, a, 'p', { invoke: 'roundrobin' });
    join(dealer, b, 'p', { invoke: 'roundrobin' });
    join(dealer, c, 'p', { invoke: 'roundrobin' });
    expect(picks(dealer, 'p', 2)).toEqual(['a', 'b']);

    dealer.unregister(b, registration.id);
    const afterLeave = picks(dealer, 'p', 4);
    expect(afterLeave.filter((n) => n === 'a')).toHaveLength(2);
    expect(afterLeave.filter((n) => n === 'c')).toHaveLength(2);

    join(dealer, d, 'p', { invoke: 'roundrobin' });
    expect(new Set(picks(dealer, 'p', 3))).toEqual(new Set(['a', 'c', 'd']));
  });

  it('random: picks the callee the injected RNG points at, one draw per call', () => {
    const rng = scripted([0, 0.5, 0.99, 0.34, 0.67, 0.999_999]);
    const dealer = new Dealer<FakeSession>({ random: rng.random });
    for (const name of ['a', 'b', 'c']) join(dealer, session(name), 'p', { invoke: 'random' });
    // floor(r × 3): 0, 1, 2, 1, 2, 2
    expect(picks(dealer, 'p', 6)).toEqual(['a', 'b', 'c', 'b', 'c', 'c']);
    expect(rng.draws).toBe(6);
  });

  it('random: draws over the callees still there', () => {
    const rng = scripted([0.5, 0.5]);
    const dealer = new Dealer<FakeSession>({ random: rng.random });
    const [a, b, c] = [session('a'), session('b'), session('c')];
    join(dealer, a, 'p', { invoke: 'random' });
    join(dealer, b, 'p', { invoke: 'random' });
    join(dealer, c, 'p', { invoke: 'random' });
    expect(picks(dealer, 'p', 1)).toEqual(['b']); // floor(0.5 × 3)
    dealer.removeSession(b);
    expect(picks(dealer, 'p', 1)).toEqual(['c']); // floor(0.5 × 2) of [a, c]
  });

  it('first: the earliest callee answers; when it unregisters or leaves, the next one takes over', () => {
    const dealer = new Dealer<FakeSession>({ random: NO_RANDOM });
    const [a, b, c] = [session('a'), session('b'), session('c')];
    const registration = join(dealer, a, 'p', { invoke: 'first' });
    join(dealer, b, 'p', { invoke: 'first' });
    join(dealer, c, 'p', { invoke: 'first' });
    expect(picks(dealer, 'p', 2)).toEqual(['a', 'a']);

    expect(dealer.unregister(a, registration.id)).toEqual({ registration, deleted: false });
    expect(picks(dealer, 'p', 2)).toEqual(['b', 'b']);

    expect(dealer.removeSession(b).registrations).toEqual([{ registration, deleted: false }]);
    expect(picks(dealer, 'p', 1)).toEqual(['c']);

    // A newcomer joins at the end: it does not take over.
    join(dealer, a, 'p', { invoke: 'first' });
    expect(picks(dealer, 'p', 1)).toEqual(['c']);
  });

  it('last: the latest callee answers; a newcomer takes over, and on leaving hands back', () => {
    const dealer = new Dealer<FakeSession>({ random: NO_RANDOM });
    const [a, b, c, d] = [session('a'), session('b'), session('c'), session('d')];
    const registration = join(dealer, a, 'p', { invoke: 'last' });
    join(dealer, b, 'p', { invoke: 'last' });
    join(dealer, c, 'p', { invoke: 'last' });
    expect(picks(dealer, 'p', 2)).toEqual(['c', 'c']);

    join(dealer, d, 'p', { invoke: 'last' });
    expect(picks(dealer, 'p', 1)).toEqual(['d']);

    expect(dealer.unregister(d, registration.id)).toEqual({ registration, deleted: false });
    expect(picks(dealer, 'p', 1)).toEqual(['c']);

    expect(dealer.removeSession(c).registrations).toEqual([{ registration, deleted: false }]);
    expect(picks(dealer, 'p', 1)).toEqual(['b']);
  });
});

describe('Dealer shared registration lifecycle', () => {
  it('keeps the registration until its last callee leaves, reporting deleted only then', () => {
    const dealer = new Dealer<FakeSession>();
    const [a, b, c] = [session('a'), session('b'), session('c')];
    const registration = join(dealer, a, 'p', { invoke: 'roundrobin' });
    join(dealer, b, 'p', { invoke: 'roundrobin' });
    join(dealer, c, 'p', { invoke: 'roundrobin' });

    expect(dealer.unregister(a, registration.id)).toEqual({ registration, deleted: false });
    expect(dealer.unregister(a, registration.id)).toBeUndefined(); // a no longer holds it
    expect(dealer.registrationsOf(a).size).toBe(0);
    expect(dealer.getRegistration(registration.id)).toBe(registration);
    expect(dealer.lookup('p')).toBe(registration);

    expect(dealer.removeSession(b).registrations).toEqual([{ registration, deleted: false }]);
    expect(registration.callees.map((e) => e.session)).toEqual([c]);
    expect(dealer.resolve('p')).toBe(registration);

    expect(dealer.unregister(c, registration.id)).toEqual({ registration, deleted: true });
    expect(dealer.getRegistration(registration.id)).toBeUndefined();
    expect(dealer.lookup('p')).toBeUndefined();
    expect(dealer.registrationCount).toBe(0);
    expect(dealer.call(session(), req(1), 'p')).toEqual(refusal(ErrorUri.NoSuchProcedure, "no callee registered for 'p'"));

    // Registering again creates a new registration, with any policy.
    const again = dealer.register(a, 'p', { invoke: 'single' });
    expect(again).toMatchObject({ ok: true, created: true });
    if (again.ok) expect(again.registration.id).not.toBe(registration.id);
  });

  it('frees a pattern registration when its last callee leaves', () => {
    const dealer = new Dealer<FakeSession>();
    const [a, b] = [session('a'), session('b')];
    const prefix = join(dealer, a, 'com.', { match: 'prefix', invoke: 'last' });
    join(dealer, b, 'com.', { match: 'prefix', invoke: 'last' });
    const wildcard = join(dealer, a, 'com..y', { match: 'wildcard' });
    expect(dealer.removeSession(a).registrations).toEqual([
      { registration: prefix, deleted: false },
      { registration: wildcard, deleted: true },
    ]);
    expect(dealer.matches('com.x.y')).toEqual([prefix]);
    expect(dealer.removeSession(b).registrations).toEqual([{ registration: prefix, deleted: true }]);
    expect(dealer.resolve('com.x.y')).toBeUndefined();
    expect(dealer.lookup('com.', 'prefix')).toBeUndefined();
  });

  it('a callee leaving a shared registration orphans only the calls it was serving', () => {
    const dealer = new Dealer<FakeSession>();
    const [a, b, caller] = [session('a'), session('b'), session('caller')];
    join(dealer, a, 'p', { invoke: 'roundrobin' });
    join(dealer, b, 'p', { invoke: 'roundrobin' });
    const toA = routed(dealer.call(caller, req(1), 'p'));
    const toB = routed(dealer.call(caller, req(2), 'p'));
    expect([toA.callee.session, toB.callee.session]).toEqual([a, b]);

    expect(dealer.removeSession(a).orphanedCalls).toEqual([toA]);
    expect(dealer.pendingCall(caller, req(1))).toBeUndefined();
    expect(dealer.pendingCall(caller, req(2))).toBe(toB);
    expect(routed(dealer.call(caller, req(3), 'p')).callee.session).toBe(b);
  });
});

describe('Dealer call options and pending calls', () => {
  it('carries the chosen callee’s own disclose_caller and forward_timeout options on the pending call', () => {
    const dealer = new Dealer<FakeSession>();
    const [a, b] = [session('a'), session('b')];
    join(dealer, a, 'p', { invoke: 'roundrobin', discloseCaller: true });
    join(dealer, b, 'p', { invoke: 'roundrobin', forwardTimeout: true });
    const caller = session('caller');
    expect(routed(dealer.call(caller, req(1), 'p')).callee).toEqual({ session: a, discloseCaller: true, forwardTimeout: false });
    expect(routed(dealer.call(caller, req(2), 'p')).callee).toEqual({ session: b, discloseCaller: false, forwardTimeout: true });
  });

  it.each([
    [{}, false, false],
    [{ receiveProgress: true }, true, false],
    [{ progressive: true }, false, true],
    [{ receiveProgress: true, progressive: true }, true, true],
    [{ receiveProgress: false, progressive: false }, false, false],
  ])('carries the progress flags of CALL options %j', (options, receiveProgress, callerStreaming) => {
    const dealer = new Dealer<FakeSession>();
    join(dealer, session(), 'p');
    const call = routed(dealer.call(session(), req(1), 'p', options));
    expect(call.receiveProgress).toBe(receiveProgress);
    expect(call.callerStreaming).toBe(callerStreaming);
  });

  it('finds a call in flight from either side, as the same object', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee, other] = [session('caller'), session('callee'), session('other')];
    join(dealer, callee, 'p');
    const call = routed(dealer.call(caller, req(7), 'p', { progressive: true }));

    expect(dealer.pendingCall(caller, 7)).toBe(call);
    expect(dealer.pendingInvocation(callee, call.invocationRequest)).toBe(call);
    expect(dealer.pendingCall(caller, 8)).toBeUndefined();
    expect(dealer.pendingCall(callee, 7)).toBeUndefined();
    expect(dealer.pendingCall(other, 7)).toBeUndefined();
    expect(dealer.pendingInvocation(caller, call.invocationRequest)).toBeUndefined();
    expect(dealer.pendingInvocation(callee, call.invocationRequest + 1)).toBeUndefined();

    // The last progressive chunk clears callerStreaming on the one shared object.
    call.callerStreaming = false;
    expect(dealer.pendingInvocation(callee, call.invocationRequest)?.callerStreaming).toBe(false);
  });

  it('end() forgets the call on both sides; the invocation ID stays issued', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session('caller'), session('callee')];
    join(dealer, callee, 'p');
    const call = routed(dealer.call(caller, req(1), 'p'));
    const other = routed(dealer.call(caller, req(2), 'p'));

    dealer.end(call);

    expect(dealer.pendingCall(caller, 1)).toBeUndefined();
    expect(dealer.pendingInvocation(callee, call.invocationRequest)).toBeUndefined();
    expect(dealer.pendingInvocations(callee)).toBe(1);
    expect(settle(dealer, callee, call.invocationRequest)).toBeUndefined(); // a late YIELD is dropped
    expect(dealer.wasIssued(callee, call.invocationRequest)).toBe(true); // …not a protocol violation
    dealer.end(call); // twice: harmless
    expect(dealer.pendingCall(caller, 2)).toBe(other);

    // Neither side leaving reports the ended call.
    expect(dealer.removeSession(callee).orphanedCalls).toEqual([other]);
    expect(dealer.removeSession(caller).abandonedCalls).toEqual([]);
  });

  it('end() of an old call leaves alone a newer call that reuses its request ID', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session('caller'), session('callee')];
    join(dealer, callee, 'p');
    const old = routed(dealer.call(caller, req(1), 'p'));
    dealer.end(old);
    const newer = routed(dealer.call(caller, req(1), 'p'));

    dealer.end(old);

    expect(dealer.pendingCall(caller, 1)).toBe(newer);
    expect(dealer.pendingInvocation(callee, newer.invocationRequest)).toBe(newer);
  });
});
