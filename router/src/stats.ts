/**
 * Plain counters the routing code bumps on its hot path (an array index, no labels, no
 * allocation); the metrics module reads them when /metrics is scraped.
 */
import { messageName } from '@switchboard/schemas';

/** Message codes go up to 70 (YIELD). */
const CODES = 71;

export class RouterStats {
  /** Messages received, by message code. */
  readonly messagesIn = new Float64Array(CODES);
  /** Messages sent, by message code (an EVENT counts once per subscriber it reached). */
  readonly messagesOut = new Float64Array(CODES);
  /** Authentication failures, by `method reason`. */
  readonly authFailures = new Map<string, number>();
  /** HTTP bridge requests refused before any work, by reason (`origin`). */
  readonly httpBridgeRefused = new Map<string, number>();
  /** Sessions ended by a protocol violation. */
  protocolViolations = 0;
  /** Connections closed for getting no WELCOME within helloTimeoutMs. */
  handshakeTimeouts = 0;
  /** Requests and connections refused by a limit, by the limit's config key (limits.ts). */
  readonly limitsExceeded = new Map<string, number>();
  /** Entries evicted to stay within a byte budget, by the limit's config key. */
  readonly limitEvictions = new Map<string, number>();
  /**
   * Incoming frames refused before they became messages (undecodable, outside the WAMP data
   * model, nested deeper than maxNestingDepth, broken framing), by serializer.
   */
  readonly badFrames = new Map<string, number>();
  /** Messages not sent because the receiver's serializer cannot represent them, by `serializer type`. */
  readonly unserializable = new Map<string, number>();
  /**
   * Calls that met a detached callee (session resumption), by reason: `no_attached_callee` (a CALL
   * refused with wamp.error.session_unattached), `callee_detached` (an invocation in flight ended
   * at its callee's detach).
   */
  readonly callsUnattached = new Map<string, number>();
  /** Completed calls' durations in seconds, drained by the metrics collector into a histogram. */
  readonly callSeconds: number[] = [];
  /** Event store batch write durations in seconds (the engines' onBatch), drained like callSeconds. */
  readonly historyWriteSeconds: number[] = [];
  /** Session resumption (resumption.ts): sessions detached now (a gauge). */
  sessionsDetached = 0;
  /** Resumes that attached a session again. */
  resumed = 0;
  /** Resumes refused (bad token, unknown session, wrong identity, answers lost…). */
  resumeRefused = 0;
  /** Answers resent right after a resumed WELCOME. */
  resumeAnswersResent = 0;
  /**
   * Answers forwarded from another cluster node for a moved session that went nowhere (resumption.ts
   * deliver): each a call whose caller never hears back (or whose session ended meanwhile).
   */
  resumeForwardedDropped = 0;
  /** Detached sessions that ended without a resume, by reason (`expired`, `overflow`, `limit`). */
  readonly detachedEnds = new Map<string, number>();
  /** Cluster messages in chunks dropped before they were whole (cluster/chunks.ts), by reason. */
  readonly clusterChunksDropped = new Map<string, number>();
  /**
   * Cluster messages this node could not hand to NATS (cluster/node.ts), by reason: `too_large`
   * (over cluster.maxReassemblyBytes), `closed` (the connection is closed for good), `refused`
   * (the NATS client threw), `unavailable` (an acknowledged PUBLISH while NATS is down or did not
   * confirm in time).
   */
  readonly clusterUnsent = new Map<string, number>();

  countIn(code: number): void {
    if (code < CODES) this.messagesIn[code]!++;
  }

  countOut(code: number, n = 1): void {
    if (code < CODES) this.messagesOut[code]! += n;
  }

  authFailed(method: string, reason: string): void {
    const key = `${method} ${reason}`;
    this.authFailures.set(key, (this.authFailures.get(key) ?? 0) + 1);
  }

  limitExceeded(limit: string): void {
    this.limitsExceeded.set(limit, (this.limitsExceeded.get(limit) ?? 0) + 1);
  }

  evicted(limit: string, n = 1): void {
    if (n > 0) this.limitEvictions.set(limit, (this.limitEvictions.get(limit) ?? 0) + n);
  }

  httpBridgeRefusal(reason: string): void {
    this.httpBridgeRefused.set(reason, (this.httpBridgeRefused.get(reason) ?? 0) + 1);
  }

  clusterChunksDrop(reason: string): void {
    this.clusterChunksDropped.set(reason, (this.clusterChunksDropped.get(reason) ?? 0) + 1);
  }

  clusterNotSent(reason: string): void {
    this.clusterUnsent.set(reason, (this.clusterUnsent.get(reason) ?? 0) + 1);
  }

  detachedEnded(reason: string): void {
    this.detachedEnds.set(reason, (this.detachedEnds.get(reason) ?? 0) + 1);
  }

  callUnattached(reason: 'no_attached_callee' | 'callee_detached'): void {
    this.callsUnattached.set(reason, (this.callsUnattached.get(reason) ?? 0) + 1);
  }

  badFrame(serializer: string): void {
    this.badFrames.set(serializer, (this.badFrames.get(serializer) ?? 0) + 1);
  }

  unserializableMessage(serializer: string, code: number, n = 1): void {
    const key = `${serializer} ${code < CODES ? typeLabel(code) : code}`;
    this.unserializable.set(key, (this.unserializable.get(key) ?? 0) + n);
  }

  /** An event store batch was written (the engines' `onBatch`); at most 10 000 samples between scrapes. */
  historyBatch(seconds: number): void {
    if (this.historyWriteSeconds.length < 10_000) this.historyWriteSeconds.push(seconds);
  }

  /** Keeps at most 10 000 samples between scrapes, so an unscraped router stays bounded. */
  callDone(seconds: number): void {
    if (this.callSeconds.length < 10_000) this.callSeconds.push(seconds);
  }
}

/** The message type label for a code. */
export function typeLabel(code: number): string {
  return messageName(code).toLowerCase();
}
