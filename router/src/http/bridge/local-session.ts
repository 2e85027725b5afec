/**
 * The bridge's WAMP sessions: small in-process clients over the local transport, one per identity
 * (realm, authid, role) a bridge path acts as. They join with an authmethod that only the bridge's
 * in-process connections offer, and the realm authorizes them like any session with that role:
 * an HTTP request can do exactly what a WebSocket client with the same role could.
 *
 * The connection carries message values as they are (MessagePack, see transports/local.ts): binary
 * is bytes and a string is a string, whatever its first character. The bridge's HTTP side turns
 * them into JSON and back (guard.ts reads "\0" + base64 in a body as binary, respond.ts writes
 * binary that way). [bp_binary_conversion_of_json]
 */
import type { Args, Dict, Kwargs } from '@switchboard/schemas';
import { CloseUri, ErrorUri, MessageCode, WampError, isDict } from '@switchboard/schemas';
import type { Authenticator } from '../../auth/types.js';
import { LocalConnectionClosed } from '../../transports/local.js';
import type { LocalClient } from '../../transports/local.js';

export const BRIDGE_AUTHMETHOD = 'x_switchboard_bridge';

export interface BridgeIdentity {
  realm: string;
  authid: string;
  authrole: string;
}

/** How the bridge opens an in-process connection (Router.connectLocal). */
export type ConnectLocal = (
  options: { onMessage: (message: unknown) => void; onClose: () => void },
  authenticators: ReadonlyMap<string, Authenticator>,
) => LocalClient;

export interface EventMessage {
  publication: number;
  details: Dict;
  args: Args;
  kwargs: Kwargs;
}

export interface InvocationDetails {
  details: Dict;
  /** Aborts on INTERRUPT. */
  signal: AbortSignal;
}

export type InvocationHandler = (args: Args, kwargs: Kwargs, invocation: InvocationDetails) => Promise<{ args?: Args; kwargs?: Kwargs }>;

/** The session ended (router shutdown, kill) before the request was answered. */
export class BridgeSessionClosed extends Error {
  override name = 'BridgeSessionClosed';
}

/**
 * A request the in-process connection could not encode: refused to that request alone, before
 * anything was sent; the session goes on.
 */
export class BridgeMessageRefused extends Error {
  override name = 'BridgeMessageRefused';
}

interface Pending {
  resolve(message: unknown[]): void;
  reject(err: Error): void;
  /**
   * Runs when the answer arrives, before anything the router sent after it: a subscription's
   * handler must be in place for the retained EVENT that follows SUBSCRIBED at once.
   */
  onAnswer?(message: unknown[]): void;
}

const HELLO_ROLES = {
  publisher: { features: { publisher_exclusion: true, subscriber_blackwhite_listing: true } },
  subscriber: { features: { pattern_based_subscription: true } },
  caller: { features: { call_canceling: true, call_timeout: true } },
  callee: { features: { call_canceling: true } },
};

function bridgeAuthenticators(identity: BridgeIdentity): ReadonlyMap<string, Authenticator> {
  const principal = { authid: identity.authid, authrole: identity.authrole, authprovider: 'bridge' };
  return new Map([[BRIDGE_AUTHMETHOD, { method: BRIDGE_AUTHMETHOD, authenticate: () => ({ kind: 'accept' as const, principal }) }]]);
}

function argsOf(value: unknown): Args {
  return Array.isArray(value) ? value : [];
}

function kwargsOf(value: unknown): Kwargs {
  return isDict(value) ? value : {};
}

export class BridgeSession {
  /** The router's session ID, once joined. */
  id = 0;
  readonly closed: Promise<void>;
  #client!: LocalClient;
  #request = 0;
  #open = true;
  #onClosed!: () => void;
  readonly #pending = new Map<number, Pending>();
  readonly #events = new Map<number, (event: EventMessage) => void>();
  readonly #procedures = new Map<number, InvocationHandler>();
  readonly #invocations = new Map<number, AbortController>();

  private constructor() {
    this.closed = new Promise((resolve) => (this.#onClosed = resolve));
  }

  /** Joins `identity.realm`; rejects with the ABORT reason (no such realm, no such role…). */
  static open(connect: ConnectLocal, identity: BridgeIdentity): Promise<BridgeSession> {
    const session = new BridgeSession();
    return new Promise<BridgeSession>((resolve, reject) => {
      session.#pending.set(0, {
        resolve: (welcome) => {
          session.id = welcome[1] as number;
          resolve(session);
        },
        reject,
      });
      session.#client = connect({ onMessage: (m) => session.#onMessage(m), onClose: () => session.#onClose() }, bridgeAuthenticators(identity));
      session.#client.send([MessageCode.Hello, identity.realm, { roles: HELLO_ROLES, authmethods: [BRIDGE_AUTHMETHOD], authid: identity.authid }]);
    });
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Acknowledged PUBLISH; resolves to the publication ID, rejects with WampError. */
  async publish(topic: string, args: Args | undefined, kwargs: Kwargs | undefined, options: Dict): Promise<number> {
    const reply = await this.#send((request) => [MessageCode.Publish, request, { ...options, acknowledge: true }, topic, ...payload(args, kwargs)]);
    return reply[2] as number;
  }

  /** CALL; `signal` sends CANCEL (killnowait). Rejects with WampError. */
  async call(procedure: string, args: Args | undefined, kwargs: Kwargs | undefined, options: Dict, signal?: AbortSignal): Promise<{ args: Args; kwargs: Kwargs }> {
    let request = 0;
    const onAbort = (): void => {
      if (this.#open && this.#pending.has(request)) this.#write([MessageCode.Cancel, request, { mode: 'killnowait' }]);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const reply = await this.#send((r) => [MessageCode.Call, (request = r), options, procedure, ...payload(args, kwargs)]);
      return { args: argsOf(reply[3]), kwargs: kwargsOf(reply[4]) };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * SUBSCRIBE; resolves to the subscription ID. Events (the retained one too) go to `onEvent`;
   * `onSubscribed` runs when SUBSCRIBED arrives, before any of them.
   */
  async subscribe(topic: string, options: Dict, onEvent: (event: EventMessage) => void, onSubscribed?: (subscription: number) => void): Promise<number> {
    const reply = await this.#send(
      (request) => [MessageCode.Subscribe, request, options, topic],
      (subscribed) => {
        this.#events.set(subscribed[2] as number, onEvent);
        onSubscribed?.(subscribed[2] as number);
      },
    );
    return reply[2] as number;
  }

  async register(procedure: string, options: Dict, handler: InvocationHandler): Promise<number> {
    const reply = await this.#send(
      (request) => [MessageCode.Register, request, options, procedure],
      (registered) => this.#procedures.set(registered[2] as number, handler),
    );
    return reply[2] as number;
  }

  /** GOODBYE, then the transport closes (the router answers at once). */
  close(): void {
    if (!this.#open) return;
    this.#write([MessageCode.Goodbye, {}, CloseUri.CloseRealm]);
    this.#client.close();
  }

  /**
   * The connection may already be closing (our GOODBYE crossing the router's): then nothing is
   * sent. Returns the codec's error for a message that cannot be encoded (nothing sent either).
   */
  #write(message: unknown[]): Error | undefined {
    try {
      this.#client.send(message);
    } catch (err) {
      // closed: #onClose follows
      if (!(err instanceof LocalConnectionClosed)) return err instanceof Error ? err : new Error(String(err));
    }
    return undefined;
  }

  #send(build: (request: number) => unknown[], onAnswer?: (message: unknown[]) => void): Promise<unknown[]> {
    if (!this.#open) return Promise.reject(new BridgeSessionClosed('the bridge session is closed'));
    const request = ++this.#request;
    return new Promise<unknown[]>((resolve, reject) => {
      this.#pending.set(request, onAnswer === undefined ? { resolve, reject } : { resolve, reject, onAnswer });
      try {
        this.#client.send(build(request));
      } catch (err) {
        // Closing: #onClose rejects it. Unencodable: this request fails, nothing was sent.
        if (err instanceof LocalConnectionClosed) return;
        this.#pending.delete(request);
        // Never sent: the ID is free again (the router wants request IDs in sequence).
        this.#request--;
        reject(new BridgeMessageRefused(`the request cannot be sent: ${(err as Error).message}`));
      }
    });
  }

  #settle(request: unknown, message: unknown[], error?: Error): void {
    const pending = this.#pending.get(request as number);
    if (pending === undefined) return;
    this.#pending.delete(request as number);
    if (error !== undefined) return pending.reject(error);
    pending.onAnswer?.(message);
    pending.resolve(message);
  }

  #onMessage(message: unknown): void {
    if (!Array.isArray(message)) return;
    switch (message[0]) {
      case MessageCode.Welcome:
        return this.#settle(0, message);
      case MessageCode.Abort: {
        const details = kwargsOf(message[1]);
        const text = typeof details['message'] === 'string' ? details['message'] : '';
        this.#settle(0, message, new WampError(String(message[2]), text === '' ? [] : [text]));
        return this.#client.close();
      }
      case MessageCode.Published:
      case MessageCode.Subscribed:
      case MessageCode.Registered:
      case MessageCode.Result:
        // Progressive results are never asked for: a RESULT ends its call.
        return this.#settle(message[1], message);
      case MessageCode.Error:
        return this.#settle(message[2], message, new WampError(String(message[4]), argsOf(message[5]), kwargsOf(message[6])));
      case MessageCode.Event:
        this.#events.get(message[1] as number)?.({ publication: message[2] as number, details: kwargsOf(message[3]), args: argsOf(message[4]), kwargs: kwargsOf(message[5]) });
        return;
      case MessageCode.Invocation:
        return this.#invoke(message);
      case MessageCode.Interrupt:
        this.#invocations.get(message[1] as number)?.abort();
        return;
      case MessageCode.Goodbye:
        if (this.#open) this.#write([MessageCode.Goodbye, {}, CloseUri.GoodbyeAndOut]);
        return this.#client.close();
      default:
        return;
    }
  }

  #invoke(message: unknown[]): void {
    const request = message[1] as number;
    const handler = this.#procedures.get(message[2] as number);
    const controller = new AbortController();
    this.#invocations.set(request, controller);
    const answer = (reply: unknown[]): void => {
      if (this.#invocations.get(request) !== controller) return;
      this.#invocations.delete(request);
      if (!this.#open) return;
      // A result the connection cannot carry still answers the caller.
      const refused = this.#write(reply);
      if (refused !== undefined) this.#write([MessageCode.Error, MessageCode.Invocation, request, {}, ErrorUri.RuntimeError, [`the result cannot be sent: ${refused.message}`]]);
    };
    // An INTERRUPT answers the caller at once. [ap_rpc_call_canceling]
    controller.signal.addEventListener('abort', () => answer([MessageCode.Error, MessageCode.Invocation, request, {}, ErrorUri.Canceled]), { once: true });
    if (handler === undefined) return answer([MessageCode.Error, MessageCode.Invocation, request, {}, ErrorUri.NoSuchRegistration]);
    let running: ReturnType<InvocationHandler>;
    try {
      running = handler(argsOf(message[4]), kwargsOf(message[5]), { details: kwargsOf(message[3]), signal: controller.signal });
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (result) => answer([MessageCode.Yield, request, {}, ...payload(result.args, result.kwargs)]),
      (err: unknown) =>
        answer(
          err instanceof WampError
            ? [MessageCode.Error, MessageCode.Invocation, request, {}, err.uri, err.args, err.kwargs]
            : [MessageCode.Error, MessageCode.Invocation, request, {}, ErrorUri.RuntimeError, [err instanceof Error ? err.message : String(err)]],
        ),
    );
  }

  #onClose(): void {
    if (!this.#open) return;
    this.#open = false;
    const err = new BridgeSessionClosed('the bridge session closed');
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
    for (const controller of this.#invocations.values()) controller.abort();
    this.#events.clear();
    this.#onClosed();
  }
}

/** The Arguments / ArgumentsKw tail of a message: omitted when empty, as the spec prefers. */
function payload(args: Args | undefined, kwargs: Kwargs | undefined): unknown[] {
  if (kwargs !== undefined && Object.keys(kwargs).length > 0) return [args ?? [], kwargs];
  if (args !== undefined && args.length > 0) return [args];
  return [];
}
