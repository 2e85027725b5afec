/** Messages between the bench orchestrator (run.ts) and its load-generator processes (worker.ts). */
import type { MatchPolicy } from '@switchboard/schemas';
import type { SerializedHistogram } from './histogram.js';

export interface Endpoint {
  url: string;
  realm: string;
  /** Offer permessage-deflate in the WebSocket handshake (the switchboard-z target). */
  deflate?: boolean;
  /** The serializer every session speaks (default json). */
  serializer?: 'json' | 'msgpack' | 'cbor';
}

/**
 * The padding in each PUBLISH / CALL: `repeat` is one letter repeated (cheap, and compresses to
 * nearly nothing); `text` is words in a pseudo-random order, which deflate shrinks about as much
 * as it does typical JSON (3 to 4 times), for measuring compression.
 */
export type PayloadKind = 'repeat' | 'text';

/** One SUBSCRIBE: a topic or pattern and its match policy (SUBSCRIBE.Options.match). */
export interface SubscriptionSpec {
  topic: string;
  match: MatchPolicy;
}

/**
 * Closed loop: at most `window` unacknowledged PUBLISHes, and at most `maxLead` publications ahead
 * of the slowest subscriber (the probe and the `progress` reports).
 */
export interface WindowMode {
  kind: 'window';
  window: number;
  maxLead: number;
}

/** Open loop at a fixed rate, without acknowledgements. */
export interface RateMode {
  kind: 'rate';
  perSecond: number;
}

export type Job =
  | {
      kind: 'subscribers';
      endpoint: Endpoint;
      topic: string;
      sessions: number;
      /** Stop reading the sockets at `go` (a slow consumer); resume at `finish`. */
      pause: boolean;
      /** Send `progress` (the lowest publication sequence number all our sessions have seen). */
      reportProgress: boolean;
      connectConcurrency: number;
      /**
       * Session i subscribes to `patterns[i]` instead of `topic` (one entry per session). `topic`
       * is then the published topic: an EVENT for a pattern subscription must carry it in
       * Details.topic, one for an exact subscription must not; any other EVENT counts as an error.
       */
      patterns?: SubscriptionSpec[];
    }
  | {
      kind: 'publisher';
      endpoint: Endpoint;
      topic: string;
      /**
       * Publish round these topics in turn instead of `topic` (one subscriber each: the many-topics
       * fan-out). The probe still subscribes to `topic` (one of them).
       */
      topics?: string[];
      mode: WindowMode | RateMode;
      payloadBytes: number;
      /** What the padding is made of (default repeat). */
      payloadKind?: PayloadKind;
      /** Also open one subscriber session here (one of the scenario's N), which paces WindowMode. */
      probe: boolean;
      /** What the probe subscribes to (default: `topic`, exact); checked like `patterns` above. */
      probeSubscription?: SubscriptionSpec;
      /** Where the probe connects (default: `endpoint`): another cluster node than the publisher's. */
      probeEndpoint?: Endpoint;
      /** WindowMode also waits for `progress` from the subscriber workers (relayed by the orchestrator). */
      pacedByProgress: boolean;
    }
  | { kind: 'callee'; endpoint: Endpoint; procedure: string }
  | {
      kind: 'callers';
      endpoint: Endpoint;
      procedure: string;
      callers: number;
      window: number;
      payloadBytes: number;
      payloadKind?: PayloadKind;
      /**
       * The arguments of each CALL, taken in turn (a router procedure: `[topic, 100]`), instead of
       * the echo payload; latency is then timed per request ID, the result carrying no timestamp.
       */
      calls?: unknown[][];
    }
  | { kind: 'idle'; endpoint: Endpoint; sessions: number; connectConcurrency: number }
  /**
   * One session that holds many subscriptions (SUBSCRIBEs pipelined, at most `inFlight` awaiting
   * SUBSCRIBED) and expects no EVENT: each one it gets is counted in `received`.
   */
  | { kind: 'holder'; endpoint: Endpoint; subscriptions: SubscriptionSpec[]; inFlight: number };

export type JobKind = Job['kind'];

/** Absolute times on the shared monotonic clock (clock.ts), in ns. */
export interface Schedule {
  /** Publishers and callers start sending. */
  startNs: number;
  /** Counting starts (after warm-up). */
  measureFromNs: number;
  /** Counting ends. */
  measureToNs: number;
  /** Publishers and callers stop sending. */
  stopNs: number;
}

export type ToWorker =
  | { type: 'job'; job: Job }
  | { type: 'go'; schedule: Schedule }
  /** To a publisher: every subscriber session elsewhere has seen publication `seq`. */
  | { type: 'progress'; seq: number }
  | { type: 'finish' };

export interface WorkerReport {
  kind: JobKind;
  /** Sessions that reached WELCOME. */
  sessions: number;
  /** Sessions closed by the router or network before `finish`. */
  sessionsLost: number;
  /** PUBLISHes or CALLs sent, in all and inside the measurement window. */
  sent: number;
  sentInWindow: number;
  /** EVENTs, RESULTs or INVOCATIONs received, in all and inside the window. */
  received: number;
  receivedInWindow: number;
  /**
   * ERROR replies to PUBLISH or CALL (idle: sessions that failed to open; subscribers with
   * `patterns`: EVENTs whose Details.topic was missing or wrong).
   */
  errors: number;
  /** Frames that were not well-formed WAMP, and what was wrong with the first. */
  decodeErrors: number;
  firstDecodeError?: string;
  /** publish → event or call → result, inside the window, µs. */
  latency: SerializedHistogram;
  /** Time to open every session, ms. */
  connectMs: number;
  /** For paused subscribers: what happened when they read again at `finish`. */
  resumed?: { closedByRouter: boolean; receivedAfterResume: number };
}

export type FromWorker =
  | { type: 'ready'; sessions: number; connectMs: number }
  /** From subscribers: each of this worker's open sessions has seen publication `seq`. */
  | { type: 'progress'; seq: number }
  | { type: 'report'; reports: WorkerReport[] }
  | { type: 'error'; message: string };
