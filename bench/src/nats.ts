/**
 * nats-server for the cluster scenario: JetStream on (`-js`, its store in a temporary directory),
 * client and monitoring ports on 127.0.0.1 (fresh ports), tracked like every other child and
 * removed with its store on stop(). The monitoring endpoint's /connz gives per-connection message
 * counts, by connection name (a cluster node's is `switchboard-<node>`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild, track } from './children.js';
import { sleep } from './clock.js';
import { freePort } from './targets.js';

export const NATS_SERVER_PATHS = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'];

export function natsServerBin(): string | undefined {
  return NATS_SERVER_PATHS.find((p) => existsSync(p));
}

/** One client connection in /connz: messages and bytes as nats-server counts them (in: from the client). */
export interface NatsConnection {
  name: string;
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
}

export interface BenchNats {
  readonly url: string;
  readonly pid: number;
  /** Every client connection, from the monitoring endpoint. */
  connz(): Promise<NatsConnection[]>;
  output(): string;
  stop(): Promise<void>;
}

export async function startBenchNats(): Promise<BenchNats> {
  const bin = natsServerBin();
  if (bin === undefined) throw new Error(`no nats-server binary (looked at ${NATS_SERVER_PATHS.join(', ')}): apt-get install nats-server`);
  const storeDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-nats-'));
  const port = await freePort();
  const monitorPort = await freePort();
  const child = track(
    spawn(bin, ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-n', `switchboard-bench-${process.pid}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let text = '';
  const keep = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = async (): Promise<void> => {
    await stopChild(child);
    rmSync(storeDir, { recursive: true, force: true });
  };
  const monitor = `http://127.0.0.1:${monitorPort}`;
  // Bounded: about 10 s.
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (/Server is ready/.test(text)) {
      try {
        const res = await fetch(`${monitor}/healthz`);
        if (res.ok && child.pid !== undefined) {
          const pid = child.pid;
          return {
            url: `nats://127.0.0.1:${port}`,
            pid,
            output: () => text,
            stop,
            async connz() {
              const body = (await (await fetch(`${monitor}/connz?limit=1024`)).json()) as {
                connections?: { name?: string; in_msgs?: number; out_msgs?: number; in_bytes?: number; out_bytes?: number }[];
              };
              return (body.connections ?? []).map((c) => ({
                name: c.name ?? '',
                inMsgs: c.in_msgs ?? 0,
                outMsgs: c.out_msgs ?? 0,
                inBytes: c.in_bytes ?? 0,
                outBytes: c.out_bytes ?? 0,
              }));
            },
          };
        }
      } catch {
        // not listening yet
      }
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`nats-server did not start on ${port}:\n${text}`);
}
