/**
 * A `webhook` path: whatever body arrives (GitHub, Stripe, a form…) is published to the configured topic as one
 * argument `{"headers": {name: [values]}, "body": text}`; 202 with `success_response`, or 500 with
 * `error_response` when the publication fails. [Crossbar: HTTP Bridge Webhook]
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BridgePath } from './config.js';
import type { Admitted } from './guard.js';
import { sendText } from './respond.js';
import type { SessionPool } from './sessions.js';
import type { Logger } from '../../log.js';

/** Header names as Twisted writes them (`Content-Type`, `X-Hub-Signature`), each with its list of values. */
function headersOf(req: IncomingMessage): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
    (out[name] ??= []).push(req.rawHeaders[i + 1]!);
  }
  return out;
}

export class WebhookPath {
  readonly methods = 'POST,PUT,OPTIONS';

  constructor(
    private readonly path: BridgePath,
    private readonly pool: SessionPool,
    private readonly log: Logger,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, admitted: Admitted): Promise<void> {
    const hook = this.path.webhook!;
    try {
      const session = await this.pool.get(admitted.identity);
      await session.publish(hook.topic, [{ headers: headersOf(req), body: admitted.text }], undefined, {});
      sendText(res, 202, hook.successResponse);
    } catch (err) {
      this.log.error({ path: this.path.path, topic: hook.topic, err: (err as Error).message }, 'webhook: cannot publish');
      sendText(res, 500, hook.errorResponse);
    }
  }
}
