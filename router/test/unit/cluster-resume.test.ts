/**
 * Session resumption across the cluster (cluster/resume.ts) against an in-memory bucket with
 * compare-and-set, nodes joined by an in-memory message bus (the real MessagePack frames of
 * wire.ts), and fake hosts in place of the core's registry — no NATS, no sessions.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KvEntry } from '@nats-io/kv';
import type { RegistrationId, RequestId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';
import { ClusterNames } from '../../src/cluster/names.js';
import { ClusterResume, snapshotFromWire, snapshotToWire, tokenHash } from '../../src/cluster/resume.js';
import type { ResumableRecord, ResumeHost, ResumeNode } from '../../src/cluster/resume.js';
import { decodeCluster, encodeCluster } from '../../src/cluster/wire.js';
import type { ResumeRequest, SessionSnapshot } from '../../src/core/resume.js';
import { silentLogger } from '../../src/log.js';

/** A KV bucket in memory: revisions, update and delete at a revision (a delete leaves no entry). */
class MemoryBucket {
  readonly entries = new Map<string, { value: Uint8Array; revision: number }>();
  #revision = 0;

  async get(key: string): Promise<KvEntry | null> {
    const e = this.entries.get(key);
    return e === undefined ? null : ({ key, value: e.value, revision: e.revision, operation: 'PUT' } as unknown as KvEntry);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.entries.set(key, { value, revision: ++this.#revision });
    return this.#revision;
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    if (this.entries.get(key)?.revision !== revision) throw new Error('wrong last sequence');
    return this.put(key, value);
  }

  async delete(key: string, options?: { previousSeq?: number }): Promise<void> {
    if (options?.previousSeq !== undefined && this.entries.get(key)?.revision !== options.previousSeq) throw new Error('wrong last sequence');
    this.entries.delete(key);
    this.#revision++;
  }

  async keys(): Promise<AsyncIterable<string>> {
    const keys = [...this.entries.keys()];
    return (async function* () {
      yield* keys;
    })();
  }

  record(key: string): ResumableRecord | undefined {
    const e = this.entries.get(key);
    return e === undefined ? undefined : (JSON.parse(new TextDecoder().decode(e.value)) as ResumableRecord);
  }
}

/** A fake core registry: the sessions it holds, what it handed over, delivered and expired. */
class FakeHost implements ResumeHost {
  readonly held = new Map<SessionId, SessionSnapshot>();
  readonly delivered: [SessionId, WampMessage, string | undefined][] = [];
  readonly expired: SessionId[] = [];
  readonly limits: string[] = [];
  realms = new Set(['realm1']);

  accepts(realm: string): boolean {
    return this.realms.has(realm);
  }
  forward: ((msg: WampMessage) => void) | undefined;
  handOvers = 0;

  handOver(session: SessionId, forward: (msg: WampMessage) => void): SessionSnapshot | undefined {
    const s = this.held.get(session);
    if (s === undefined) return undefined;
    this.handOvers++;
    this.held.delete(session);
    this.forward = forward;
    return s;
  }

  deliver(session: SessionId, msg: WampMessage, from?: string): boolean {
    this.delivered.push([session, msg, from]);
    return true;
  }

  expire(session: SessionId): void {
    this.expired.push(session);
  }

  limitExceeded(limit: string): void {
    this.limits.push(limit);
  }
}

interface Cluster {
  bucket: MemoryBucket;
  nodes: Map<string, { resume: ClusterResume; host: FakeHost }>;
  /** Nodes that receive nothing (silent). */
  deaf: Set<string>;
  /** Nodes taken for dead by the others. */
  dead: Set<string>;
  sent: string[];
}

function cluster(names: string[], timeoutMs = 2000, maxPendingTakes?: number): Cluster {
  const bucket = new MemoryBucket();
  const c: Cluster = { bucket, nodes: new Map(), deaf: new Set(), dead: new Set(), sent: [] };
  for (const name of names) {
    const node: ResumeNode = {
      self: name,
      incarnation: 1,
      names: new ClusterNames('sb'),
      log: silentLogger(),
      buckets: { resumable: bucket as unknown as ResumeNode['buckets']['resumable'] },
      isLive: (n, inc) => !c.dead.has(n) && inc === 1,
      sendToNode: (to, bytes) => {
        const m = decodeCluster(bytes);
        c.sent.push(`${name}->${to} ${m.kind}`);
        // Delivered on a later turn, as NATS does.
        if (!c.deaf.has(to)) setImmediate(() => c.nodes.get(to)?.resume.onDirect(decodeCluster(bytes)));
        return true;
      },
    };
    const resume = new ClusterResume(node, { handOverTimeoutMs: timeoutMs, ...(maxPendingTakes !== undefined && { maxPendingTakes }) });
    const host = new FakeHost();
    resume.host = host;
    c.nodes.set(name, { resume, host });
  }
  return c;
}

const at = (c: Cluster, name: string): { resume: ClusterResume; host: FakeHost } => c.nodes.get(name)!;
const ID = 4242 as SessionId;
const identity = { authid: 'alice', authrole: 'user', authmethod: 'ticket', authprovider: 'static' };

function newToken(): { token: string; hash: string } {
  const octets = randomBytes(16);
  return { token: octets.toString('base64'), hash: createHash('sha256').update(octets).digest('hex') };
}

function snapshot(id = ID): SessionSnapshot {
  return {
    id,
    realm: 'realm1',
    identity,
    roles: { subscriber: {}, callee: { features: { progressive_call_results: true } } },
    lastRequest: 7,
    answerSeq: 5,
    answers: [
      {
        seq: 4,
        message: { code: MessageCode.Result, request: 6 as RequestId, details: {}, args: [new Uint8Array([1, 2, 3]), 2 ** 53 - 1] },
        delivered: true,
      },
      { seq: 5, message: { code: MessageCode.Subscribed, request: 7 as RequestId, subscription: 99 as SubscriptionId }, delivered: false },
    ],
    answersLost: true,
    subscriptions: [{ id: 99 as SubscriptionId, topic: 'com.t', match: 'prefix', options: { match: 'prefix' }, missed: 3 }],
    registrations: [{ id: (2 ** 53 - 1) as RegistrationId, procedure: 'com.p', match: 'exact', invoke: 'roundrobin', options: { invoke: 'roundrobin' } }],
    testaments: [{ topic: 'com.gone', args: [new Uint8Array([9])], kwargs: { who: 'alice' }, publishOptions: { exclude_me: false } }],
    expiresAt: 1_700_000_000_000,
  };
}

/** A snapshot with binary payloads as plain number arrays (MessagePack hands back Buffers). */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return ['bytes', ...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)];
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** What the taking node must get: the holding node's snapshot, intact, and the node it came from (set by take). */
const intact = (from?: string): unknown => plain(from === undefined ? snapshot() : { ...snapshot(), from });

const request = (token: string, extra: Partial<ResumeRequest> = {}): ResumeRequest => ({
  session: ID,
  token,
  answers: undefined,
  realm: 'realm1',
  authid: undefined,
  transport: { type: 'websocket', protocol: 'wamp.2.json' } as unknown as ResumeRequest['transport'],
  ...extra,
});

/** Lets queued bucket writes and message deliveries run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** Node A holds session ID with a recorded token. */
async function heldOnA(c: Cluster): Promise<string> {
  const { token, hash } = newToken();
  at(c, 'a').host.held.set(ID, snapshot());
  at(c, 'a').resume.issued(ID, 'realm1', identity, hash);
  await settle();
  return token;
}

describe('cluster resume: records', () => {
  it('issued writes {node, realm, authid, authrole, tokenHash} under the session ID; a new token replaces it; ended deletes it', async () => {
    const c = cluster(['a']);
    const first = newToken();
    at(c, 'a').resume.issued(ID, 'realm1', identity, first.hash);
    await settle();
    expect(c.bucket.record('4242')).toEqual({ node: 'a', inc: 1, realm: 'realm1', authid: 'alice', authrole: 'user', tokenHash: first.hash });
    const second = newToken();
    at(c, 'a').resume.issued(ID, 'realm1', identity, second.hash);
    at(c, 'a').resume.ended(ID);
    await settle();
    expect(c.bucket.entries.has('4242')).toBe(false);
  });

  it('tokenHash: SHA-256 of exactly 16 base64 octets, nothing else', () => {
    const { token, hash } = newToken();
    expect(tokenHash(token)).toBe(hash);
    expect(tokenHash(randomBytes(15).toString('base64'))).toBeUndefined();
    expect(tokenHash(randomBytes(17).toString('base64'))).toBeUndefined();
    expect(tokenHash(`${token}!`)).toBeUndefined();
  });

  it("a dead node's records are purged, and only its own", async () => {
    const c = cluster(['a', 'b']);
    at(c, 'a').resume.issued(1 as SessionId, 'realm1', identity, newToken().hash);
    at(c, 'a').resume.issued(2 as SessionId, 'realm1', identity, newToken().hash);
    at(c, 'b').resume.issued(3 as SessionId, 'realm1', identity, newToken().hash);
    await settle();
    c.dead.add('a');
    await at(c, 'b').resume.purge('a', 1);
    expect([...c.bucket.entries.keys()]).toEqual(['3']);
  });
});

describe('cluster resume: take', () => {
  it('claims the record, has the holding node hand the session over, and answers its snapshot intact', async () => {
    const c = cluster(['a', 'b']);
    const token = await heldOnA(c);
    const got = await at(c, 'b').resume.take(request(token, { authid: 'alice' }));
    expect(plain(got)).toEqual(intact('a'));
    expect(at(c, 'a').host.handOvers).toBe(1);
    expect(c.bucket.record('4242')?.node).toBe('b');
    // The new node's token replaces the record; the old node's late `ended` leaves it alone.
    const next = newToken();
    at(c, 'b').resume.issued(ID, 'realm1', identity, next.hash);
    at(c, 'a').resume.ended(ID);
    await settle();
    expect(c.bucket.record('4242')).toMatchObject({ node: 'b', tokenHash: next.hash });
    // And it resumes on a third… here back on A, with the new token only.
    at(c, 'b').host.held.set(ID, snapshot());
    expect(await at(c, 'a').resume.take(request(token))).toBeUndefined();
    expect(plain(await at(c, 'a').resume.take(request(next.token)))).toEqual(intact('b'));
  });

  it('a later answer to a call the session made on the old node is forwarded to the new one', async () => {
    const c = cluster(['a', 'b']);
    const token = await heldOnA(c);
    await at(c, 'b').resume.take(request(token));
    const result: WampMessage = { code: MessageCode.Result, request: 8 as RequestId, details: {}, args: [42] };
    at(c, 'a').host.forward!(result);
    await settle();
    // With the sending node: only the node the session came from may forward its answers.
    expect(at(c, 'b').host.delivered).toEqual([[ID, result, 'a']]);
  });

  it('refuses a wrong token, realm or authid, an unknown session and a malformed token, leaving the record as it was', async () => {
    const c = cluster(['a', 'b']);
    const token = await heldOnA(c);
    const before = c.bucket.entries.get('4242');
    const b = at(c, 'b').resume;
    expect(await b.take(request(newToken().token))).toBeUndefined();
    expect(await b.take(request(token, { realm: 'realm2' }))).toBeUndefined();
    expect(await b.take(request(token, { authid: 'mallory' }))).toBeUndefined();
    expect(await b.take(request(token, { session: 7 as SessionId }))).toBeUndefined();
    expect(await b.take(request('not a token'))).toBeUndefined();
    expect(c.bucket.entries.get('4242')).toBe(before);
    expect(at(c, 'a').host.handOvers).toBe(0);
    // A dedicated resume names no realm: the token decides.
    expect(plain(await b.take(request(token, { realm: undefined })))).toEqual(intact('a'));
  });

  it('refuses, before claiming, a session of a realm this node cannot adopt (not served, or resumption off)', async () => {
    const c = cluster(['a', 'b']);
    const token = await heldOnA(c);
    at(c, 'b').host.realms.clear();
    expect(await at(c, 'b').resume.take(request(token))).toBeUndefined();
    expect(c.bucket.record('4242')?.node).toBe('a');
    expect(at(c, 'a').host.handOvers).toBe(0);
  });

  it('refuses a session of a dead node (and removes its leftover record)', async () => {
    const c = cluster(['a', 'b']);
    const token = await heldOnA(c);
    c.dead.add('a');
    expect(await at(c, 'b').resume.take(request(token))).toBeUndefined();
    expect(c.bucket.entries.has('4242')).toBe(false);
    expect(c.sent).toEqual([]);
  });

  it('refuses when the holding node is silent past the timeout, or holds nothing; the void claim is removed', async () => {
    const c = cluster(['a', 'b'], 50);
    const token = await heldOnA(c);
    c.deaf.add('a');
    expect(await at(c, 'b').resume.take(request(token))).toBeUndefined();
    expect(c.bucket.entries.has('4242')).toBe(false);

    const again = await heldOnA(c);
    c.deaf.delete('a');
    at(c, 'a').host.held.clear();
    expect(await at(c, 'b').resume.take(request(again))).toBeUndefined();
    expect(c.bucket.entries.has('4242')).toBe(false);
  });

  it('past maxPendingTakes waiting for their nodes, a resume is refused and counted', async () => {
    const c = cluster(['a', 'b'], 100, 1);
    const token = await heldOnA(c);
    c.deaf.add('a');
    at(c, 'a').resume.issued(5 as SessionId, 'realm1', identity, tokenHash(token)!);
    await settle();
    const waiting = at(c, 'b').resume.take(request(token));
    await new Promise((r) => setImmediate(r));
    expect(await at(c, 'b').resume.take(request(token, { session: 5 as SessionId }))).toBeUndefined();
    expect(at(c, 'b').host.limits).toEqual(['maxPendingResumeTakes']);
    expect(c.bucket.record('5')?.node).toBe('a');
    expect(await waiting).toBeUndefined();
  });

  it('two nodes resuming the same session at once: one wins', async () => {
    const c = cluster(['a', 'b', 'c']);
    const token = await heldOnA(c);
    const [onB, onC] = await Promise.all([at(c, 'b').resume.take(request(token)), at(c, 'c').resume.take(request(token))]);
    expect(plain([onB, onC].filter((s) => s !== undefined))).toEqual([intact('a')]);
    expect(at(c, 'a').host.handOvers).toBe(1);
  });

  it('the holding node hands a session over only to the node its record names', async () => {
    const c = cluster(['a', 'b']);
    await heldOnA(c);
    at(c, 'a').resume.onDirect({ kind: 'r', from: 'b', id: 1, session: ID });
    await settle();
    expect(at(c, 'a').host.handOvers).toBe(0);
    expect(c.sent).toEqual(['a->b s']);
  });
});

describe('cluster resume: expiry racing a resume', () => {
  it('expiry first: the record goes, the resume is refused', async () => {
    const c = cluster(['a', 'b']);
    const token = await heldOnA(c);
    expect(await at(c, 'a').resume.expire(ID)).toBe(true);
    expect(await at(c, 'b').resume.take(request(token))).toBeUndefined();
    expect(at(c, 'a').host.handOvers).toBe(0);
  });

  it('claim first: the expiry fails and the session is handed over instead', async () => {
    const c = cluster(['a', 'b']);
    const token = await heldOnA(c);
    const taking = at(c, 'b').resume.take(request(token));
    // The claim is written before the hand-over request arrives: expire now, in between.
    await new Promise((r) => setImmediate(r));
    expect(await at(c, 'a').resume.expire(ID)).toBe(false);
    expect(plain(await taking)).toEqual(intact('a'));
    await new Promise((r) => setTimeout(r, 30));
    expect(at(c, 'a').host.expired).toEqual([]);
  });

  it('at the same moment, in either order: exactly one winner', async () => {
    for (const expireFirst of [true, false]) {
      const c = cluster(['a', 'b']);
      const token = await heldOnA(c);
      const a = at(c, 'a').resume;
      const b = at(c, 'b').resume;
      const [mayEnd, got] = expireFirst
        ? await Promise.all([a.expire(ID), b.take(request(token))])
        : await Promise.all([b.take(request(token)), a.expire(ID)]).then(([g, e]) => [e, g] as const);
      expect(mayEnd !== (got !== undefined)).toBe(true);
      expect(at(c, 'a').host.handOvers).toBe(got === undefined ? 0 : 1);
    }
  });

  it('a resume on the holding node itself while its expiry deletes the record: the new token is recorded afresh', async () => {
    const c = cluster(['a']);
    await heldOnA(c);
    const a = at(c, 'a').resume;
    const expiring = a.expire(ID);
    const next = newToken();
    a.issued(ID, 'realm1', identity, next.hash);
    expect(await expiring).toBe(true);
    await settle();
    expect(c.bucket.record('4242')).toMatchObject({ node: 'a', tokenHash: next.hash });
    a.ended(ID);
    await settle();
    expect(c.bucket.entries.has('4242')).toBe(false);
  });

  it('a claim whose node never asks: the session ends after twice the hand-over timeout', async () => {
    const c = cluster(['a', 'b'], 20);
    await heldOnA(c);
    const entry = c.bucket.entries.get('4242')!;
    await c.bucket.update('4242', new TextEncoder().encode(JSON.stringify({ ...c.bucket.record('4242'), node: 'b' })), entry.revision);
    expect(await at(c, 'a').resume.expire(ID)).toBe(false);
    const end = Date.now() + 2000;
    while (at(c, 'a').host.expired.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(at(c, 'a').host.expired).toEqual([ID]);
  });
});

describe('cluster resume: the snapshot on the wire', () => {
  it('survives MessagePack (binary and 53-bit payloads, route IDs, delivered flags, answersLost, testaments) and rejects malformed ones', () => {
    const bytes = encodeCluster({ kind: 's', id: 1, snapshot: snapshotToWire(snapshot()) });
    const m = decodeCluster(bytes);
    expect(plain(m.kind === 's' && snapshotFromWire(m.snapshot))).toEqual(intact());
    const good = snapshotToWire(snapshot());
    expect(snapshotFromWire(null)).toBeUndefined();
    expect(snapshotFromWire({ ...good, id: -1 })).toBeUndefined();
    expect(snapshotFromWire({ ...good, identity: { authid: 1 } })).toBeUndefined();
    expect(snapshotFromWire({ ...good, answers: [[1, [999]]] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, subscriptions: [{ topic: 't', match: 'regex', options: {}, missed: 0 }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, registrations: [{ id: 1, procedure: 'p', match: 'exact', invoke: 'all', options: {} }] })).toBeUndefined();
    // Route IDs: required, WAMP IDs.
    expect(snapshotFromWire({ ...good, subscriptions: [{ topic: 't', match: 'exact', options: {}, missed: 0 }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, subscriptions: [{ id: 0, topic: 't', match: 'exact', options: {}, missed: 0 }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, registrations: [{ procedure: 'p', match: 'exact', invoke: 'single', options: {} }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, registrations: [{ id: 2 ** 53 + 2, procedure: 'p', match: 'exact', invoke: 'single', options: {} }] })).toBeUndefined();
    // Delivered flags and answersLost: booleans; absent ones read as false / not lost.
    expect(snapshotFromWire({ ...good, answers: [[1, [MessageCode.Published, 1, 2], 'yes']] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, answers: [[1, [MessageCode.Published, 1, 2]]] })?.answers[0]?.delivered).toBe(false);
    // Arrays and URIs past sane maxima refuse the snapshot whole (F7: the adopting realm's own limits come after).
    const sub = { id: 1, topic: 'a', match: 'exact', options: {}, missed: 0 };
    expect(snapshotFromWire({ ...good, subscriptions: Array.from({ length: 100_001 }, () => sub) })).toBeUndefined();
    expect(snapshotFromWire({ ...good, subscriptions: [{ ...sub, topic: 'x'.repeat(70_000) }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, calls: Array.from({ length: 100_001 }, (_, i) => i + 1) })).toBeUndefined();
    expect(snapshotFromWire({ ...good, calls: [0] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, calls: [7] })?.calls).toEqual([7]);
    expect(snapshotFromWire({ ...good, answersLost: 1 })).toBeUndefined();
    expect(snapshotFromWire({ ...good, answersLost: undefined })?.answersLost).toBeUndefined();
    // Testaments: a list of {topic, args, kwargs, publishOptions}.
    expect(snapshotFromWire({ ...good, testaments: {} })).toBeUndefined();
    expect(snapshotFromWire({ ...good, testaments: [{ topic: 1, args: [], kwargs: {}, publishOptions: {} }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, testaments: [{ topic: 't', args: {}, kwargs: {}, publishOptions: {} }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, testaments: [{ topic: 't', args: [], kwargs: [], publishOptions: {} }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, testaments: [{ topic: 't', args: [], kwargs: {} }] })).toBeUndefined();
    expect(snapshotFromWire({ ...good, testaments: undefined })?.testaments).toBeUndefined();
  });
});

describe('cluster resume: NATS back', () => {
  it('resync writes back the records the bucket lost, and leaves a claimed one alone', async () => {
    const c = cluster(['a', 'b']);
    const token = await heldOnA(c);
    at(c, 'a').resume.issued(5 as SessionId, 'realm1', identity, newToken().hash);
    await settle();
    const lost = c.bucket.record('4242');
    c.bucket.entries.delete('4242');
    at(c, 'a').resume.resync();
    await settle();
    expect(c.bucket.record('4242')).toEqual(lost);
    // Claimed by B: A's resync does not take it back.
    const resumed = at(c, 'b').resume.take(request(token));
    await resumed;
    at(c, 'a').resume.resync();
    await settle();
    expect(c.bucket.record('4242')?.node).toBe('b');
    expect(c.bucket.record('5')?.node).toBe('a');
  });
});
