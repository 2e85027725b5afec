/**
 * Dealer unit tests: pure, no sockets. Sessions are plain objects; registration IDs and the clock
 * are injected where a test needs to pin them.
 */
import { describe, expect, it } from 'vitest';
import type { RegistrationId, RequestId, SessionId } from '@switchboard/schemas';
import { ErrorUri } from '@switchboard/schemas';
import { Dealer } from '@switchboard/router';
import type { CallOutcome, PendingCall, RegisterOutcome, Registration } from '@switchboard/router';

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

function routed<S>(outcome: CallOutcome<S>): PendingCall<S> {
  if (!outcome.ok) throw new Error(`expected a routed call, got ${outcome.error}`);
  return outcome.call;
}

describe('Dealer.register', () => {
  it('registers a procedure for its callee', () => {
    const dealer = new Dealer<FakeSession>();
    const callee = session('callee');
    const registration = registered(dealer.register(callee, 'com.example.add'));
    expect(registration).toMatchObject({ procedure: 'com.example.add', match: 'exact', invoke: 'single', callee });
    expect(dealer.lookup('com.example.add')).toBe(registration);
    expect(dealer.getRegistration(registration.id)).toBe(registration);
    expect(dealer.registrationCount).toBe(1);
  });

  it('refuses a second registration of the same procedure with wamp.error.procedure_already_exists', () => {
    const dealer = new Dealer<FakeSession>();
    const [first, second] = [session('first'), session('second')];
    const registration = registered(dealer.register(first, 'com.example.add'));

    expect(dealer.register(second, 'com.example.add')).toEqual({ ok: false, error: 'wamp.error.procedure_already_exists' });
    // The same callee registering again is refused too.
    expect(dealer.register(first, 'com.example.add')).toEqual({ ok: false, error: ErrorUri.ProcedureAlreadyExists });
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

    expect(dealer.unregister(callee, registration.id)).toBe(registration);
    expect(dealer.lookup('com.example.add')).toBeUndefined();
    expect(dealer.getRegistration(registration.id)).toBeUndefined();
    expect(dealer.registrationCount).toBe(0);
    expect(dealer.call(session(), req(1), 'com.example.add')).toEqual({ ok: false, error: ErrorUri.NoSuchProcedure });
    expect(registered(dealer.register(session(), 'com.example.add')).id).not.toBe(registration.id);
  });

  it('returns undefined for a non-owner and keeps the registration', () => {
    const dealer = new Dealer<FakeSession>();
    const [owner, other] = [session('owner'), session('other')];
    const registration = registered(dealer.register(owner, 'com.example.add'));
    dealer.register(other, 'com.example.other');

    expect(dealer.unregister(other, registration.id)).toBeUndefined();
    expect(dealer.lookup('com.example.add')).toBe(registration);
    expect(routed(dealer.call(other, req(1), 'com.example.add')).callee).toBe(owner);
  });

  it('returns undefined for an unknown ID and for a second unregister', () => {
    const dealer = new Dealer<FakeSession>();
    const callee = session();
    const registration = registered(dealer.register(callee, 'com.example.add'));
    expect(dealer.unregister(callee, 12345 as RegistrationId)).toBeUndefined();
    expect(dealer.unregister(callee, registration.id)).toBe(registration);
    expect(dealer.unregister(callee, registration.id)).toBeUndefined();
  });
});

describe('Dealer.call', () => {
  it('answers a call to an unknown procedure with wamp.error.no_such_procedure', () => {
    const dealer = new Dealer<FakeSession>();
    dealer.register(session(), 'com.example.add');
    expect(dealer.call(session(), req(1), 'com.example.sub')).toEqual({ ok: false, error: 'wamp.error.no_such_procedure' });
  });

  it('routes a call to the callee with everything needed to answer it', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session('caller'), session('callee')];
    const registration = registered(dealer.register(callee, 'com.example.add'));

    const call = routed(dealer.call(caller, req(7), 'com.example.add'));

    expect(call).toEqual({ caller, callRequest: 7, callee, invocationRequest: 1, registration });
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
      order.push([call.callee.name, call.invocationRequest]);
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
    dealer.settle(callee, first.invocationRequest);
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

describe('Dealer.settle and wasIssued', () => {
  it('returns the pending call once, then undefined', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    const call = routed(dealer.call(caller, req(1), 'p'));

    expect(dealer.settle(callee, call.invocationRequest)).toBe(call);
    expect(dealer.pendingInvocations(callee)).toBe(0);
    expect(dealer.settle(callee, call.invocationRequest)).toBeUndefined();
  });

  it('returns undefined for an invocation ID of another callee, or one never issued', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, calleeA, calleeB] = [session(), session(), session()];
    dealer.register(calleeA, 'a');
    dealer.register(calleeB, 'b');
    const call = routed(dealer.call(caller, req(1), 'a'));

    expect(dealer.settle(calleeB, call.invocationRequest)).toBeUndefined();
    expect(dealer.settle(calleeA, req(2))).toBeUndefined();
    expect(dealer.settle(caller, call.invocationRequest)).toBeUndefined();
    expect(dealer.settle(calleeA, call.invocationRequest)).toBe(call);
  });

  it('settles calls out of order', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    const calls = [1, 2, 3].map((n) => routed(dealer.call(caller, req(n), 'p')));
    expect(dealer.settle(callee, req(2))).toBe(calls[1]);
    expect(dealer.settle(callee, req(3))).toBe(calls[2]);
    expect(dealer.settle(callee, req(1))).toBe(calls[0]);
  });

  it('wasIssued: true for every issued ID (settled or not), false for 0, negatives and IDs past the last', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee, other] = [session(), session(), session()];
    dealer.register(callee, 'p');
    expect(dealer.wasIssued(callee, 1)).toBe(false); // nothing issued yet
    routed(dealer.call(caller, req(1), 'p'));
    routed(dealer.call(caller, req(2), 'p'));
    routed(dealer.call(caller, req(3), 'p'));
    dealer.settle(callee, req(2));

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
    expect(dealer.removeSession(session())).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [] });
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
    dealer.settle(callee, settled.invocationRequest);
    const elsewhere = routed(dealer.call(caller1, req(3), 'com.example.keep'));

    const removal = dealer.removeSession(callee);

    expect(removal.registrations).toEqual([add, mul]);
    // The callers must be answered with wamp.error.canceled; the settled call is not among them.
    expect(removal.orphanedCalls).toEqual([call1, call2]);
    expect(removal.abandonedCalls).toEqual([]);
    expect(dealer.lookup('com.example.add')).toBeUndefined();
    expect(dealer.lookup('com.example.mul')).toBeUndefined();
    expect(dealer.getRegistration(add.id)).toBeUndefined();
    expect(dealer.registrationCount).toBe(1);
    expect(dealer.lookup('com.example.keep')).toBe(keep);
    expect(dealer.call(caller1, req(4), 'com.example.add')).toEqual({ ok: false, error: ErrorUri.NoSuchProcedure });

    // The procedure can be registered again, by anyone.
    const again = registered(dealer.register(session('new'), 'com.example.add'));
    expect(again.id).not.toBe(add.id);

    // The orphaned calls are gone from their callers too: a caller leaving later abandons only
    // the call still pending elsewhere.
    expect(dealer.removeSession(caller2)).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [] });
    expect(dealer.removeSession(caller1).abandonedCalls).toEqual([elsewhere]);
  });

  it('callee leaving: a late answer from it settles nothing', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    const call = routed(dealer.call(caller, req(1), 'p'));
    dealer.removeSession(callee);
    expect(dealer.settle(callee, call.invocationRequest)).toBeUndefined();
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

    expect(removal).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [mine1, mine2] });
    // The late YIELD is recognised as issued (no protocol violation) and dropped.
    expect(dealer.wasIssued(callee, mine1.invocationRequest)).toBe(true);
    expect(dealer.settle(callee, mine1.invocationRequest)).toBeUndefined();
    expect(dealer.settle(callee, mine2.invocationRequest)).toBeUndefined();
    // Other callers' calls are untouched.
    expect(dealer.pendingInvocations(callee)).toBe(1);
    expect(dealer.settle(callee, theirs.invocationRequest)).toBe(theirs);
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
    expect(selfCall.callee).toBe(self);

    const removal = dealer.removeSession(self);

    // Nobody is left to tell about the self-call: it is neither orphaned nor abandoned.
    expect(removal.registrations).toEqual([registration]);
    expect(removal.orphanedCalls).toEqual([external]);
    expect(removal.abandonedCalls).toEqual([]);
    expect(dealer.settle(self, selfCall.invocationRequest)).toBeUndefined();
    expect(dealer.lookup('com.example.echo')).toBeUndefined();
    expect(dealer.removeSession(caller)).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [] });
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
    expect(dealer.settle(callee, out.invocationRequest)).toBeUndefined();
    expect(dealer.pendingInvocations(callee)).toBe(0);
  });

  it('removing a session twice returns nothing the second time', () => {
    const dealer = new Dealer<FakeSession>();
    const [caller, callee] = [session(), session()];
    dealer.register(callee, 'p');
    dealer.call(caller, req(1), 'p');
    expect(dealer.removeSession(callee).orphanedCalls).toHaveLength(1);
    expect(dealer.removeSession(callee)).toEqual({ registrations: [], orphanedCalls: [], abandonedCalls: [] });
  });
});
