/**
 * A router stand-in at the frame level, for what the real router does not do (yet) or must never
 * do: CHALLENGE, ABORT on join, a dealer without call_canceling, protocol violations. The test
 * scripts each frame. JSON only. Every wait is bounded.
 */
import { onTestFinished } from 'vitest';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { MessageCode } from '@switchboard/schemas';
import { FrameQueue } from '../../router/test/frame-queue.js';

export class FakePeer {
  readonly #inbox = new FrameQueue<unknown[]>('a frame from the client');
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.#inbox.push(JSON.parse(data.toString('utf8')) as unknown[]));
    this.closed = new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  }

  send(frame: unknown[]): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  next(ms = 3000): Promise<unknown[]> {
    return this.#inbox.next(ms);
  }

  /** The next frame, which must have this message code. */
  async expect(code: number, ms = 3000): Promise<unknown[]> {
    const frame = await this.next(ms);
    if (frame[0] !== code) throw new Error(`expected message ${code}, got ${JSON.stringify(frame)}`);
    return frame;
  }

  /** Reads HELLO and answers WELCOME with these router roles. */
  async welcome(roles: Record<string, unknown> = { broker: { features: {} }, dealer: { features: {} } }, session = 4242): Promise<unknown[]> {
    const hello = await this.expect(MessageCode.Hello);
    this.send([MessageCode.Welcome, session, { roles, authid: 'fake', authrole: 'anonymous' }]);
    return hello;
  }
}

export class FakeRouter {
  readonly #peers = new FrameQueue<FakePeer>('a client connection');

  private constructor(
    readonly server: WebSocketServer,
    readonly url: string,
  ) {
    server.on('connection', (ws) => this.#peers.push(new FakePeer(ws)));
  }

  static async start(): Promise<FakeRouter> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => (protocols.has('wamp.2.json') ? 'wamp.2.json' : false) });
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const router = new FakeRouter(server, `ws://127.0.0.1:${address.port}/ws`);
    onTestFinished(() => router.close());
    return router;
  }

  /** The next client connection. */
  peer(ms = 3000): Promise<FakePeer> {
    return this.#peers.next(ms);
  }

  close(): Promise<void> {
    for (const ws of this.server.clients) ws.terminate();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
