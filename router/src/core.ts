import type { SessionId } from '@switchboard/schemas';
import type { Logger } from './log.js';
import type { RouterStats } from './stats.js';
import type { Realm } from './realm.js';
import type { Resumption } from './resumption.js';

/** What a connection and its sessions need from the router that owns them. */
export interface RouterCore {
  /** The `session` module's logger. */
  readonly sessionLog: Logger;
  /** Enforce the spec's sequential session-scope request IDs. */
  readonly sequentialRequestIds: boolean;
  /** How long a client has to answer a CHALLENGE. */
  readonly authTimeoutMs: number;
  /** Counters for /metrics. */
  readonly stats: RouterStats;
  realm(name: string): Realm | undefined;
  /** A fresh global-scope session ID, unique among live sessions. */
  newSessionId(): SessionId;
  /** The session with this ID has ended; the ID may be drawn again. */
  releaseSessionId(id: SessionId): void;
  /** Session resumption: resumable sessions, tokens, detached sessions (resumption.ts). */
  readonly resumption: Resumption;
}
