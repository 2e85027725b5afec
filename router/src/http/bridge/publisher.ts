/**
 * A `publisher` path: POST/PUT `{"topic", "args"?, "kwargs"?, "options"?}` → acknowledged PUBLISH
 * → 200 `{"id": publication}`. Beyond Crossbar: a JSON array publishes a batch (answered with one
 * result per publication, in order), and an `Idempotency-Key` header makes a retried request
 * answer like the first instead of publishing again. [Crossbar: HTTP Bridge Publisher]
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Args, Dict, Kwargs } from '@switchboard/schemas';
import type { BridgePath } from './config.js';
import type { Admitted } from './guard.js';
import { IdempotencyCache, MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency.js';
import type { Answer } from './idempotency.js';
import type { BridgeSession } from './local-session.js';
import { argsField, dictBody, kwargsField, optionsField, uriField } from './payload.js';
import { HttpRefusal, sendBody } from './respond.js';
import type { SessionPool } from './sessions.js';
import { errorAnswer } from './status.js';

/** PUBLISH.Options a request may set; `acknowledge` is always on. */
const PUBLISH_OPTIONS = [
  'exclude',
  'eligible',
  'exclude_authid',
  'eligible_authid',
  'exclude_authrole',
  'eligible_authrole',
  'exclude_me',
  'retain',
  'disclose_me',
] as const;

interface Publication {
  topic: string;
  args: Args | undefined;
  kwargs: Kwargs | undefined;
  options: Dict;
}

function publicationOf(value: unknown, where?: string): Publication {
  const body = dictBody(value, where);
  const given = optionsField(body, where);
  const options: Dict = {};
  for (const key of PUBLISH_OPTIONS) if (given[key] !== undefined) options[key] = given[key];
  return { topic: uriField(body, 'topic', where), args: argsField(body, where), kwargs: kwargsField(body, where), options };
}

export class PublisherPath {
  readonly methods = 'POST,PUT,OPTIONS';
  readonly #idempotency: IdempotencyCache;

  constructor(
    private readonly path: BridgePath,
    private readonly pool: SessionPool,
  ) {
    this.#idempotency = new IdempotencyCache(path.idempotencyTtlMs);
  }

  async handle(req: IncomingMessage, res: ServerResponse, admitted: Admitted): Promise<void> {
    const value = admitted.json;
    // Everything is checked before anything is published.
    let work: () => Promise<Answer>;
    if (Array.isArray(value)) {
      if (value.length > this.path.maxBatch) throw new HttpRefusal(400, `a batch holds at most ${this.path.maxBatch} publications (${value.length} given)`);
      const batch = value.map((item, i) => publicationOf(item, `publication ${i}`));
      work = () => this.#batch(admitted, batch);
    } else {
      const publication = publicationOf(value);
      work = () => this.#one(admitted, publication);
    }
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '') {
      const answer = await work();
      return sendBody(res, answer.status, answer.body);
    }
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw new HttpRefusal(400, `Idempotency-Key longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    const scope = `${admitted.identity.authid}\0${admitted.identity.authrole}`;
    const digest = createHash('sha256').update(admitted.body).digest('base64');
    const answer = await this.#idempotency.run(scope, key, digest, work);
    if (answer === 'mismatch') throw new HttpRefusal(422, 'this Idempotency-Key was used with a different request body');
    sendBody(res, answer.status, answer.body);
  }

  async #session(admitted: Admitted): Promise<BridgeSession> {
    return this.pool.get(admitted.identity);
  }

  async #one(admitted: Admitted, p: Publication): Promise<Answer> {
    try {
      const session = await this.#session(admitted);
      return { status: 200, body: { id: await session.publish(p.topic, p.args, p.kwargs, p.options) } };
    } catch (err) {
      return errorAnswer(err, this.path.strict);
    }
  }

  async #batch(admitted: Admitted, batch: Publication[]): Promise<Answer> {
    let session: BridgeSession;
    try {
      session = await this.#session(admitted);
    } catch (err) {
      return errorAnswer(err, this.path.strict);
    }
    // Sent in order on one session, so subscribers get them in order.
    const results = await Promise.all(
      batch.map((p) =>
        session.publish(p.topic, p.args, p.kwargs, p.options).then(
          (id) => ({ id }),
          (err: unknown) => errorAnswer(err, this.path.strict).body,
        ),
      ),
    );
    return { status: 200, body: results };
  }
}
