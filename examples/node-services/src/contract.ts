/**
 * The URI contract the services, the worker and every caller share: declared once, checked by the
 * compiler everywhere (`connect<Api>()`). Procedures and topics are separate maps.
 */

/** What `com.example.services.add` answers: the sum, and which service process computed it. */
export interface Sum {
  sum: number;
  servedBy: string;
}

/** What `com.example.services.stats` answers. */
export interface ServiceStats {
  service: string;
  pid: number;
  served: number;
}

/** What `com.example.jobs.start` answers at once; the work goes on, reported by events. */
export interface JobReceipt {
  job: string;
  worker: string;
  steps: number;
}

export interface Api {
  procedures: {
    /** Shared by every service process (`invoke: 'roundrobin'`). */
    'com.example.services.add': { args: [a: number, b: number]; result: Sum };
    'com.example.services.stats': { result: ServiceStats };
    /** Starts a job of `steps` steps on the worker. */
    'com.example.jobs.start': { args: [steps: number]; kwargs: { label?: string }; result: JobReceipt };
  };
  topics: {
    /** After each step of a job. */
    'com.example.jobs.progress': { args: [done: number, total: number]; kwargs: { job: string; label: string; worker: string } };
    /** When a job has finished. */
    'com.example.jobs.done': { kwargs: { job: string; label: string; worker: string; elapsedMs: number } };
  };
}

/** Where the router is: WAMP_URL, WAMP_REALM (defaults: ws://localhost:8080/ws, realm1). */
export const ROUTER = {
  url: process.env['WAMP_URL'] ?? 'ws://localhost:8080/ws',
  realm: process.env['WAMP_REALM'] ?? 'realm1',
};

/** Leaves the realm cleanly on SIGINT/SIGTERM, then exits 0. */
export function leaveOnSignal(leave: () => Promise<void>): void {
  const stop = (): void => {
    void leave().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
