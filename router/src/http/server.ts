/**
 * One node:http server per listening endpoint, shared by the WebSocket upgrade, `/health`, and
 * later the HTTP bridge and static files. Routes are exact paths.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export class HttpServer {
  readonly server: Server;
  readonly #routes = new Map<string, RequestHandler>();
  readonly #upgrades = new Map<string, UpgradeHandler>();

  constructor() {
    this.server = createServer((req, res) => this.#request(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    // A client that sends garbage gets 400 from Node; never an uncaught error.
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  route(path: string, handler: RequestHandler): void {
    this.#routes.set(path, handler);
  }

  upgrade(path: string, handler: UpgradeHandler): void {
    this.#upgrades.set(path, handler);
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req);
    const handler = this.#routes.get(path);
    if (handler !== undefined) return handler(req, res);
    if (this.#upgrades.has(path)) {
      return sendJson(res, 426, { error: 'this path accepts WebSocket connections only (Upgrade: websocket)' }, { Upgrade: 'websocket' });
    }
    sendJson(res, 404, { error: `no resource at ${path}` });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const handler = this.#upgrades.get(pathOf(req));
    if (handler === undefined) {
      const body = JSON.stringify({ error: `no WebSocket endpoint at ${pathOf(req)}` });
      socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    handler(req, socket, head);
  }
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
