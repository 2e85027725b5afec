/**
 * Client test support: sessions that leave when their test finishes, bounded waits on
 * subscriptions, and a TCP proxy that can cut or black-hole links. Every wait is bounded.
 */
import { connect as connectTcp, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { BaseConnection, Connection, connect, jsonCodec } from '@switchboard/client';
import { nodeSocketFactory } from '../src/node-socket.js';
import type { ApiContract, CallInput, CallResult, ConnectOptions, EventMessage, ProcedureHandler, Session, Subscription, Untyped } from '@switchboard/client';
import { within } from '../../router/test/helpers.js';

export { within };

/** Opens a session (no reconnect unless asked) that leaves when the test finishes. */
export async function open<Api extends ApiContract = Untyped>(
  url: string,
  serializer: SerializerName = 'json',
  options: Partial<ConnectOptions> = {},
): Promise<Session<Api>> {
  const session = await within(
    connect<Api>({ url, realm: 'realm1', serializers: [serializer], reconnect: false, ...options }),
    5000,
    `a ${serializer} session`,
  );
  onTestFinished(() => within(session.leave(), 5000, 'leave'));
  return session;
}

/** A Connection with events, opened; closed when the test finishes. */
export async function openConnection<Api extends ApiContract = Untyped>(options: ConnectOptions): Promise<Connection<Api>> {
  const connection = new Connection<Api>(options);
  onTestFinished(() => within(connection.close(), 5000, 'close'));
  await within(connection.open(), 5000, 'the connection to open');
  return connection;
}

/** The next event of an iterator-mode subscription, waiting at most `ms`. */
export async function nextEvent<A extends unknown[], K>(subscription: Subscription<A, K>, ms = 3000): Promise<EventMessage<A, K>> {
  const result = await within(subscription[Symbol.asyncIterator]().next(), ms, `an event on ${subscription.topic}`);
  if (result.done === true) throw new Error(`the subscription to ${subscription.topic} ended`);
  return result.value;
}

/** A deferred value. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let counter = 0;
/** A fresh URI per use, so no test sees another's traffic. */
export function uri(prefix: string): string {
  return `com.client.${prefix}.n${++counter}`;
}

interface Link {
  client: Socket;
  upstream: Socket;
  dead: boolean;
}

/**
 * A TCP proxy in front of a router. `blackhole()` stops forwarding on the links open now without
 * closing them (a half-open connection, as after a cable pull); new links forward normally.
 */
export class Proxy {
  /** While true, new connections are cut at once (the router looks unreachable through the proxy). */
  refuseNew = false;

  private constructor(
    readonly server: Server,
    readonly port: number,
    private readonly links: Set<Link>,
  ) {}

  static async start(targetPort: number): Promise<Proxy> {
    const links = new Set<Link>();
    let proxy: Proxy | undefined;
    const server = createServer((client) => {
      if (proxy?.refuseNew === true) {
        client.destroy();
        return;
      }
      const upstream = connectTcp(targetPort, '127.0.0.1');
      const link: Link = { client, upstream, dead: false };
      links.add(link);
      client.on('data', (chunk) => {
        if (!link.dead) upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        if (!link.dead) client.write(chunk);
      });
      const end = (): void => {
        links.delete(link);
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        socket.on('close', end);
        socket.on('error', end);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    const created = new Proxy(server, address.port, links);
    proxy = created;
    onTestFinished(() => created.close());
    return created;
  }

  get linkCount(): number {
    return this.links.size;
  }

  /** Links open now are closed at once (both sides see the TCP connection end); new links forward. */
  cut(): void {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
  }

  /** Links open now stop carrying bytes, in both directions, and stay open. */
  blackhole(): void {
    for (const link of this.links) link.dead = true;
  }

  close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A JSON connection whose outgoing frames are recorded (decoded), to show what went on the wire.
 * Closed when the test finishes.
 */
export async function recordingSession(url: string, options: Partial<ConnectOptions> = {}): Promise<{ session: Session; sent: unknown[][] }> {
  const sent: unknown[][] = [];
  const factory = nodeSocketFactory(false);
  const connection = new BaseConnection(
    { url, realm: 'realm1', reconnect: false, ...options },
    {
      socketFactory: () => (socketUrl, protocols, handlers) => {
        const socket = factory(socketUrl, protocols, handlers);
        return {
          send: (data) => {
            sent.push(jsonCodec.decode(data) as unknown[]);
            socket.send(data);
          },
          close: (code, reason) => socket.close(code, reason),
        };
      },
      codecs: { json: jsonCodec },
      missingCodecHint: 'json only',
    },
  );
  onTestFinished(() => within(connection.close(), 5000, 'close'));
  const session = await within(connection.open(), 5000, 'the recording session to open');
  return { session, sent };
}

/**
 * A callee for progressive call invocations: reads the chunks from details.input, answers each
 * one after the first with the count so far (a progressive result), and returns the sum of their
 * first arguments and the count.
 */
export const summingCallee: ProcedureHandler = async (args, _kwargs, details) => {
  let total = args[0] as number;
  let chunks = 1;
  for await (const chunk of details.input ?? []) {
    total += chunk.args[0] as number;
    chunks++;
    details.progress([chunks]);
  }
  return { total, chunks };
};

/** Streams [1], [2], [3] and the last chunk [4] to `procedure`; the final result and the progressive ones. */
export async function streamOneToFour(caller: Session, procedure: string): Promise<{ input: CallInput; result: CallResult<unknown>; acks: unknown[] }> {
  const input = caller.callWithInput(procedure);
  const acks: unknown[] = [];
  const reading = (async () => {
    for await (const progress of input) acks.push(progress.args[0]);
  })();
  input.send([1]);
  input.send([2]);
  input.send([3]);
  const result = await within(input.end([4]), 3000, 'the result of the streamed call');
  await reading;
  return { input, result, acks };
}
