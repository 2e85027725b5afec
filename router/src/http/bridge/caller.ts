/**
 * A `caller` path: POST/PUT `{"procedure", "args"?, "kwargs"?, "timeout"?}` → CALL → 200
 * `{"args": [...], "kwargs": {...}}`. A WAMP error (the dealer's or the callee's) is 200
 * `{"error": uri, "args", "kwargs"}` as Crossbar's clients expect, or its real status on a strict
 * path. A client that goes away cancels its call. [Crossbar: HTTP Bridge Caller]
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Args, Dict, Kwargs } from '@switchboard/schemas';
import { ConnectionsPerIp, remoteIp } from '../admission.js';
import type { BridgePath } from './config.js';
import type { Admitted } from './guard.js';
import { argsField, dictBody, kwargsField, uriField } from './payload.js';
import { HttpRefusal, NotRepresentable, bridgeJson, sendBody, sendText } from './respond.js';
import type { SessionPool } from './sessions.js';
import { errorAnswer } from './status.js';

export class CallerPath {
  readonly methods = 'POST,PUT,OPTIONS';
  /**
   * Calls in flight per client address. Every request acts through one shared bridge session, so
   * this, not the realm's per-session quota, is what keeps one client from holding them all.
   */
  readonly #inFlight: ConnectionsPerIp;

  constructor(
    private readonly path: BridgePath,
    private readonly pool: SessionPool,
    /** Counts a refusal by its config key (switchboard_limits_exceeded_total). */
    private readonly onRefused: (limit: string) => void = () => undefined,
  ) {
    this.#inFlight = new ConnectionsPerIp(path.maxConcurrentCallsPerIp);
  }

  async handle(req: IncomingMessage, res: ServerResponse, admitted: Admitted): Promise<void> {
    const body = dictBody(admitted.json);
    const procedure = uriField(body, 'procedure');
    const args = argsField(body);
    const kwargs = kwargsField(body);
    const timeout = this.#timeout(body['timeout']);
    const options: Dict = timeout > 0 ? { timeout } : {};
    const ip = remoteIp(req.socket);
    if (!this.#inFlight.acquire(ip)) {
      this.onRefused('maxConcurrentCallsPerIp');
      throw new HttpRefusal(429, `too many calls in flight from ${ip} on this path (at most ${this.#inFlight.limit}: maxConcurrentCallsPerIp)`);
    }
    try {
      await this.#call(res, admitted, procedure, args, kwargs, options);
    } finally {
      this.#inFlight.release(ip);
    }
  }

  /** The body's timeout, no longer than the path's (when it has one); 0: none. */
  #timeout(asked: unknown): number {
    const most = this.path.callTimeoutMs;
    if (asked === undefined) return most;
    if (typeof asked !== 'number' || !Number.isInteger(asked) || asked < 0)
      throw new HttpRefusal(400, "request body: 'timeout' must be a non-negative integer (milliseconds)");
    if (most === 0) return asked;
    return asked === 0 ? most : Math.min(asked, most);
  }

  async #call(res: ServerResponse, admitted: Admitted, procedure: string, args: Args | undefined, kwargs: Kwargs | undefined, options: Dict): Promise<void> {
    const gone = new AbortController();
    const onClose = (): void => {
      if (!res.writableEnded) gone.abort();
    };
    res.once('close', onClose);
    try {
      const session = await this.pool.get(admitted.identity);
      const result = await session.call(procedure, args, kwargs, options, gone.signal);
      // A result the bridge's JSON cannot carry is the call's error (invalid_argument, as the
      // dealer answers a JSON caller whose callee's answer its serializer cannot carry).
      sendText(res, 200, bridgeJson({ args: result.args, kwargs: result.kwargs }));
    } catch (err) {
      const answer = errorAnswer(err, this.path.strict);
      // Then it is the callee's answer, not the request, that failed: strict says 502, not 400.
      if (err instanceof NotRepresentable && this.path.strict) answer.status = 502;
      sendBody(res, answer.status, answer.body);
    } finally {
      res.off('close', onClose);
    }
  }
}
