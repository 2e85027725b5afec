/**
 * /metrics in the Prometheus text format (prom-client). Everything is read from the router's own
 * counters at scrape time: sessions by realm, transport and serializer; messages in and out by
 * type; EVENTs dropped by backpressure; sessions cut off as slow consumers; auth failures; call
 * latency; and the process metrics prom-client collects.
 */
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import type { OutboundCounters } from './transports/outbound.js';
import type { RouterStats } from './stats.js';
import type { StoreStats } from './history/store.js';
import { typeLabel } from './stats.js';

/** What the metrics read from the router. */
export interface MetricsSource {
  readonly stats: RouterStats;
  readonly counters: OutboundCounters;
  /** Live sessions as [realm, transport, serializer] triples. */
  sessionLabels(): Iterable<[string, string, string]>;
  /** The event store's counters and each realm's history size (undefined before the store is open). */
  history?(): HistoryMetrics | undefined;
}

/** What /metrics reads of event history (history/store.ts). */
export interface HistoryMetrics {
  readonly stats: StoreStats;
  readonly realms: Iterable<readonly [string, { readonly events: number; readonly bytes: number }]>;
}

const require = createRequire(import.meta.url);

export function createMetrics(source: MetricsSource): Registry {
  // prom-client (and what it pulls in) is loaded on the first scrape or use of the registry, not
  // at start: a router without `metrics` never loads it (issue #20, idle RSS).
  const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = require('prom-client') as typeof PromClient;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });

  new Gauge({
    name: 'switchboard_sessions',
    help: 'Established WAMP sessions',
    labelNames: ['realm', 'transport', 'serializer'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, { labels: [string, string, string]; n: number }>();
      for (const labels of source.sessionLabels()) {
        const key = labels.join('\u0000');
        const entry = counts.get(key);
        if (entry === undefined) counts.set(key, { labels, n: 1 });
        else entry.n++;
      }
      for (const { labels, n } of counts.values()) this.set({ realm: labels[0], transport: labels[1], serializer: labels[2] }, n);
    },
  });

  const byType = (name: string, help: string, values: Float64Array): void => {
    new Counter({
      name,
      help,
      labelNames: ['type'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (let code = 0; code < values.length; code++) if (values[code]! > 0) this.inc({ type: typeLabel(code) }, values[code]!);
      },
    });
  };
  byType('switchboard_messages_in_total', 'WAMP messages received, by type', source.stats.messagesIn);
  byType('switchboard_messages_out_total', 'WAMP messages sent, by type (an EVENT once per subscriber)', source.stats.messagesOut);

  const fromCounter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  fromCounter('switchboard_bytes_in_total', 'Bytes of WAMP messages received, before decoding', () => source.counters.bytesIn);
  fromCounter(
    'switchboard_bytes_out_total',
    'Bytes of WAMP messages accepted for sending, framing included where the transport frames',
    () => source.counters.bytesOut,
  );
  fromCounter('switchboard_events_dropped_total', 'EVENTs dropped because a subscriber was over its outbound soft limit', () => source.counters.eventsDropped);
  fromCounter('switchboard_event_bytes_dropped_total', 'Bytes of EVENTs dropped by backpressure', () => source.counters.bytesDropped);
  fromCounter(
    'switchboard_slow_consumers_cut_off_total',
    'Sessions disconnected for slow consumption (switchboard.close.slow_consumer)',
    () => source.counters.peersCutOff,
  );
  fromCounter('switchboard_protocol_violations_total', 'Sessions aborted with wamp.error.protocol_violation', () => source.stats.protocolViolations);
  fromCounter(
    'switchboard_handshake_timeouts_total',
    'Connections closed for getting no WELCOME within helloTimeoutMs (switchboard.close.handshake_timeout)',
    () => source.stats.handshakeTimeouts,
  );

  const byLimit = (name: string, help: string, counts: ReadonlyMap<string, number>): void => {
    new Counter({
      name,
      help,
      labelNames: ['limit'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [limit, n] of counts) this.inc({ limit }, n);
      },
    });
  };
  byLimit(
    'switchboard_limits_exceeded_total',
    'Requests and connections refused by a limit (switchboard.error.limit_exceeded, HTTP 429, RawSocket handshake error 4), by config key',
    source.stats.limitsExceeded,
  );
  byLimit(
    'switchboard_limit_evictions_total',
    'Retained events evicted to stay within a realm byte budget, by config key (event history counts its removals in switchboard_history_expired_total)',
    source.stats.limitEvictions,
  );

  new Gauge({
    name: 'switchboard_sessions_detached',
    help: 'Resumable sessions detached from their transport, waiting for a resume (realm limits.resumeWindowMs)',
    registers: [registry],
    collect() {
      this.set(source.stats.sessionsDetached);
    },
  });
  new Counter({
    name: 'switchboard_session_resumes_total',
    help: 'Session resumes, by outcome: resumed (the same session on a new transport) or refused (no such resumable session, bad token, wrong identity, answers lost)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ outcome: 'resumed' }, source.stats.resumed);
      this.inc({ outcome: 'refused' }, source.stats.resumeRefused);
    },
  });
  new Counter({
    name: 'switchboard_session_detached_ends_total',
    help: 'Resumable sessions that ended instead of resuming, by reason: expired (resumeWindowMs), overflow (answers kept while detached past a bound), limit (maxDetachedSessions, maxDetachedSessionsPerAddress or maxDetachedBytes at the detach)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of source.stats.detachedEnds) this.inc({ reason }, n);
    },
  });
  const byReason = (name: string, help: string, counts: ReadonlyMap<string, number>): void => {
    new Counter({
      name,
      help,
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of counts) this.inc({ reason }, n);
      },
    });
  };
  byReason(
    'switchboard_cluster_chunks_dropped_total',
    'Cluster messages that crossed NATS in chunks and were dropped before they were whole, by reason: malformed, unknown_origin, out_of_order, too_large, origin_bytes, total_bytes, partials, total_partials, timeout',
    source.stats.clusterChunksDropped,
  );
  byReason(
    'switchboard_cluster_messages_unsent_total',
    'Cluster messages this node could not hand to NATS, by reason: too_large (over cluster.maxReassemblyBytes), closed, refused (the NATS client refused it), unavailable (an acknowledged PUBLISH answered with ERROR switchboard.error.cluster_unavailable)',
    source.stats.clusterUnsent,
  );
  fromCounter('switchboard_resume_answers_resent_total', 'Answers resent right after a resumed WELCOME', () => source.stats.resumeAnswersResent);
  fromCounter(
    'switchboard_resume_forwarded_dropped_total',
    'Answers forwarded from another cluster node for a moved session that went nowhere (a call whose caller never hears back, or whose session ended meanwhile; each warned in the log)',
    () => source.stats.resumeForwardedDropped,
  );

  new Counter({
    name: 'switchboard_bad_frames_total',
    help: 'Incoming frames refused before they became messages (undecodable, outside the WAMP data model, nested deeper than maxNestingDepth, broken framing); each aborts its session with wamp.error.protocol_violation',
    labelNames: ['serializer'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [serializer, n] of source.stats.badFrames) this.inc({ serializer }, n);
    },
  });

  new Counter({
    name: 'switchboard_unserializable_messages_total',
    help: "Messages not sent because the receiver's serializer cannot represent their payload (JSON: a text starting with U+0000); an EVENT is skipped for that subscriber, a call answer or INVOCATION becomes an ERROR to the caller",
    labelNames: ['serializer', 'type'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of source.stats.unserializable) {
        const [serializer = '', type = ''] = key.split(' ');
        this.inc({ serializer, type }, n);
      }
    },
  });

  new Counter({
    name: 'switchboard_auth_failures_total',
    help: 'Failed authentications, by method and reason',
    labelNames: ['method', 'reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of source.stats.authFailures) {
        const [method = '', reason = ''] = key.split(' ');
        this.inc({ method, reason }, n);
      }
    },
  });

  new Counter({
    name: 'switchboard_http_bridge_refused_total',
    help: 'HTTP bridge requests refused before any work, by reason (origin: a browser page of an origin its path does not allow)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of source.stats.httpBridgeRefused) this.inc({ reason }, n);
    },
  });

  new Counter({
    name: 'switchboard_calls_session_unattached_total',
    help: 'Calls answered wamp.error.session_unattached, by reason (no_attached_callee: every callee detached at the CALL; callee_detached: the callee detached while serving it)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of source.stats.callsUnattached) this.inc({ reason }, n);
    },
  });

  new Histogram({
    name: 'switchboard_call_duration_seconds',
    help: 'Routed calls, CALL received to final RESULT or ERROR sent',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
    collect() {
      const samples = source.stats.callSeconds;
      for (const s of samples) this.observe(s);
      samples.length = 0;
    },
  });

  // Event history (history/store.ts): sizes and counters read from the store at scrape time,
  // batch write durations as the engines report them (RouterStats.historyWriteSeconds).
  const perRealm = (name: string, help: string, pick: (size: { events: number; bytes: number }) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['realm'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [realm, size] of source.history?.()?.realms ?? []) this.set({ realm }, pick(size));
      },
    });
  };
  perRealm('switchboard_history_events', 'Events kept in the event history, by realm', (s) => s.events);
  perRealm(
    'switchboard_history_bytes',
    "Bytes the event history holds, by realm, as the store counts them (memory: the realm's estimate; sqlite, jetstream: encoded size)",
    (s) => s.bytes,
  );
  new Counter({
    name: 'switchboard_history_expired_total',
    help: 'Events removed from the event history by a limit: count (per topic limit), age (maxAgeMs), bytes (the realm budget maxHistoryBytes, or an event larger than it)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const expired = source.history?.()?.stats.expired;
      if (expired === undefined) return;
      this.inc({ reason: 'count' }, expired.count);
      this.inc({ reason: 'age' }, expired.age);
      this.inc({ reason: 'bytes' }, expired.bytes);
    },
  });
  fromCounter(
    'switchboard_history_write_failures_total',
    'Event history batches the store failed to write (disk full, NATS down); the events were still delivered',
    () => source.history?.()?.stats.failures ?? 0,
  );
  new Counter({
    name: 'switchboard_history_lost_total',
    help: 'Events the event history never stored or can no longer read: refused (the store closed, or its write queue full), dropped (a batch that kept failing), undecodable (a stored record that no longer decodes); the events were still delivered live',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const stats = source.history?.()?.stats;
      if (stats === undefined) return;
      this.inc({ reason: 'refused' }, stats.refused ?? 0);
      this.inc({ reason: 'dropped' }, stats.dropped ?? 0);
      this.inc({ reason: 'undecodable' }, stats.undecodable ?? 0);
    },
  });
  new Histogram({
    name: 'switchboard_history_write_seconds',
    help: 'Event history batch writes, one per event-loop turn with events to store (sqlite, jetstream)',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
    collect() {
      const samples = source.stats.historyWriteSeconds;
      for (const s of samples) this.observe(s);
      samples.length = 0;
    },
  });

  return registry;
}
