/**
 * Where a principal comes from when the configuration does not list it: a WAMP procedure
 * registered by a component (Crossbar's dynamic authenticator) or an HTTP webhook. Both follow
 * Crossbar's contract: asked with (realm, authid, details), they answer a role, or a dict
 * `{role, authid?, realm?, extra?}` plus what the method needs (wampcra: `secret`, `salt`,
 * `iterations`, `keylen`; cryptosign: `pubkey`; scram and wamp-scram: `kdf`, `iterations`, `memory`,
 * `salt`, `stored-key`, `server-key`). An ERROR, a non-200 answer, a timeout or a
 * malformed answer is a failed lookup, which the methods turn into authentication_failed.
 */
import type { Dict } from '@switchboard/schemas';
import { WampError, isDict } from '@switchboard/schemas';
import type { Logger } from '../log.js';
import type { TransportDetails } from '../transports/peer.js';
import type { AuthResult, HelloInfo, Principal } from './types.js';

/** Calls a WAMP procedure as the router, in a realm (Router.internalCaller). */
export type RealmCall = (realm: string, procedure: string, args: unknown[], kwargs: Dict, timeoutMs: number) => Promise<{ args: unknown[]; kwargs: Dict }>;

/** What the authenticators of a listener may use from the router. */
export interface AuthContext {
  call: RealmCall;
  /** How long a dynamic authenticator may take to answer (the router's authTimeoutMs). */
  timeoutMs: number;
  log: Logger;
  /** The clock of the failure limits, in ms; Date.now unless a test injects one. */
  now?: () => number;
  /** Counts a refusal by a limit, by config key (switchboard_limits_exceeded_total{limit}). */
  limitExceeded?: (limit: string) => void;
}

/** `{"type": "dynamic", "authenticator": "<procedure>", "authenticator-realm"?: "<realm>"}` [Crossbar] */
export interface DynamicSourceConfig {
  type: 'dynamic';
  authenticator: string;
  /** The realm the procedure is registered in; default: the realm the client asked for. */
  'authenticator-realm'?: string;
}

/** `{"type": "webhook", "url": "http://…", "timeoutMs"?: 5000, "maxAnswerBytes"?: 65536, "headers"?: {…}}` (Switchboard's own) */
export interface WebhookSourceConfig {
  type: 'webhook';
  url: string;
  /** For the whole exchange, the answer's body included (default 5000 ms). */
  timeoutMs?: number;
  /** Bytes of the answer read (as a stream); past it the request is aborted and the lookup fails (default 64 KiB). */
  maxAnswerBytes?: number;
  /** Sent with every request, e.g. an Authorization header the webhook checks. */
  headers?: Record<string, string>;
}

export type SourceConfig = DynamicSourceConfig | WebhookSourceConfig;

/** The principal an authenticator answered with. */
export interface PrincipalAnswer {
  role: string;
  authid?: string;
  realm?: string;
  /** Sent to the client in WELCOME.Details.authextra. */
  extra?: Dict;
  /** wampcra: the secret (for a salted one, the derived key, as in static config). */
  secret?: string;
  salt?: string;
  iterations?: number;
  keylen?: number;
  /** cryptosign: the public key (64 hex characters) the client must prove it holds. */
  pubkey?: string;
  /** scram, wamp-scram (with salt as hex and iterations): the KDF, argon2id memory (KiB) and keys (hex). */
  kdf?: string;
  memory?: number;
  /** From `stored-key` (Crossbar) or `stored_key`. */
  storedKey?: string;
  /** From `server-key` (Crossbar) or `server_key`. */
  serverKey?: string;
}

export interface LookupRequest {
  /** The realm the client asked for. */
  realm: string;
  authid: string | undefined;
  authmethod: string;
  /** Crossbar's session details (`session`, `authmethod`, `authid`, `authextra`, `transport`, and per method `ticket`). */
  details: Dict;
}

export interface PrincipalSource {
  /** WELCOME.Details.authprovider: 'dynamic' or 'webhook'. */
  readonly provider: string;
  lookup(request: LookupRequest): Promise<PrincipalAnswer>;
}

/** A lookup that did not produce a principal; the message is for the log, never for the client. */
export class LookupError extends Error {
  override name = 'LookupError';
}

/** Largest webhook answer read, unless maxAnswerBytes says otherwise. */
export const DEFAULT_WEBHOOK_MAX_ANSWER_BYTES = 64 * 1024;
const DEFAULT_WEBHOOK_TIMEOUT_MS = 5000;

export function createSource(config: SourceConfig, context: AuthContext | undefined): PrincipalSource {
  if (config.type === 'webhook') return webhookSource(config, context);
  if (context === undefined) throw new Error(`the dynamic authenticator ${config.authenticator} needs a router to call it`);
  return procedureSource(config, context);
}

function procedureSource(config: DynamicSourceConfig, context: AuthContext): PrincipalSource {
  return {
    provider: 'dynamic',
    async lookup(request) {
      const realm = config['authenticator-realm'] ?? request.realm;
      const { args } = await context.call(realm, config.authenticator, [request.realm, request.authid ?? null, request.details], {}, context.timeoutMs);
      return parseAnswer(args[0]);
    },
  };
}

function webhookSource(config: WebhookSourceConfig, context: AuthContext | undefined): PrincipalSource {
  const timeoutMs = config.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const maxBytes = config.maxAnswerBytes ?? DEFAULT_WEBHOOK_MAX_ANSWER_BYTES;
  return {
    provider: 'webhook',
    async lookup(request) {
      const body = JSON.stringify({ realm: request.realm, authid: request.authid ?? null, authmethod: request.authmethod, details: request.details });
      const signal = AbortSignal.timeout(timeoutMs);
      let res: Response;
      try {
        // A webhook that redirects is misconfigured; following it could send the secret elsewhere.
        res = await fetch(config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...config.headers },
          body,
          redirect: 'error',
          signal,
        });
      } catch (err) {
        throw new LookupError(`webhook ${config.url} failed: ${describe(err)}`);
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        throw new LookupError(`webhook ${config.url} answered HTTP ${res.status}`);
      }
      const text = await readBounded(res, maxBytes, config.url, () => context?.limitExceeded?.('maxAnswerBytes'));
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new LookupError(`webhook ${config.url} answered something that is not JSON`);
      }
      return parseAnswer(value);
    },
  };
}

/**
 * The body as text, failing past `limit` bytes (`over` is told), the rest unread and the request
 * aborted; the signal given to fetch still bounds the time.
 */
async function readBounded(res: Response, limit: number, url: string, over: () => void): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    over();
    throw new LookupError(`webhook ${url} answered more than ${limit} bytes (maxAnswerBytes)`);
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        over();
        throw new LookupError(`webhook ${url} answered more than ${limit} bytes (maxAnswerBytes)`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof LookupError) throw err;
    throw new LookupError(`webhook ${url} failed: ${describe(err)}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.name === 'TimeoutError' ? 'no answer in time' : err.message;
  return String(err);
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** An authenticator's answer → a principal; a role alone is Crossbar's older form. */
export function parseAnswer(value: unknown): PrincipalAnswer {
  if (typeof value === 'string') {
    if (value === '') throw new LookupError('authenticator answered an empty role');
    return { role: value };
  }
  if (!isDict(value)) throw new LookupError(`authenticator answered ${JSON.stringify(value)}: expected a role or a dict with role`);
  const role = value['role'];
  if (typeof role !== 'string' || role === '') throw new LookupError('authenticator answer has no role (a non-empty string)');
  const out: PrincipalAnswer = { role };
  const text = (key: 'authid' | 'realm' | 'secret' | 'salt' | 'kdf'): void => {
    const v = value[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'string' || v === '') throw new LookupError(`authenticator answer: ${key} must be a non-empty string`);
    out[key] = v;
  };
  text('authid');
  text('realm');
  text('secret');
  text('salt');
  text('kdf');
  for (const [key, field] of [
    ['stored-key', 'storedKey'],
    ['stored_key', 'storedKey'],
    ['server-key', 'serverKey'],
    ['server_key', 'serverKey'],
  ] as const) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v === '') throw new LookupError(`authenticator answer: ${key} must be a non-empty string`);
    out[field] = v;
  }
  for (const key of ['iterations', 'keylen', 'memory'] as const) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new LookupError(`authenticator answer: ${key} must be a positive integer`);
    out[key] = v;
  }
  const extra = value['extra'];
  if (extra !== undefined && extra !== null) {
    if (!isDict(extra)) throw new LookupError('authenticator answer: extra must be a dict');
    out.extra = extra;
  }
  const pubkey = value['pubkey'];
  if (pubkey !== undefined && pubkey !== null) {
    if (typeof pubkey !== 'string' || !HEX_KEY.test(pubkey)) throw new LookupError('authenticator answer: pubkey must be 64 hex characters');
    out.pubkey = pubkey.toLowerCase();
  }
  return out;
}

/** Crossbar's session details as a dynamic authenticator receives them. */
export function lookupDetails(hello: HelloInfo, authmethod: string, more: Dict = {}): Dict {
  return {
    session: hello.session,
    authmethod,
    authid: hello.authid ?? null,
    authextra: hello.authextra,
    transport: transportDetails(hello.transport),
    ...more,
  };
}

/** The transport as Crossbar describes it to authenticators (`http_headers_received`). */
function transportDetails(transport: TransportDetails): Dict {
  const out: Dict = { type: transport.type, protocol: transport.protocol, peer: transport.peer };
  if (transport.httpHeaders !== undefined) {
    const headers: Dict = {};
    for (const [name, value] of Object.entries(transport.httpHeaders)) if (value !== undefined) headers[name] = value;
    out['http_headers_received'] = headers;
  }
  const cert = transport.clientCertificate;
  if (cert !== undefined) {
    // Crossbar's `client_cert` (fingerprints as colon-separated upper-case hex).
    out['client_cert'] = {
      subject: { ...cert.subject },
      issuer: { ...cert.issuer },
      ...(cert.cn !== undefined && { cn: cert.cn }),
      sha1: cert.sha1,
      sha256: cert.sha256,
      serial: cert.serial,
      not_before: cert.notBefore,
      not_after: cert.notAfter,
      authorized: cert.authorized,
    };
  }
  return out;
}

/**
 * The principal a successful lookup (and credential check) admits: the answer's authid, or the
 * one the client asked for; the answer's realm (Crossbar lets an authenticator move a session), or
 * the one asked for.
 */
export function admit(answer: PrincipalAnswer, hello: HelloInfo, provider: string): AuthResult {
  const authid = answer.authid ?? hello.authid;
  if (authid === undefined) return { kind: 'deny', reason: 'wamp.error.no_such_principal', message: 'the authenticator assigned no authid' };
  const principal: Principal = { authid, authrole: answer.role, authprovider: provider };
  if (answer.realm !== undefined) principal.realm = answer.realm;
  if (answer.extra !== undefined) principal.authextra = answer.extra;
  return { kind: 'accept', principal };
}

/** Runs a lookup; a failure is logged (with its cause) and becomes `undefined`. */
export async function tryLookup(source: PrincipalSource, request: LookupRequest, log: Logger | undefined): Promise<PrincipalAnswer | undefined> {
  try {
    return await source.lookup(request);
  } catch (err) {
    const cause = err instanceof WampError ? err.uri : err instanceof Error ? err.message : String(err);
    log?.info(
      { session: request.details['session'], authmethod: request.authmethod, authid: request.authid, provider: source.provider, cause },
      'authenticator refused or failed',
    );
    return undefined;
  }
}
