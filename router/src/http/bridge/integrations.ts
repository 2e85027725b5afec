/** The router's outgoing HTTP integrations (`httpIntegrations`): HTTP subscribers and callees. */
import type { Logger } from '../../log.js';
import type { RouterStats } from '../../stats.js';
import type { HttpIntegrationsFile } from './config.js';
import { HttpCallee } from './http-callee.js';
import { HttpSubscriber } from './http-subscriber.js';
import type { OpenBridgeSession } from './local-session.js';
import { SessionPool } from './sessions.js';

export class HttpIntegrations {
  readonly subscribers: HttpSubscriber[] = [];
  readonly callees: HttpCallee[] = [];
  readonly #pool: SessionPool;

  private constructor(connect: OpenBridgeSession) {
    this.#pool = new SessionPool(connect);
  }

  /** Subscribes and registers everything; a refused one (no such role, not authorized) fails the start. */
  static async start(config: HttpIntegrationsFile | undefined, connect: OpenBridgeSession, log: Logger, stats?: RouterStats): Promise<HttpIntegrations> {
    const out = new HttpIntegrations(connect);
    try {
      for (const [i, c] of (config?.subscribers ?? []).entries()) {
        const subscriber = new HttpSubscriber(c, log, stats);
        out.subscribers.push(subscriber);
        await subscriber.start(out.#pool).catch((err: Error) => {
          throw new Error(`/httpIntegrations/subscribers/${i}: cannot subscribe to ${c.topic}: ${err.message}`, { cause: err });
        });
      }
      for (const [i, c] of (config?.callees ?? []).entries()) {
        const callee = new HttpCallee(c, stats);
        out.callees.push(callee);
        await callee.start(out.#pool).catch((err: Error) => {
          throw new Error(`/httpIntegrations/callees/${i}: cannot register ${c.procedure}: ${err.message}`, { cause: err });
        });
      }
    } catch (err) {
      out.close();
      throw err;
    }
    return out;
  }

  close(): void {
    for (const s of this.subscribers) s.close();
    for (const c of this.callees) c.close();
    this.#pool.close();
  }
}
