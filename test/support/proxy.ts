/**
 * A cutting TCP proxy for the session-resumption tests (issue #18): clients connect through it,
 * and the test pulls the cable under them — every connection at once (`cutAll()`) or one chosen
 * connection (`link.cut()`). A cut destroys both sockets of the link: the client sees its TCP
 * connection end with no GOODBYE and no WebSocket close frame, the router sees its side end the
 * same way, and whatever the proxy had read but not yet written is lost, as on a real network.
 *
 *   const proxy = await CuttingProxy.start([router.addresses[0]!.port]);
 *   const connection = new Connection({ url: proxy.url('/ws'), realm: 'realm1' });
 *   proxy.cutAll();                                  // or proxy.links[0]!.cut('reset')
 *
 * With several upstream ports it alternates: each new connection goes to the next one in turn
 * (a client's every reconnect goes to another cluster node). Stopped when the test finishes.
 *
 * `partition(true)` cuts every link and refuses new ones (each is closed as soon as accepted)
 * until `partition(false)`: a network partition between the proxy's clients and their upstream,
 * which a client's reconnect attempts cannot cross (the cluster partition tests put one between
 * a router node and nats-server).
 */
import { connect as tcpConnect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { onTestFinished } from 'vitest';

/** How a link is cut: `destroy` closes both sockets (FIN); `reset` sends a TCP RST on both. */
export type CutMode = 'destroy' | 'reset';

/** One client connection through the proxy and its upstream connection. */
export interface ProxyLink {
  /** 1, 2, 3… in the order the proxy accepted the connections. */
  readonly id: number;
  /** The upstream port this link goes to. */
  readonly target: number;
  /** Whether both sockets are still open (false once cut or closed by either end). */
  readonly open: boolean;
  /** Cuts this link: both sockets at once, nothing more forwarded either way. */
  cut(mode?: CutMode): void;
}

interface Link extends ProxyLink {
  open: boolean;
}

export class CuttingProxy {
  /** Connections accepted so far (cut or not), by upstream port. */
  readonly accepted = new Map<number, number>();
  readonly #links = new Set<Link>();
  #next = 0;
  #ids = 0;
  #waiters: { count: number; resolve: () => void }[] = [];
  #partitioned = false;

  private constructor(
    readonly server: Server,
    readonly targets: readonly number[],
  ) {}

  /** Listens on 127.0.0.1, an ephemeral port, forwarding to 127.0.0.1:`targets[i]` (in turn). */
  static async start(targets: readonly number[]): Promise<CuttingProxy> {
    if (targets.length === 0) throw new TypeError('the proxy needs at least one upstream port');
    let proxy!: CuttingProxy;
    const server = createServer({ noDelay: true }, (client) => proxy.#accept(client));
    proxy = new CuttingProxy(server, targets);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    onTestFinished(() => proxy.close());
    return proxy;
  }

  /** The proxy's port. */
  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  /** A URL through the proxy: `ws://127.0.0.1:PORT` + `path`. */
  url(path = '/ws', scheme = 'ws'): string {
    return `${scheme}://127.0.0.1:${this.port}${path}`;
  }

  /** The links open now, oldest first. */
  get links(): ProxyLink[] {
    return [...this.#links];
  }

  /** How many connections the proxy has accepted in all. */
  get acceptedTotal(): number {
    return this.#ids;
  }

  /** Cuts every link open now; new connections are forwarded as before. Answers how many were cut. */
  cutAll(mode: CutMode = 'destroy'): number {
    const links = [...this.#links];
    for (const link of links) link.cut(mode);
    return links.length;
  }

  /** Whether new connections are refused (a partition is on). */
  get partitioned(): boolean {
    return this.#partitioned;
  }

  /**
   * On: every open link is cut (`mode`) and new connections are closed as soon as accepted, until
   * it is turned off again (the partition heals: new connections are forwarded as before).
   */
  partition(on: boolean, mode: CutMode = 'destroy'): void {
    this.#partitioned = on;
    if (on) this.cutAll(mode);
  }

  /** Resolves once the proxy has accepted `count` connections in all (bounded by `ms`). */
  accepts(count: number, ms = 10_000): Promise<void> {
    if (this.#ids >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = { count, resolve };
      this.#waiters.push(waiter);
      setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${ms} ms waiting for connection #${count} through the proxy (${this.#ids} so far)`));
      }, ms).unref();
    });
  }

  /** Cuts every link and stops listening. Idempotent. */
  close(): Promise<void> {
    this.cutAll();
    if (!this.server.listening) return Promise.resolve();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#partitioned) {
      client.on('error', () => undefined);
      client.destroy();
      return;
    }
    const target = this.targets[this.#next++ % this.targets.length]!;
    this.accepted.set(target, (this.accepted.get(target) ?? 0) + 1);
    const upstream = tcpConnect({ host: '127.0.0.1', port: target, noDelay: true });
    const id = ++this.#ids;
    const links = this.#links;
    const link: Link = {
      id,
      target,
      open: true,
      cut(mode: CutMode = 'destroy') {
        if (!link.open) return;
        link.open = false;
        links.delete(link);
        // Stop reading first: nothing read from now on is forwarded.
        client.pause();
        upstream.pause();
        for (const socket of [client, upstream]) {
          if (mode === 'reset' && !socket.connecting && !socket.destroyed) socket.resetAndDestroy();
          else socket.destroy();
        }
      },
    };
    links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (link.open) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (link.open) client.write(chunk);
    });
    // Either end closing (or failing) ends the link as a cut: the other end sees it end too.
    for (const socket of [client, upstream]) {
      socket.on('error', () => link.cut());
      socket.on('close', () => link.cut());
    }
    for (const waiter of this.#waiters.filter((w) => w.count <= id)) waiter.resolve();
    this.#waiters = this.#waiters.filter((w) => w.count > id);
  }
}
