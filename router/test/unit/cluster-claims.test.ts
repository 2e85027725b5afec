/**
 * Cluster-wide registration claims (cluster/registrations.ts) against an in-memory bucket with
 * compare-and-set, and the stand-ins they mirror — no NATS.
 */
import { describe, expect, it, vi } from 'vitest';
import type { KvEntry } from '@nats-io/kv';
import type { RegistrationId, SessionId } from '@switchboard/schemas';
import { ErrorUri } from '@switchboard/schemas';
import type { NodeLink } from '../../src/cluster/link.js';
import { ClusterNames } from '../../src/cluster/names.js';
import { RegistrationClaims } from '../../src/cluster/registrations.js';
import type { ClaimRealm } from '../../src/cluster/registrations.js';
import type { Registration } from '../../src/dealer/dealer.js';
import { RemoteCallees } from '../../src/cluster/stand-ins.js';
import type { RegistrationRecord } from '../../src/cluster/stand-ins.js';
import { refusal } from '../../src/core/outcome.js';
import { silentLogger } from '../../src/log.js';
import type { Endpoint } from '../../src/core/endpoint.js';

/** A KV bucket in memory: revisions, create/update at a revision, and a hook to lose a race. */
class MemoryBucket {
  readonly entries = new Map<string, { value: Uint8Array; revision: number }>();
  #revision = 0;
  /** Runs once before the next write: another node writing first. */
  before: (() => void) | undefined;
  down = false;

  async get(key: string): Promise<KvEntry | null> {
    if (this.down) throw new Error('NATS unreachable');
    const e = this.entries.get(key);
    return e === undefined ? null : ({ key, value: e.value, revision: e.revision, operation: 'PUT' } as unknown as KvEntry);
  }

  async keys(filter?: string): Promise<AsyncIterable<string>> {
    const prefix = filter?.replace(/>$/, '') ?? '';
    const keys = [...this.entries.keys()].filter((key) => key.startsWith(prefix));
    return (async function* () {
      yield* keys;
    })();
  }

  #race(): void {
    const before = this.before;
    this.before = undefined;
    before?.();
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.#race();
    if (this.entries.has(key)) throw new Error('wrong last sequence: 1');
    return this.put(key, value);
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.#race();
    if (this.entries.get(key)?.revision !== revision) throw new Error('wrong last sequence');
    return this.put(key, value);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.entries.set(key, { value, revision: ++this.#revision });
    return this.#revision;
  }

  async delete(key: string, options?: { previousSeq?: number }): Promise<void> {
    this.#race();
    if (options?.previousSeq !== undefined && this.entries.get(key)?.revision !== options.previousSeq) throw new Error('wrong last sequence');
    this.entries.delete(key);
  }

  record(key: string): RegistrationRecord | undefined {
    const e = this.entries.get(key);
    return e === undefined ? undefined : (JSON.parse(new TextDecoder().decode(e.value)) as RegistrationRecord);
  }
}

const KEY = 'realm1.exact.com.p';
const session = (id: number): Endpoint =>
  ({
    id: id as SessionId,
    roles: { callee: { features: { progressive_call_results: true } } },
    identity: { authid: `u${id}`, authrole: 'user', authmethod: 'anonymous', authprovider: 'static' },
  }) as unknown as Endpoint;
const options = { discloseCaller: false, forwardTimeout: false };

/** This node's dealer, as far as claims read it: registrations by procedure, and what was revoked. */
class FakeDealer {
  readonly byProcedure = new Map<string, Registration<Endpoint>>();
  readonly revoked: string[] = [];

  add(procedure: string, invoke: Registration<Endpoint>['invoke'], ...sessions: Endpoint[]): Registration<Endpoint> {
    const registration = {
      id: 1 as RegistrationId,
      procedure,
      match: 'exact',
      invoke,
      created: 0,
      callees: sessions.map((s) => ({ session: s, discloseCaller: false, forwardTimeout: false })),
    } as Registration<Endpoint>;
    this.byProcedure.set(procedure, registration);
    return registration;
  }

  realm(): ClaimRealm {
    return {
      name: 'realm1',
      registrations: () => this.byProcedure.values(),
      registration: (procedure) => this.byProcedure.get(procedure),
      revoke: (s, registration, reason) => {
        this.revoked.push(`${s.id} ${registration.procedure} ${reason}`);
        const index = registration.callees.findIndex((c) => c.session === s);
        if (index >= 0) registration.callees.splice(index, 1);
        if (registration.callees.length === 0) this.byProcedure.delete(registration.procedure);
      },
    };
  }
}

function setup(
  live = (node: string): boolean => node !== 'dead',
  dealer = new FakeDealer(),
): {
  claims: RegistrationClaims;
  bucket: MemoryBucket;
  standIns: RemoteCallees;
  registered: string[];
} {
  const bucket = new MemoryBucket();
  const node = {
    self: 'n1',
    incarnation: 1,
    names: new ClusterNames('sb'),
    log: silentLogger(),
    buckets: { registrations: bucket },
    isLive: (n: string) => live(n),
    presume: () => undefined,
    connected: () => !bucket.down,
    settled: () => !bucket.down,
  } as unknown as NodeLink;
  const registered: string[] = [];
  const standIns = new RemoteCallees(
    'n1',
    {
      register: (s, procedure) => {
        // A single registration here keeps a remote callee of the same URI out.
        if (dealer.byProcedure.get(procedure)?.invoke === 'single') return refusal(ErrorUri.ProcedureAlreadyExists, 'here');
        registered.push(`${s.id} ${procedure}`);
        return { ok: true, registration: { id: 1 as RegistrationId } };
      },
      unregister: () => undefined,
      drop: (s, reason) => void registered.push(`drop ${s.id}: ${reason}`),
      answer: () => undefined,
    },
    (_node, id) => session(id),
    (n) => live(n),
    () => undefined,
  );
  const claims = new RegistrationClaims(node, dealer.realm(), standIns);
  return { claims, bucket, standIns, registered };
}

const other = (n: string, id: number, policy: RegistrationRecord['policy'] = 'single'): RegistrationRecord => ({
  procedure: 'com.p',
  match: 'exact',
  policy,
  callees: [
    {
      node: n,
      inc: 1,
      session: id,
      authid: 'x',
      authrole: 'user',
      authmethod: 'anonymous',
      authprovider: 'static',
      features: {},
      disclose: false,
      forward: false,
    },
  ],
});
const bytes = (r: RegistrationRecord): Uint8Array => new TextEncoder().encode(JSON.stringify(r));

describe('RegistrationClaims', () => {
  it('claims a free key, refuses a second single claim and a different policy, shares a shared one', async () => {
    const { claims, bucket } = setup();
    expect(await claims.claim(session(1), 'com.p', 'exact', 'single', options)).toBeUndefined();
    expect(bucket.record(KEY)).toMatchObject({
      procedure: 'com.p',
      policy: 'single',
      callees: [{ node: 'n1', session: 1, features: { progressive_call_results: true } }],
    });
    expect(await claims.claim(session(2), 'com.p', 'exact', 'single', options)).toEqual(
      refusal(ErrorUri.ProcedureAlreadyExists, "'com.p' is already registered"),
    );
    expect(await claims.claim(session(2), 'com.p', 'exact', 'roundrobin', options)).toEqual(
      refusal(ErrorUri.ProcedureExistsWithDifferentInvocationPolicy, "'com.p' is registered with invocation policy 'single'"),
    );
    await claims.release({ match: 'exact', procedure: 'com.p' } as Parameters<RegistrationClaims['release']>[0], 1 as SessionId);
    expect(bucket.entries.has(KEY)).toBe(false);
    expect(await claims.claim(session(3), 'com.p', 'exact', 'roundrobin', options)).toBeUndefined();
    expect(await claims.claim(session(4), 'com.p', 'exact', 'roundrobin', options)).toBeUndefined();
    expect(bucket.record(KEY)!.callees.map((c) => c.session)).toEqual([3, 4]);
  });

  it("a dead node's callee does not hold the key", async () => {
    const { claims, bucket } = setup();
    await bucket.put(KEY, bytes(other('dead', 9)));
    expect(await claims.claim(session(1), 'com.p', 'exact', 'single', options)).toBeUndefined();
    expect(bucket.record(KEY)!.callees.map((c) => [c.node, c.session])).toEqual([['n1', 1]]);
  });

  it('a session that moved here (resumption) replaces its own callee entry of the node it left', async () => {
    const { claims, bucket } = setup();
    await bucket.put(KEY, bytes(other('n2', 1)));
    expect(await claims.claim(session(1), 'com.p', 'exact', 'single', options)).toBeUndefined();
    expect(bucket.record(KEY)!.callees.map((c) => [c.node, c.session])).toEqual([['n1', 1]]);
    // Another session's single registration on a live node still holds the key.
    await bucket.put(KEY, bytes(other('n2', 5)));
    expect(await claims.claim(session(1), 'com.p', 'exact', 'single', options)).toEqual(
      refusal(ErrorUri.ProcedureAlreadyExists, "'com.p' is already registered"),
    );
  });

  it('reads again after losing a compare-and-set race, and then sees the winner', async () => {
    const { claims, bucket } = setup();
    bucket.before = () => void bucket.put(KEY, bytes(other('n2', 7)));
    expect(await claims.claim(session(1), 'com.p', 'exact', 'single', options)).toEqual(
      refusal(ErrorUri.ProcedureAlreadyExists, "'com.p' is already registered"),
    );
    expect(bucket.record(KEY)!.callees.map((c) => c.node)).toEqual(['n2']);
  });

  it('without NATS the registration holds here (claimed again on resync)', async () => {
    const { claims, bucket } = setup();
    bucket.down = true;
    expect(await claims.claim(session(1), 'com.p', 'exact', 'single', options)).toBeUndefined();
    expect(bucket.entries.size).toBe(0);
  });

  it("mirrors bucket entries into stand-ins, and a purge removes a dead node's callees", async () => {
    let deadNow = false;
    const { claims, bucket, registered } = setup((n) => !(deadNow && n === 'n2'));
    const entry = (r: RegistrationRecord): KvEntry => ({ key: KEY, value: bytes(r), operation: 'PUT' }) as unknown as KvEntry;
    claims.onEntry(entry(other('n2', 7, 'roundrobin')));
    expect(registered).toEqual(['7 com.p']);
    await bucket.put(KEY, bytes(other('n2', 7, 'roundrobin')));
    deadNow = true;
    claims.reconcileAll();
    expect(registered).toEqual(['7 com.p', 'drop 7: callee unregistered']);
    await claims.purge((c) => c.node === 'n2' && c.inc === 1);
    expect(bucket.entries.has(KEY)).toBe(false);
  });

  it("a purge removes the dead node's callees the bucket holds, though this node's watch never delivered them; the live ones and another realm's stay", async () => {
    const { claims, bucket } = setup();
    const shared = other('n2', 7, 'roundrobin');
    await bucket.put(KEY, bytes({ ...shared, callees: [...shared.callees, ...other('n3', 8).callees] }));
    await bucket.put('realm1.exact.com.q', bytes({ ...other('n2', 9), procedure: 'com.q' }));
    await bucket.put('realm2.exact.com.p', bytes(other('n2', 10)));
    await claims.purge((c) => c.node === 'n2' && c.inc === 1);
    expect(bucket.record(KEY)!.callees.map((c) => [c.node, c.session])).toEqual([['n3', 8]]);
    expect([...bucket.entries.keys()].sort()).toEqual([KEY, 'realm2.exact.com.p']);
  });

  describe('after a partition (resync, once the node has settled)', () => {
    const entryOf = (bucket: MemoryBucket): KvEntry =>
      ({ key: KEY, value: bucket.entries.get(KEY)!.value, revision: bucket.entries.get(KEY)!.revision, operation: 'PUT' }) as unknown as KvEntry;

    it("a single registration made here while the cluster gave the key to a live node is revoked here, and that node's callee comes in", async () => {
      const dealer = new FakeDealer();
      const { claims, bucket, registered } = setup(undefined, dealer);
      await bucket.put(KEY, bytes(other('n2', 7)));
      dealer.add('com.p', 'single', session(1));
      claims.onEntry(entryOf(bucket)); // its stand-in conflicts with the registration here: none made
      expect(registered).toEqual([]);
      await claims.resync();
      expect(dealer.revoked).toEqual(['1 com.p wamp.error.procedure_already_exists']);
      expect(bucket.record(KEY)!.callees.map((c) => [c.node, c.session])).toEqual([['n2', 7]]);
      expect(registered).toContain('7 com.p');
    });

    it('a registration here missing from the bucket (the others took this node for dead) is claimed again; nothing is revoked', async () => {
      const dealer = new FakeDealer();
      const { claims, bucket } = setup(undefined, dealer);
      dealer.add('com.p', 'roundrobin', session(1), session(2));
      await bucket.put(KEY, bytes(other('n2', 7, 'roundrobin')));
      claims.onEntry(entryOf(bucket));
      await claims.resync();
      expect(dealer.revoked).toEqual([]);
      expect(bucket.record(KEY)!.callees.map((c) => [c.node, c.session])).toEqual([
        ['n2', 7],
        ['n1', 1],
        ['n1', 2],
      ]);
    });

    it("this node's callees the bucket still holds but that are gone here (a lost release, an earlier incarnation) are removed", async () => {
      const dealer = new FakeDealer();
      const { claims, bucket } = setup(undefined, dealer);
      const record = other('n2', 7, 'roundrobin');
      const mine = (id: number, inc: number): RegistrationRecord['callees'][number] => ({ ...record.callees[0]!, node: 'n1', inc, session: id });
      await bucket.put(KEY, bytes({ ...record, callees: [...record.callees, mine(1, 1), mine(3, 1), mine(4, 0)] }));
      claims.onEntry(entryOf(bucket));
      dealer.add('com.p', 'roundrobin', session(1));
      await claims.resync();
      expect(bucket.record(KEY)!.callees.map((c) => [c.node, c.session])).toEqual([
        ['n2', 7],
        ['n1', 1],
      ]);
    });

    it('a bucket change that drops a callee of this node (a purge racing the heal) is answered with a new claim', async () => {
      const dealer = new FakeDealer();
      const { claims, bucket } = setup(undefined, dealer);
      dealer.add('com.p', 'single', session(1));
      expect(await claims.claim(session(1), 'com.p', 'exact', 'single', options)).toBeUndefined();
      claims.onEntry(entryOf(bucket));
      await bucket.delete(KEY);
      claims.onEntry({ key: KEY, operation: 'DEL' } as unknown as KvEntry);
      await vi.waitFor(() => expect(bucket.record(KEY)?.callees.map((c) => [c.node, c.session])).toEqual([['n1', 1]]));
      expect(dealer.revoked).toEqual([]);
    });
  });
});
