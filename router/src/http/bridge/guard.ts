/**
 * A bridge path's admission checks, in Crossbar's order and with its status codes, then the
 * Switchboard additions (replay protection, bearer tokens):
 *
 *   content type (application/json) and charset (UTF-8)  → 400
 *   several Content-Length headers, or one the body does not match → 400
 *   body over post_body_limit → 413
 *   GitHub X-Hub-Signature (webhooks with github_secret) → 400
 *   signed request fields (missing, malformed, stale timestamp) → 400; unknown key, bad signature → 401
 *   replayed nonce, seq not increasing, unknown or missing bearer token → 401
 *   require_ip, require_tls → 400
 *   body not UTF-8 → 400; not JSON → 400; a string that starts with U+0000 and is not base64 → 400
 *
 * Method checks (405) and OPTIONS come before, in the path handler. [Crossbar: _CommonResource.render]
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, DecodeError, scanJson } from '@switchboard/schemas';
import type { BridgePath } from './config.js';
import type { BridgeIdentity } from './local-session.js';
import { parseQuery, queryText } from './query.js';
import type { Query } from './query.js';
import { ReplayGuard } from './replay.js';
import { HttpRefusal } from './respond.js';
import { computeSignature, isIntegerText, parseTimestamp, sameBytes } from './signature.js';
import { TokenTable } from './tokens.js';
import type { InboundBudget } from '../../transports/inbound-budget.js';

export interface Admitted {
  /** The raw body. */
  body: Buffer;
  /** The body as text (checked UTF-8). */
  text: string;
  /** The parsed JSON body (JSON paths only). */
  json: unknown;
  query: Query;
  /** Who the request acts as: a bearer token's identity, or the path's. */
  identity: BridgeIdentity;
  /** Set when the request was signed (the key), for per-key state. */
  key: string | undefined;
}

export interface GuardOptions {
  /** Check the content type and parse the body as JSON (publisher, caller); webhooks take any body. */
  json: boolean;
  /** A body is expected at all (not for SSE's GET). */
  body: boolean;
  /** The listener's largest message: the body limit when post_body_limit is 0. */
  maxBodyBytes: number;
  /** The listener's maxNestingDepth and maxMessageItems, which a JSON body is held to as a WebSocket message is. */
  maxNestingDepth?: number;
  maxMessageItems?: number;
  /** Milliseconds since the epoch (injected for tests). */
  now?: () => number;
  /**
   * The listener's budget for incoming messages in progress (maxInboundBytes), shared with its
   * transports: a body is charged as it streams in and given back once read; one that would pass
   * the budget is refused with 503 at once.
   */
  inbound?: InboundBudget;
  /** Hears of a body refused for the inbound budget (to count and log it). */
  onInboundRefused?: (req: IncomingMessage, limit: number) => void;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** A body string the bridge cannot take: a JSON.parse reviver throws it, admit() answers 400. */
class BadBinary extends Error {}

/**
 * WAMP's JSON convention in bodies: a string that starts with U+0000 is "\0" + base64 binary
 * (as it is for JSON peers, and as the bridge writes binary in its answers). Any other string
 * that starts with U+0000 has no meaning, and is refused. [bp_binary_conversion_of_json]
 */
function reviveBinary(_key: string, value: unknown): unknown {
  if (typeof value !== 'string' || value.charCodeAt(0) !== 0) return value;
  const text = value.slice(1);
  if (!BASE64.test(text)) throw new BadBinary('a string that starts with U+0000 must be base64 binary ("\\u0000" + base64)');
  const bytes = Buffer.from(text, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Most nonces remembered per signing key. */
const MAX_NONCES = 100_000;

/** require_ip as a BlockList; the config check (`isNetwork` in config.ts) has accepted every entry. */
function networks(list: readonly string[]): BlockList {
  const blocks = new BlockList();
  for (const entry of list) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) blocks.addAddress(address, family);
    else blocks.addSubnet(address, Number(prefix), family);
  }
  return blocks;
}

function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export class PathGuard {
  readonly #path: BridgePath;
  readonly #options: GuardOptions;
  readonly #limit: number;
  readonly #tokens: TokenTable;
  readonly #replay: ReplayGuard;
  readonly #allowed: BlockList | undefined;
  readonly #now: () => number;

  constructor(path: BridgePath, options: GuardOptions) {
    this.#path = path;
    this.#options = options;
    this.#limit = path.options.postBodyLimit > 0 ? path.options.postBodyLimit : options.maxBodyBytes;
    this.#tokens = new TokenTable(path.tokens);
    this.#replay = new ReplayGuard({ maxNonces: MAX_NONCES, requireIncreasingSeq: path.requireIncreasingSeq });
    this.#allowed = path.options.requireIp === undefined ? undefined : networks(path.options.requireIp);
    this.#now = options.now ?? Date.now;
  }

  /** Runs every check; throws HttpRefusal for the first that fails. */
  async admit(req: IncomingMessage): Promise<Admitted> {
    this.#contentType(req);
    const declared = this.#contentLength(req);
    const body = this.#options.body ? await this.#read(req, declared) : Buffer.alloc(0);
    if (this.#path.webhook?.githubSecret !== undefined) this.#github(req, this.#path.webhook.githubSecret, body);
    const query = parseQuery(req.url);
    // Only paths with tokens read Authorization (another scheme counts as none).
    const bearer = this.#tokens.size > 0 ? (TokenTable.bearer(req.headers.authorization) ?? undefined) : undefined;
    const signed = this.#signed(query, body, bearer);
    const identity = this.#identity(bearer, signed !== undefined);
    if (this.#allowed !== undefined && !this.#allowed.check(clientAddress(req), isIP(clientAddress(req)) === 6 ? 'ipv6' : 'ipv4')) {
      throw new HttpRefusal(400, 'request denied based on IP address');
    }
    if (this.#path.options.requireTls && (req.socket as TLSSocket).encrypted !== true) throw new HttpRefusal(400, 'request denied because not using TLS');
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      throw new HttpRefusal(400, 'non-decodable request body, was not UTF-8');
    }
    let json: unknown;
    if (this.#options.json) {
      // Before JSON.parse: a body of up to maxMessageBytes (16 MiB) of `{},` would be millions
      // of objects, and deep nesting breaks the recursive encoders after it. [issue #16]
      try {
        scanJson(text, this.#options.maxNestingDepth ?? DEFAULT_MAX_DEPTH, this.#options.maxMessageItems ?? DEFAULT_MAX_ITEMS);
      } catch (err) {
        if (err instanceof DecodeError) throw new HttpRefusal(400, `request body: ${err.message}`);
        throw err;
      }
      try {
        // JSON text writes U+0000 as the escape \u0000: without it, no string needs reviving.
        json = text.includes('\\u0000') ? JSON.parse(text, reviveBinary) : JSON.parse(text);
      } catch (err) {
        if (err instanceof BadBinary) throw new HttpRefusal(400, `request body: ${err.message}`);
        throw new HttpRefusal(400, `request body was invalid JSON: ${(err as Error).message}`);
      }
    }
    return { body, text, json, query, identity, key: signed };
  }

  #contentType(req: IncomingMessage): void {
    const header = req.headers['content-type'];
    if (header === undefined) return;
    const elements = header.split(';').map((e) => e.trim().toLowerCase());
    // A content type other than application/json is refused; none at all is accepted (JSON parsing decides).
    if (this.#options.json && elements[0] !== 'application/json') {
      throw new HttpRefusal(400, `non-accepted content type (must be 'application/json', not '${elements[0] ?? ''}')`);
    }
    const params = new Map<string, string>();
    for (const element of elements.slice(1)) {
      if (!element.includes('=')) continue;
      const parts = element.split('=');
      const name = parts[0]!.trim();
      if (parts.length !== 2 || params.has(name)) throw new HttpRefusal(400, 'non-accepted request encoding, must be UTF-8');
      params.set(name, parts[1]!.trim());
    }
    const charset = params.get('charset') ?? 'utf-8';
    if (charset !== 'utf-8' && charset !== 'utf8') throw new HttpRefusal(400, 'non-accepted request encoding, must be UTF-8');
  }

  /** The Content-Length, when given once. */
  #contentLength(req: IncomingMessage): number | undefined {
    let count = 0;
    let value: string | undefined;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() === 'content-length') {
        count++;
        value = req.rawHeaders[i + 1];
      }
    }
    if (count > 1) throw new HttpRefusal(400, 'multiple versions of the same header are not allowed (Content-Length)', { Connection: 'close' });
    if (value === undefined) return undefined;
    const length = Number(value);
    if (length > this.#limit) throw new HttpRefusal(413, `request too long (${length} is longer than accepted ${this.#limit})`, { Connection: 'close' });
    return length;
  }

  #read(req: IncomingMessage, declared: number | undefined): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let length = 0;
      const inbound = this.#options.inbound;
      const account = inbound?.account();
      if (account !== undefined) {
        req.once('end', () => account.release());
        req.once('close', () => account.release());
      }
      const onData = (chunk: Buffer): void => {
        length += chunk.length;
        if (account !== undefined && length <= this.#limit && !account.add(chunk.length)) {
          req.off('data', onData);
          chunks.length = 0;
          account.release();
          this.#options.onInboundRefused?.(req, inbound!.limit);
          length = Infinity; // so that 'end' does not answer as well
          reject(new HttpRefusal(503, 'router busy: too many incoming messages in progress, try again later', { Connection: 'close' }));
          return;
        }
        if (length > this.#limit) {
          account?.release();
          req.off('data', onData);
          // The rest is not read: the connection closes after the answer.
          reject(new HttpRefusal(413, `request too long (more than the accepted ${this.#limit})`, { Connection: 'close' }));
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('error', reject);
      req.once('end', () => {
        if (length > this.#limit) return;
        if (declared !== undefined && declared !== length) {
          reject(new HttpRefusal(400, `body length (${length}) is different to Content-Length header (${declared})`, { Connection: 'close' }));
        } else resolve(Buffer.concat(chunks, length));
      });
    });
  }

  /** GitHub's X-Hub-Signature: `sha1=` and the hex HMAC-SHA1 of the body. [GitHub webhooks] */
  #github(req: IncomingMessage, secret: string, body: Buffer): void {
    const header = req.headers['x-hub-signature'];
    const given = Buffer.from(String((Array.isArray(header) ? header[0] : header) ?? '').toLowerCase());
    const ours = Buffer.from(`sha1=${createHmac('sha1', secret).update(body).digest('hex')}`);
    if (!sameBytes(ours, given)) throw new HttpRefusal(400, 'GitHub signature missing or invalid');
  }

  /**
   * The signed-request fields, checked as Crossbar does: fields present are checked even when
   * the path has no secret; with a secret all are required and the signature must match.
   * Returns the key of a request whose signature was verified.
   */
  #signed(query: Query, body: Buffer, bearer: string | undefined): string | undefined {
    const secret = this.#path.options.secret;
    // A bearer token stands in for a signature.
    if (secret !== undefined && bearer !== undefined) return undefined;
    const required = (name: string): void => {
      if (secret !== undefined && !query.has(name)) throw new HttpRefusal(400, `signed request required, but mandatory '${name}' field missing`);
    };
    required('key');
    const timestamp = queryText(query, 'timestamp');
    let until = Infinity;
    if (timestamp !== undefined) {
      const at = parseTimestamp(timestamp);
      if (at === undefined) throw new HttpRefusal(400, `invalid timestamp '${timestamp}' (must be UTC/ISO-8601, e.g. '2011-10-14T16:59:51.123Z')`);
      const limitMs = this.#path.options.timestampDeltaLimit * 1000;
      if (limitMs > 0 && Math.abs(at - this.#now()) > limitMs) throw new HttpRefusal(400, 'request expired, too old timestamp');
      if (limitMs > 0) until = at + limitMs;
    } else required('timestamp');
    const seq = queryText(query, 'seq');
    if (seq !== undefined && !isIntegerText(seq)) throw new HttpRefusal(400, `invalid sequence number '${seq}' (must be an integer)`);
    if (seq === undefined) required('seq');
    const nonce = queryText(query, 'nonce');
    if (nonce !== undefined && !isIntegerText(nonce)) throw new HttpRefusal(400, `invalid nonce '${nonce}' (must be an integer)`);
    if (nonce === undefined) required('nonce');
    required('signature');
    if (secret === undefined) return undefined;
    const key = query.get('key')!;
    if (!sameBytes(key, Buffer.from(this.#path.options.key ?? ''))) throw new HttpRefusal(401, `unknown key '${key.toString('utf8')}' in signed request`);
    const expected = computeSignature(secret, { key, timestamp: query.get('timestamp')!, seq: query.get('seq')!, nonce: query.get('nonce')!, body });
    if (!sameBytes(Buffer.from(expected), query.get('signature')!)) throw new HttpRefusal(401, 'invalid request signature');
    const verdict = this.#replay.admit(key.toString('utf8'), nonce!, seq!, until, this.#now());
    if (verdict === 'replayed_nonce') throw new HttpRefusal(401, 'nonce already used with this key (replayed request)');
    if (verdict === 'stale_seq') throw new HttpRefusal(401, 'sequence number not greater than the last one used with this key');
    return key.toString('utf8');
  }

  #identity(token: string | undefined, signed: boolean): BridgeIdentity {
    const path = this.#path;
    const own = { realm: path.realm, authid: path.authid, authrole: path.role };
    if (this.#tokens.size === 0) return own;
    if (token === undefined) {
      if (signed || path.options.secret !== undefined) return own;
      throw new HttpRefusal(401, 'a bearer token is required (Authorization: Bearer …)', { 'WWW-Authenticate': 'Bearer' });
    }
    const identity = this.#tokens.lookup(token);
    if (identity === undefined) throw new HttpRefusal(401, 'unknown bearer token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    return { realm: path.realm, authid: identity.authid, authrole: identity.role };
  }
}
