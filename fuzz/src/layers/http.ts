/** HTTP requests for the long-poll, bridge and SSE layers: bounded in time and in bytes read. */
import { Agent, request } from 'node:http';
import type { ClientRequest } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface HttpResult {
  status: number;
  body: Buffer;
}

export interface HttpOptions {
  /** Stop reading after this long (streams: SSE, a held long-poll receive). */
  abortAfterMs?: number;
  maxReadBytes?: number;
}

/** Never rejects: a refused or reset request resolves with status 0. */
export function http(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array | undefined,
  options: HttpOptions = {},
): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve) => {
    let done = false;
    const chunks: Buffer[] = [];
    let status = 0;
    let read = 0;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ status, body: Buffer.concat(chunks) });
    };
    const timer = setTimeout(finish, options.abortAfterMs ?? 5000);
    let req: ClientRequest;
    try {
      req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (c: Buffer) => {
          read += c.length;
          if (read <= (options.maxReadBytes ?? 1 << 20)) chunks.push(c);
          else finish();
        });
        res.on('end', () => {
          done = true;
          clearTimeout(timer);
          resolve({ status, body: Buffer.concat(chunks) });
        });
        res.on('error', finish);
      });
    } catch {
      // Node refuses some paths and header values outright (the raw layers send those).
      clearTimeout(timer);
      resolve({ status: 0, body: Buffer.alloc(0) });
      return;
    }
    req.on('error', finish);
    req.end(body);
  });
}
