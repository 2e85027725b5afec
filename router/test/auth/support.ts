/**
 * Authentication test support: a router whose log lines the test can read, autobahn-js and wampy
 * joins that end in WELCOME or ABORT (both are outcomes here, not failures), raw frames, Ed25519
 * keys from seeds, and a component that serves a dynamic authenticator. Every wait is bounded and
 * everything opened is closed when the test finishes.
 */
import { createPrivateKey, createPublicKey, sign as edSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Writable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { pino } from 'pino';
import autobahn from 'autobahn';
import { Wampy } from 'wampy';
import { JsonSerializer } from 'wampy/JsonSerializer.js';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { CborSerializer } from 'wampy/CborSerializer.js';
import type { SerializerName } from '@switchboard/schemas';
import { CODECS, MessageCode } from '@switchboard/schemas';
import { Router } from '@switchboard/router';
import type { RouterConfigFile } from '@switchboard/router';
import { FrameQueue, within } from '../helpers.js';

autobahn.log.warn = () => {};

// ---- the authentication part of autobahn-js 22 (lib/connection.js options, lib/auth/*.js) ----------

/** Connection options autobahn reads for authentication (not in ../interop/autobahn.d.ts). */
interface AutobahnAuthOptions {
  authmethods?: string[];
  authid?: string;
  authextra?: Record<string, unknown>;
  /** Returns AUTHENTICATE.Signature (or a promise of it) for CHALLENGE [method, extra]. */
  onchallenge?: (session: autobahn.Session, method: string, extra: Record<string, unknown>) => string | Promise<string>;
}

/** A tweetnacl signing key pair: secretKey is seed ‖ public key (64 bytes). */
export interface SigningKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

interface AutobahnAuthApi {
  auth_cra: {
    /** base64(HMAC-SHA256(key, challenge)) */
    sign(key: string, challenge: string): string;
    /** PBKDF2-HMAC-SHA256 as base64 text (iterations default 1000, keylen default 32). */
    derive_key(secret: string, salt: string, iterations?: number, keylen?: number): string;
  };
  auth_cryptosign: {
    /** hex(signature ‖ challenge) for CHALLENGE.Extra.challenge */
    sign_challenge(pkey: SigningKeyPair, extra: Record<string, unknown>): string;
    /** The public key as hex. */
    public_key(pkey: SigningKeyPair): string;
  };
}

/** lib/autobahn.js exports auth_cra and auth_cryptosign next to Connection. */
export const { auth_cra: autobahnCra, auth_cryptosign: autobahnCryptosign } = autobahn as unknown as AutobahnAuthApi;

export const SERIALIZERS: readonly SerializerName[] = ['json', 'msgpack', 'cbor'];

/** A router on 127.0.0.1 (free ports) that keeps its log lines (level info and up) for the test. */
export async function startLoggedRouter(config: RouterConfigFile): Promise<{ router: Router; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const listeners = (config.listeners ?? [{ type: 'websocket' as const }]).map((l) => ({ host: '127.0.0.1', ...l, port: 0 }));
  const router = new Router({ config: { shutdownTimeoutMs: 500, ...config, listeners }, logger: pino({ level: 'info' }, sink) });
  await router.start();
  onTestFinished(() => router.stop());
  return { router, logs };
}

/** The URL of listener `index`. */
export function urlOf(router: Router, index = 0): string {
  const address = router.addresses[index];
  if (address === undefined) throw new Error(`no listener ${index}`);
  return address.url;
}

/** How a join ended: WELCOME (with its details) or ABORT (reason and message). */
export type JoinOutcome =
  | { welcome: Record<string, unknown>; aborted?: undefined }
  | { welcome?: undefined; aborted: { reason: string | null; message: string | null } };

export interface AutobahnAuth {
  realm?: string;
  authmethods: string[];
  authid?: string;
  authextra?: Record<string, unknown>;
  onchallenge: (method: string, extra: Record<string, unknown>) => string | Promise<string>;
}

/** Joins with autobahn-js; resolves with WELCOME.Details, or the ABORT's reason and message. Left when the test finishes. */
export async function joinAutobahn(url: string, serializer: SerializerName, auth: AutobahnAuth): Promise<JoinOutcome & { session?: autobahn.Session }> {
  const serializers = { json: autobahn.serializer.JSONSerializer, msgpack: autobahn.serializer.MsgpackSerializer, cbor: autobahn.serializer.CBORSerializer };
  const options: autobahn.ConnectionOptions & AutobahnAuthOptions = {
    url,
    realm: auth.realm ?? 'realm1',
    serializers: [new serializers[serializer]()],
    max_retries: 0,
    retry_if_unreachable: false,
    // An authenticator that throws an autobahn.Error is part of these tests, not noise to print.
    on_user_error: () => undefined,
    authmethods: auth.authmethods,
    onchallenge: (_session, method, extra) => auth.onchallenge(method, extra),
  };
  if (auth.authid !== undefined) options.authid = auth.authid;
  if (auth.authextra !== undefined) options.authextra = auth.authextra;
  const connection = new autobahn.Connection(options);
  let settle!: (outcome: JoinOutcome & { session?: autobahn.Session }) => void;
  const outcome = new Promise<JoinOutcome & { session?: autobahn.Session }>((resolve) => (settle = resolve));
  let closed = false;
  let onClosed!: () => void;
  const closing = new Promise<void>((resolve) => (onClosed = resolve));
  connection.onopen = (session, details) => settle({ welcome: details, session });
  connection.onclose = (_reason, details) => {
    closed = true;
    onClosed();
    settle({ aborted: { reason: details.reason, message: details.message } });
    return true; // never reconnect
  };
  connection.open();
  onTestFinished(async () => {
    if (connection.isOpen) connection.close();
    else if (connection.isConnected) connection.transport.close?.();
    if (!closed) await within(closing, 3000, 'autobahn to close');
  });
  return within(outcome, 5000, `autobahn (${serializer}) to join or be refused`);
}

export interface WampyAuth {
  realm?: string;
  authmethods: string[];
  authid: string;
  authextra?: Record<string, unknown>;
  onChallenge: (method: string, info: Record<string, unknown>) => string | Promise<string>;
  /** Bind the client socket to this local address (e.g. 127.0.0.2). */
  localAddress?: string;
}

type WampyOptions = NonNullable<ConstructorParameters<typeof Wampy>[1]>;

/** Joins with wampy; resolves with WELCOME.Details, or the ABORT's reason and message. */
export async function joinWampy(url: string, serializer: SerializerName, auth: WampyAuth): Promise<JoinOutcome> {
  const serializers = { json: JsonSerializer, msgpack: MsgpackSerializer, cbor: CborSerializer };
  const localAddress = auth.localAddress;
  let socket: WebSocket | undefined;
  // wampy calls `new ws(url, protocols, …)`; this subclass keeps the socket and binds its address.
  class BoundWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, localAddress === undefined ? {} : { localAddress });
      socket = this;
    }
  }
  let abort: { errorUri?: unknown; details?: unknown } | undefined;
  const options: WampyOptions = {
    realm: auth.realm ?? 'realm1',
    autoReconnect: false,
    serializer: new serializers[serializer](),
    ws: BoundWebSocket as unknown as NonNullable<WampyOptions['ws']>,
    authid: auth.authid,
    authmethods: auth.authmethods,
    authMode: 'manual',
    onChallenge: (method, info) => auth.onChallenge(method, info as Record<string, unknown>),
    onError: (err) => {
      if (typeof err === 'object' && err !== null && 'errorUri' in err) abort = err as { errorUri?: unknown; details?: unknown };
    },
  };
  if (auth.authextra !== undefined) options.authextra = auth.authextra;
  const wampy = new Wampy(url, options);
  onTestFinished(async () => {
    if (wampy.getSessionId() !== null) await within(wampy.disconnect(), 3000, 'wampy GOODBYE').catch(() => socket?.terminate());
    else socket?.terminate();
  });
  let welcome: Record<string, unknown>;
  try {
    welcome = await within(wampy.connect(), 5000, `wampy (${serializer}) to join or be refused`);
  } catch (err) {
    const e = (abort ?? err) as { errorUri?: unknown; details?: unknown };
    if (typeof e.errorUri !== 'string') throw err;
    const details = (e.details ?? {}) as Record<string, unknown>;
    return { aborted: { reason: e.errorUri, message: typeof details['message'] === 'string' ? details['message'] : null } };
  }
  return { welcome };
}

/** Asserts a join was welcomed and returns WELCOME.Details. */
export function welcomed(outcome: JoinOutcome): Record<string, unknown> {
  if (outcome.welcome === undefined) throw new Error(`expected WELCOME, got ABORT ${JSON.stringify(outcome.aborted)}`);
  return outcome.welcome;
}

/** Asserts a join was aborted and returns its reason and message. */
export function aborted(outcome: JoinOutcome): { reason: string | null; message: string | null } {
  if (outcome.aborted === undefined) throw new Error(`expected ABORT, got WELCOME ${JSON.stringify(outcome.welcome)}`);
  return outcome.aborted;
}

// ---- raw frames --------------------------------------------------------------------------------

/** A raw WAMP connection, optionally from a given local address. */
export class Raw {
  readonly #inbox = new FrameQueue<unknown>('a WAMP message');
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.#inbox.push(JSON.parse(data.toString('utf8')) as unknown));
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
  }

  /** The TLS socket under a wss:// connection (for its channel IDs). */
  tlsSocket: TLSSocket | undefined;

  /** `options`: a local address to bind (`localAddress`), TLS settings (`ca`, `maxVersion`)… */
  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<Raw> {
    const ws = new WebSocket(url, [CODECS.json.subprotocol], options);
    onTestFinished(() => ws.terminate());
    const raw = new Raw(ws);
    ws.once('upgrade', (res) => {
      if (res.socket instanceof TLSSocket) raw.tlsSocket = res.socket;
    });
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      3000,
      'WebSocket open',
    );
    return raw;
  }

  send(message: unknown[]): void {
    this.ws.send(JSON.stringify(message));
  }

  hello(realm: string, details: Record<string, unknown>): void {
    this.send([MessageCode.Hello, realm, { roles: { caller: {}, subscriber: {} }, ...details }]);
  }

  async next(ms = 3000): Promise<unknown[]> {
    const value = await this.#inbox.next(ms);
    if (!Array.isArray(value)) throw new Error(`not a WAMP message: ${JSON.stringify(value)}`);
    return value;
  }
}

/** HELLO with a ticket from a raw connection: the ABORT or WELCOME that ends it. */
export async function rawTicket(url: string, authid: string, ticket: string, localAddress?: string): Promise<unknown[]> {
  const raw = await Raw.open(url, localAddress === undefined ? {} : { localAddress });
  raw.hello('realm1', { authmethods: ['ticket'], authid });
  const first = await raw.next();
  if (first[0] !== MessageCode.Challenge) return first;
  raw.send([MessageCode.Authenticate, ticket, {}]);
  return raw.next();
}

// ---- Ed25519 -----------------------------------------------------------------------------------

export interface Ed25519Key {
  seedHex: string;
  publicKeyHex: string;
  privateKey: KeyObject;
  /** For autobahn's auth_cryptosign (tweetnacl's shape). */
  pair: { publicKey: Uint8Array; secretKey: Uint8Array };
}

/** The key pair of a 32-byte seed (RFC 8032 private key). */
export function ed25519FromSeed(seedHex: string): Ed25519Key {
  const seed = Buffer.from(seedHex, 'hex');
  // PKCS#8 wrapping of a raw Ed25519 seed: the fixed 16-byte prefix of RFC 8410.
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicKey = Buffer.from(String(jwk.x), 'base64url');
  return { seedHex, publicKeyHex: publicKey.toString('hex'), privateKey, pair: { publicKey, secretKey: Buffer.concat([seed, publicKey]) } };
}

/** What a cryptosign client sends in AUTHENTICATE: hex(signature ‖ message), message = challenge XOR channel ID. */
export function signCryptosign(key: Ed25519Key, challengeHex: string, channelId?: Uint8Array): string {
  const message = Buffer.from(challengeHex, 'hex');
  if (channelId !== undefined) for (let i = 0; i < message.length; i++) message[i] = message[i]! ^ channelId[i]!;
  return edSign(null, message, key.privateKey).toString('hex') + message.toString('hex');
}

// ---- a component serving a dynamic authenticator -------------------------------------------------

export interface AuthenticatorCall {
  realm: unknown;
  authid: unknown;
  details: Record<string, unknown>;
}

/**
 * An autobahn-js component (anonymous, on listener `url`, in `realm`) that registers `procedure`;
 * `decide` gets each call and returns the answer or throws an autobahn.Error.
 */
export async function authenticatorComponent(
  url: string,
  realm: string,
  procedure: string,
  decide: (call: AuthenticatorCall) => unknown,
): Promise<AuthenticatorCall[]> {
  const calls: AuthenticatorCall[] = [];
  const joined = await joinAutobahn(url, 'msgpack', { realm, authmethods: ['anonymous'], onchallenge: () => '' });
  const session = joined.session;
  if (session === undefined) throw new Error(`the authenticator component could not join: ${JSON.stringify(joined.aborted)}`);
  await within(
    session.register(procedure, (args) => {
      const call = { realm: args[0], authid: args[1], details: args[2] as Record<string, unknown> };
      calls.push(call);
      return decide(call);
    }),
    3000,
    `REGISTERED ${procedure}`,
  );
  return calls;
}

// ---- TLS ---------------------------------------------------------------------------------------

export { selfSignedCertificate as selfSigned } from '../../../test/support/tls.js';
