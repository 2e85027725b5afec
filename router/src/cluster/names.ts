/**
 * How WAMP names become NATS subjects and JetStream KV keys (pure; no NATS here).
 *
 * A WAMP URI's components map one to one onto NATS tokens, so a topic's subject keeps its
 * structure and NATS can match subscriptions per topic: an exact subscription listens on its own
 * subject, a wildcard pattern (`a..c`) on `a.*.c`, and a prefix pattern on the components it fixes
 * followed by `>` (a prefix is a string prefix, so its last, partial component cannot be matched
 * by NATS: the node filters what it receives with its own subscription index).
 *
 * A component that is not plain `[A-Za-z0-9_-]+` (and the empty component of a wildcard) is
 * written as `=` and its UTF-8 bytes in hex: valid in subjects and in KV keys, never `*` or `>`,
 * and distinct from every plain component.
 */
import type { MatchPolicy } from '@switchboard/schemas';

const PLAIN = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextEncoder();

/** One URI component (or realm name) as a subject token and KV key token. */
export function token(component: string): string {
  if (PLAIN.test(component)) return component;
  let hex = '=';
  for (const byte of utf8.encode(component)) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

const utf8Decoder = new TextDecoder();

/** The URI component (or realm name) a token stands for: token()'s inverse. */
export function untoken(t: string): string {
  if (!t.startsWith('=')) return t;
  const bytes = new Uint8Array((t.length - 1) >> 1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(t.slice(1 + 2 * i, 3 + 2 * i), 16);
  return utf8Decoder.decode(bytes);
}

const tokensCache = new Map<string, string>();

/** A URI's components as tokens (cached: the same topics are published over and over). */
export function uriTokens(uri: string): string {
  let tokens = tokensCache.get(uri);
  if (tokens === undefined) {
    tokens = uri.split('.').map(token).join('.');
    if (tokensCache.size >= 10_000) tokensCache.clear();
    tokensCache.set(uri, tokens);
  }
  return tokens;
}

/** Subject and bucket names of one cluster (one `prefix`). */
export class ClusterNames {
  constructor(readonly prefix: string) {}

  /** Where a publication to `topic` in `realm` goes. */
  event(realm: string, topic: string): string {
    return `${this.prefix}.${token(realm)}.e.${uriTokens(topic)}`;
  }

  /** The NATS subject a node listens on for one of its subscriptions. */
  interest(realm: string, topic: string, match: MatchPolicy): string {
    return covering(`${this.prefix}.${token(realm)}.e`, topic, match);
  }

  /** The JetStream stream that keeps a realm's event history (history/jetstream.ts). */
  historyStream(realm: string): string {
    return `${this.prefix}-history-${token(realm)}`;
  }

  /**
   * Every subject of a realm's history stream: beside the realm's live event subjects (`.e.`),
   * under its own kind token (`.h.`), so that no realm's live events can fall into another
   * realm's stream whatever the realms are called.
   */
  historySubjects(realm: string): string {
    return `${this.prefix}.${token(realm)}.h.>`;
  }

  /** Where a history-enabled topic's events are stored. */
  history(realm: string, topic: string): string {
    return `${this.prefix}.${token(realm)}.h.${uriTokens(topic)}`;
  }

  /** The topic of a subject of a realm's history stream (`history()`'s inverse). */
  historyTopic(realm: string, subject: string): string {
    const base = `${this.prefix}.${token(realm)}.h.`;
    return subject.slice(base.length).split('.').map(untoken).join('.');
  }

  /**
   * The narrowest single subject filter of a realm's history stream that holds every topic a
   * selection covers (a prefix pattern's last component is matched afterwards, by the reader).
   */
  historyFilter(realm: string, topic: string, match: MatchPolicy): string {
    return covering(`${this.prefix}.${token(realm)}.h`, topic, match);
  }

  /** Heartbeats of every node. */
  get heartbeats(): string {
    return `${this.prefix}.hb`;
  }

  /** Messages for one node (RPC relay, session kill). */
  node(name: string): string {
    return `${this.prefix}.n.${name}`;
  }

  bucket(kind: 'registrations' | 'sessions' | 'subscriptions' | 'retained' | 'testaments' | 'resumable'): string {
    return `${this.prefix}-${kind}`;
  }

  /** KV key of a registration: realm, match policy, procedure. */
  registrationKey(realm: string, match: MatchPolicy, procedure: string): string {
    return `${token(realm)}.${match}.${procedure.split('.').map(token).join('.')}`;
  }

  sessionKey(realm: string, session: number): string {
    return `${token(realm)}.${session}`;
  }

  /**
   * KV key of a resumable session's record: its ID alone (session IDs are unique in the cluster,
   * and a dedicated resume names no realm).
   */
  resumableKey(session: number): string {
    return String(session);
  }

  subscriptionKey(realm: string, node: string, subscription: number): string {
    return `${token(realm)}.${node}.${subscription}`;
  }

  /** Testaments of one session, under its node (a dead node's are found by key). */
  testamentKey(realm: string, node: string, session: number): string {
    return `${token(realm)}.${node}.${session}`;
  }

  retainedKey(realm: string, topic: string): string {
    return `${token(realm)}.${uriTokens(topic)}`;
  }
}

/** A subject under `base` that covers every topic `topic` selects with `match` (see the module doc). */
function covering(base: string, topic: string, match: MatchPolicy): string {
  if (match === 'exact') return `${base}.${uriTokens(topic)}`;
  const parts = topic.split('.');
  if (match === 'wildcard') return `${base}.${parts.map((p) => (p === '' ? '*' : token(p))).join('.')}`;
  // prefix: every complete component, then anything (the partial last one included).
  const fixed = parts.slice(0, -1).map(token);
  return fixed.length === 0 ? `${base}.>` : `${base}.${fixed.join('.')}.>`;
}
