/**
 * The HTTP bridge of one listener: its paths (publisher, caller, webhook, sse) routed on the
 * listener's HttpServer, the sessions they act through, and the OpenAPI document.
 *
 * Every request goes: Crossbar's common headers → the path's CORS policy (cors.ts: 403 for a page of
 * another origin) → method (405) / OPTIONS → the path's guard
 * (guard.ts) → the path's handler. A refusal answers Crossbar's `{"error": message, "args": [],
 * "kwargs": {}}` with its status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorUri } from '@switchboard/schemas';
import { logRefusal } from '../../log.js';
import type { Logger } from '../../log.js';
import type { InboundBudget } from '../../transports/inbound-budget.js';
import type { Realm } from '../../realm.js';
import type { Admission } from '../admission.js';
import type { RouterStats } from '../../stats.js';
import type { HttpServer } from '../server.js';
import { CallerPath } from './caller.js';
import type { BridgePath, HttpBridgeConfig } from './config.js';
import { CorsPolicy } from './cors.js';
import { PathGuard } from './guard.js';
import type { Admitted } from './guard.js';
import type { OpenBridgeSession } from './local-session.js';
import { openApiDocument } from './openapi.js';
import { PublisherPath } from './publisher.js';
import { HttpRefusal, answerOptions, commonHeaders, sendBody, sendRefusal, sendText } from './respond.js';
import { SessionPool } from './sessions.js';
import { SsePath } from './sse.js';
import { WebhookPath } from './webhook.js';

/** What the bridge needs from the router. */
export interface BridgeHost {
  readonly log: Logger;
  readonly stats: RouterStats;
  realm(name: string): Realm | undefined;
  openBridgeSession: OpenBridgeSession;
}

interface PathHandler {
  readonly methods: string;
  handle(req: IncomingMessage, res: ServerResponse, admitted: Admitted): Promise<void>;
}

interface Route {
  path: BridgePath;
  handler: PathHandler;
  guard: PathGuard;
  cors: CorsPolicy;
}

export class HttpBridge {
  readonly #config: HttpBridgeConfig;
  readonly #host: BridgeHost;
  readonly #pool: SessionPool;
  readonly #routes: Route[] = [];
  readonly #sse: SsePath[] = [];

  /** `admission`: the listener's gate, which SSE streams (long-lived, browser-reachable) pass. */
  constructor(
    config: HttpBridgeConfig,
    host: BridgeHost,
    options: { maxBodyBytes: number; maxNestingDepth?: number; maxMessageItems?: number; admission?: Admission; inbound?: InboundBudget },
  ) {
    this.#config = config;
    this.#host = host;
    this.#pool = new SessionPool((identity) => host.openBridgeSession(identity));
    for (const path of config.paths) {
      let handler: PathHandler;
      switch (path.type) {
        case 'publisher':
          handler = new PublisherPath(path, this.#pool);
          break;
        case 'caller':
          handler = new CallerPath(path, this.#pool, (limit) => host.stats.limitExceeded(limit));
          break;
        case 'webhook':
          handler = new WebhookPath(path, this.#pool, host.log);
          break;
        case 'sse': {
          const sse = new SsePath(path, this.#pool, (name) => host.realm(name), host.log, options.admission);
          this.#sse.push(sse);
          handler = sse;
          break;
        }
      }
      const guard = new PathGuard(path, {
        json: path.type === 'publisher' || path.type === 'caller',
        body: path.type !== 'sse',
        maxBodyBytes: options.maxBodyBytes,
        maxNestingDepth: options.maxNestingDepth,
        maxMessageItems: options.maxMessageItems,
        ...(options.inbound !== undefined && { inbound: options.inbound }),
        onInboundRefused: (req, limit) => {
          host.stats.limitExceeded('maxInboundBytes');
          logRefusal(
            host.log,
            'maxInboundBytes',
            { path: path.path, peer: req.socket.remoteAddress, limit },
            `HTTP bridge request refused (503): the listener's budget for incoming messages in progress (maxInboundBytes ${limit}) is used up`,
          );
        },
      });
      this.#routes.push({ path, handler, guard, cors: new CorsPolicy(path.cors) });
    }
  }

  /** Routes the paths (and the OpenAPI document) on the listener's server. */
  mount(server: HttpServer): void {
    for (const route of this.#routes) server.route(route.path.path, (req, res) => this.#serve(route, req, res));
    const openapi = this.#config.openapi;
    if (openapi !== undefined) {
      const text = JSON.stringify(openApiDocument(this.#config.paths), null, 2);
      server.route(openapi, (req, res) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendBody(res, 405, { error: 'only GET', args: [], kwargs: {} }, { Allow: 'GET,HEAD' });
        res.setHeader('Access-Control-Allow-Origin', '*');
        sendText(res, 200, text, { 'Content-Type': 'application/json' });
      });
    }
  }

  /**
   * Joins every identity the paths act as, so that a realm or role that does not exist stops the
   * router at start rather than failing requests later.
   */
  async start(): Promise<void> {
    const identities = this.#config.paths.flatMap((p) => [
      { realm: p.realm, authid: p.authid, authrole: p.role, path: p.path },
      ...p.tokens.map((t) => ({ realm: p.realm, authid: t.authid, authrole: t.role, path: p.path })),
    ]);
    for (const { path, ...identity } of identities) {
      try {
        await this.#pool.get(identity);
      } catch (err) {
        throw new Error(`HTTP bridge path ${path}: cannot act as role '${identity.authrole}' in realm '${identity.realm}': ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
  }

  close(): void {
    for (const sse of this.#sse) sse.close();
    this.#pool.close();
  }

  #serve(route: Route, req: IncomingMessage, res: ServerResponse): void {
    commonHeaders(res);
    const foreign = route.cors.admit(req, res);
    if (foreign !== undefined) {
      this.#host.stats.httpBridgeRefusal('origin');
      this.#host.log.debug({ path: route.path.path, origin: req.headers.origin }, 'HTTP bridge: request from another origin refused');
      return sendRefusal(res, new HttpRefusal(403, foreign));
    }
    const method = req.method ?? '';
    const allowed = route.handler.methods;
    if (!allowed.split(',').includes(method)) {
      const only = allowed.replace(',OPTIONS', '').replaceAll(',', ', ');
      return sendRefusal(res, new HttpRefusal(405, `method not accepted by the HTTP bridge (${method} not allowed, only ${only})`, { Allow: allowed }));
    }
    if (method === 'OPTIONS') return answerOptions(res, allowed);
    route.guard
      .admit(req)
      .then((admitted) => route.handler.handle(req, res, admitted))
      .catch((err: unknown) => {
        if (err instanceof HttpRefusal) return sendRefusal(res, err);
        this.#host.log.error({ err, path: route.path.path }, 'HTTP bridge: internal error');
        sendBody(res, 500, { error: ErrorUri.RuntimeError, args: ['Sorry, the router has encountered a problem.'], kwargs: {} });
      })
      .catch((err: unknown) => {
        // Answering failed too: this request ends, unanswered; the process goes on.
        this.#host.log.error({ err, path: route.path.path }, 'HTTP bridge: cannot answer');
        res.destroy();
      });
  }
}
