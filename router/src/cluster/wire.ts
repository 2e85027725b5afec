/**
 * What cluster nodes say to each other over NATS: MessagePack arrays, one kind per first element.
 * MessagePack keeps WAMP payloads intact (binary, 64-bit integers) whatever serializer the
 * sessions at either end use. Pure: no NATS here.
 */
import type { DecodeOptions, Dict, Kwargs, PublicationId, SessionId, WireArgs } from '@switchboard/schemas';
import { ROUTER_FRAME_LIMITS, msgpackCodec } from '@switchboard/schemas';
import type { RecipientFilter } from '../broker/broker.js';

/**
 * Cluster frames wrap WAMP messages and payloads a listener already bounded in a few levels and
 * values of their own: the codecs' defaults would refuse a payload a listener accepted.
 */
export const CLUSTER_DECODE: DecodeOptions = ROUTER_FRAME_LIMITS;

/** A publication, for the nodes that have subscribers to its topic (and for the retained-events bucket). */
export interface EventEnvelope {
  kind: 'e';
  /** Origin node and its publication counter: receivers drop a copy they have seen (overlapping NATS subscriptions). */
  node: string;
  seq: number;
  realm: string;
  topic: string;
  publication: PublicationId;
  details: Dict;
  filter: RecipientFilter;
  args: WireArgs | undefined;
  kwargs: Kwargs | undefined;
}

export interface Heartbeat {
  kind: 'h';
  node: string;
  /** When the node started: a restarted node with the same name is a new incarnation. */
  incarnation: number;
}

/** An INVOCATION, INTERRUPT or ERROR for a callee on the receiving node, from a caller's node. */
export interface ToCallee {
  kind: 'i';
  from: string;
  realm: string;
  session: SessionId;
  /** The registration the INVOCATION is for (its ID is the sending node's). */
  match: string;
  procedure: string;
  wire: unknown[];
}

/** A YIELD or ERROR for the caller's node, with the INVOCATION request ID that node gave. */
export interface ToCaller {
  kind: 'a';
  from: string;
  realm: string;
  session: SessionId;
  wire: unknown[];
}

/** wamp.session.kill of a session on the receiving node. */
export interface Kill {
  kind: 'k';
  realm: string;
  session: SessionId;
  reason: string;
  message: string;
  /** wamp.session.kill_all: no on_leave event, no testaments. */
  silent: boolean;
}

/**
 * Session resumption [ap_session_resumption]: the node a client resumes on (`from`), having claimed
 * the session's record in the `resumable` bucket, asks the node holding the session to give it up.
 */
export interface HandOverRequest {
  kind: 'r';
  from: string;
  /** The asking node's number for this request (the reply carries it back). */
  id: number;
  session: SessionId;
  /** HELLO.Details.resume-answers of the resume: the holding node refuses (check 5) before giving the session up. */
  answers?: number;
}

/**
 * The holding node's reply: the session's snapshot (resume.ts writes and checks its plain form),
 * or null when it holds no such session any more (ended, expired, claimed by nobody it knows).
 */
export interface HandOverReply {
  kind: 's';
  id: number;
  snapshot: unknown;
}

/** A later answer to a call a moved session made on the sending node, for the node it moved to. */
export interface Forwarded {
  kind: 'f';
  session: SessionId;
  wire: unknown[];
  /** The sending node (absent from an older node): only the node a session came from may forward its answers. */
  from?: string;
}

export type ClusterMessage = EventEnvelope | Heartbeat | ToCallee | ToCaller | Kill | HandOverRequest | HandOverReply | Forwarded;

type FilterWire = [number[] | null, number[] | null, string[] | null, string[] | null, string[] | null, string[] | null] | null;

function list<T>(set: ReadonlySet<T> | undefined): T[] | null {
  return set === undefined ? null : [...set];
}

function filterToWire(f: RecipientFilter): FilterWire {
  if (
    f.exclude === undefined &&
    f.eligible === undefined &&
    f.excludeAuthid === undefined &&
    f.eligibleAuthid === undefined &&
    f.excludeAuthrole === undefined &&
    f.eligibleAuthrole === undefined
  ) {
    return null;
  }
  return [list(f.exclude), list(f.eligible), list(f.excludeAuthid), list(f.eligibleAuthid), list(f.excludeAuthrole), list(f.eligibleAuthrole)];
}

/** The publisher is on another node: `exclude_me` has nobody to exclude here. */
const OPEN: RecipientFilter = { excludeMe: false };

function filterFromWire(w: unknown): RecipientFilter {
  if (!Array.isArray(w)) return OPEN;
  const set = <T>(v: unknown): ReadonlySet<T> | undefined => (Array.isArray(v) ? new Set(v as T[]) : undefined);
  return {
    excludeMe: false,
    exclude: set<number>(w[0]),
    eligible: set<number>(w[1]),
    excludeAuthid: set<string>(w[2]),
    eligibleAuthid: set<string>(w[3]),
    excludeAuthrole: set<string>(w[4]),
    eligibleAuthrole: set<string>(w[5]),
  };
}

export function encodeCluster(m: ClusterMessage): Uint8Array {
  switch (m.kind) {
    case 'e':
      return msgpackCodec.encode([
        'e',
        m.node,
        m.seq,
        m.realm,
        m.topic,
        m.publication,
        m.details,
        filterToWire(m.filter),
        m.args ?? null,
        m.kwargs ?? null,
      ]) as Uint8Array;
    case 'h':
      return msgpackCodec.encode(['h', m.node, m.incarnation]) as Uint8Array;
    case 'i':
      return msgpackCodec.encode(['i', m.from, m.realm, m.session, m.match, m.procedure, m.wire]) as Uint8Array;
    case 'a':
      return msgpackCodec.encode(['a', m.from, m.realm, m.session, m.wire]) as Uint8Array;
    case 'k':
      return msgpackCodec.encode(['k', m.realm, m.session, m.reason, m.message, m.silent]) as Uint8Array;
    case 'r':
      return msgpackCodec.encode(m.answers === undefined ? ['r', m.from, m.id, m.session] : ['r', m.from, m.id, m.session, m.answers]) as Uint8Array;
    case 's':
      return msgpackCodec.encode(['s', m.id, m.snapshot ?? null]) as Uint8Array;
    case 'f':
      return msgpackCodec.encode(m.from === undefined ? ['f', m.session, m.wire] : ['f', m.session, m.wire, m.from]) as Uint8Array;
  }
}

/** Throws on anything that is not one of the messages above. */
export function decodeCluster(bytes: Uint8Array): ClusterMessage {
  const a = msgpackCodec.decode(bytes, CLUSTER_DECODE);
  if (!Array.isArray(a)) throw new Error('cluster message is not an array');
  const str = (i: number): string => {
    if (typeof a[i] !== 'string') throw new Error(`cluster message element ${i} is not a string`);
    return a[i] as string;
  };
  const num = (i: number): number => {
    if (typeof a[i] !== 'number') throw new Error(`cluster message element ${i} is not a number`);
    return a[i] as number;
  };
  const arr = (i: number): unknown[] => {
    if (!Array.isArray(a[i])) throw new Error(`cluster message element ${i} is not an array`);
    return a[i] as unknown[];
  };
  switch (a[0]) {
    case 'e':
      return {
        kind: 'e',
        node: str(1),
        seq: num(2),
        realm: str(3),
        topic: str(4),
        publication: num(5) as PublicationId,
        details: (a[6] ?? {}) as Dict,
        filter: filterFromWire(a[7]),
        args: (a[8] ?? undefined) as WireArgs | undefined,
        kwargs: (a[9] ?? undefined) as Kwargs | undefined,
      };
    case 'h':
      return { kind: 'h', node: str(1), incarnation: num(2) };
    case 'i':
      return { kind: 'i', from: str(1), realm: str(2), session: num(3) as SessionId, match: str(4), procedure: str(5), wire: arr(6) };
    case 'a':
      return { kind: 'a', from: str(1), realm: str(2), session: num(3) as SessionId, wire: arr(4) };
    case 'k':
      return { kind: 'k', realm: str(1), session: num(2) as SessionId, reason: str(3), message: str(4), silent: a[5] === true };
    case 'r':
      return typeof a[4] === 'number'
        ? { kind: 'r', from: str(1), id: num(2), session: num(3) as SessionId, answers: a[4] }
        : { kind: 'r', from: str(1), id: num(2), session: num(3) as SessionId };
    case 's':
      return { kind: 's', id: num(1), snapshot: a[2] ?? null };
    case 'f':
      return typeof a[3] === 'string'
        ? { kind: 'f', session: num(1) as SessionId, wire: arr(2), from: a[3] }
        : { kind: 'f', session: num(1) as SessionId, wire: arr(2) };
    default:
      throw new Error(`unknown cluster message kind ${JSON.stringify(a[0])}`);
  }
}
