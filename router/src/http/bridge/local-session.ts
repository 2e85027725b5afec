/**
 * The bridge's WAMP sessions: one in-process `@switchboard/client` Session per identity (realm,
 * authid, role) a bridge path acts as (`Router.openBridgeSession`, the same in-process session
 * as `router.session(realm)`). They join with an authmethod that only the bridge's in-process
 * connections offer, and the realm authorizes them like any session with that role: an HTTP
 * request can do exactly what a WebSocket client with the same role could.
 *
 * Messages cross as objects (nothing is encoded): binary is bytes and a string is a string,
 * whatever its first character. The bridge's HTTP side turns them into JSON and back (guard.ts
 * reads "\0" + base64 in a body as binary, respond.ts writes binary that way).
 * [bp_binary_conversion_of_json]
 *
 * This module adapts the client's API to what the bridge's paths use (plain Dicts of options,
 * `{args, kwargs}` results, raw EVENT details) and keeps the bridge's error types.
 */
import type { Args, Dict, Kwargs } from '@switchboard/schemas';
import { CloseUri, WampError } from '@switchboard/schemas';
import {
  ConnectionLostError,
  NotConnectedError,
  ProtocolViolationError,
  Result,
  SerializerError,
  SessionAbortedError,
  SessionClosedError,
} from '@switchboard/client';
import type { Session } from '@switchboard/client';

export const BRIDGE_AUTHMETHOD = 'x_switchboard_bridge';

export interface BridgeIdentity {
  realm: string;
  authid: string;
  authrole: string;
}

/** How the bridge opens an in-process session for an identity (Router.openBridgeSession). */
export type OpenBridgeSession = (identity: BridgeIdentity) => Promise<Session>;

export interface EventMessage {
  publication: number;
  /** EVENT.Details as the router sent them. */
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
 * A request the in-process connection could not carry (a value outside WAMP's data model):
 * refused to that request alone, before anything was sent; the session goes on.
 */
export class BridgeMessageRefused extends Error {
  override name = 'BridgeMessageRefused';
}

/** The client's errors in the bridge's terms; WampError (the router's answer) as it is. */
function bridgeError(err: unknown): Error {
  if (err instanceof SerializerError) return new BridgeMessageRefused(`the request cannot be sent: ${err.message}`);
  // The session ended under the request: closed, killed, shut down.
  const ended = [SessionClosedError, NotConnectedError, ConnectionLostError, SessionAbortedError, ProtocolViolationError];
  if (ended.some((type) => err instanceof type)) return new BridgeSessionClosed(`the bridge session closed: ${(err as Error).message}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** What the client adds to EVENT.Details, taken off again: paths see what the router sent. */
function rawDetails(details: Dict, exact: boolean): Dict {
  const { subscription: _subscription, publication: _publication, topic, replayed: _replayed, gap: _gap, ...rest } = details;
  // The router sends `topic` only for pattern-based subscriptions.
  return exact ? rest : { ...rest, topic };
}

export class BridgeSession {
  readonly closed: Promise<void>;
  /** The router's session ID. */
  readonly id: number;
  #open = true;

  private constructor(readonly session: Session) {
    this.id = session.id ?? 0;
    this.closed = new Promise<void>((resolve) => {
      session.connection.on('close', () => {
        this.#open = false;
        resolve();
      });
    });
    if (!session.isOpen) this.#open = false;
  }

  /** Joins `identity.realm`; rejects with the ABORT reason (no such realm, no such role…). */
  static async open(open: OpenBridgeSession, identity: BridgeIdentity): Promise<BridgeSession> {
    try {
      return new BridgeSession(await open(identity));
    } catch (err) {
      // An ABORT (no such realm, no such role…), as the WampError the bridge answers with.
      if (err instanceof SessionAbortedError) {
        const text = typeof err.details['message'] === 'string' ? err.details['message'] : '';
        throw new WampError(err.reason, text === '' ? [] : [text]);
      }
      throw err;
    }
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Acknowledged PUBLISH; resolves to the publication ID, rejects with WampError. */
  async publish(topic: string, args: Args | undefined, kwargs: Kwargs | undefined, options: Dict): Promise<number> {
    if (!this.#open) throw new BridgeSessionClosed('the bridge session is closed');
    try {
      return (await this.session.publish(topic, args, kwargs, { extra: options, acknowledge: true }))!;
    } catch (err) {
      throw bridgeError(err);
    }
  }

  /** CALL; `signal` sends CANCEL (killnowait). Rejects with WampError. */
  async call(
    procedure: string,
    args: Args | undefined,
    kwargs: Kwargs | undefined,
    options: Dict,
    signal?: AbortSignal,
  ): Promise<{ args: Args; kwargs: Kwargs }> {
    if (!this.#open) throw new BridgeSessionClosed('the bridge session is closed');
    try {
      const result = await this.session.callResult(procedure, args, kwargs, signal === undefined ? { extra: options } : { extra: options, signal });
      return { args: result.args, kwargs: result.kwargs };
    } catch (err) {
      throw bridgeError(err);
    }
  }

  /**
   * SUBSCRIBE; resolves to the subscription ID. Events (the retained one too) go to `onEvent`;
   * `onSubscribed` runs when SUBSCRIBED arrives, before any of them.
   */
  async subscribe(topic: string, options: Dict, onEvent: (event: EventMessage) => void, onSubscribed?: (subscription: number) => void): Promise<number> {
    if (!this.#open) throw new BridgeSessionClosed('the bridge session is closed');
    const exact = options['match'] === undefined || options['match'] === 'exact';
    let told = false;
    const tell = (subscription: number): void => {
      if (told) return;
      told = true;
      onSubscribed?.(subscription);
    };
    try {
      // The handler is in place when SUBSCRIBED is read (the client's onAck), so the retained
      // EVENT that follows at once finds it; onSubscribed runs before it.
      const subscription = await this.session.subscribe(
        topic,
        (args, kwargs, details) => {
          tell(details.subscription);
          onEvent({ publication: details.publication, details: rawDetails(details, exact), args, kwargs });
        },
        { extra: options },
      );
      tell(subscription.id!);
      return subscription.id!;
    } catch (err) {
      throw bridgeError(err);
    }
  }

  async register(procedure: string, options: Dict, handler: InvocationHandler): Promise<number> {
    if (!this.#open) throw new BridgeSessionClosed('the bridge session is closed');
    try {
      const registration = await this.session.register(
        procedure,
        async (args, kwargs, details) => {
          const result = await handler(args, kwargs, { details: details.raw, signal: details.signal });
          return new Result(result.args ?? [], result.kwargs ?? {});
        },
        { extra: options },
      );
      return registration.id!;
    } catch (err) {
      throw bridgeError(err);
    }
  }

  /** GOODBYE, then the transport closes (the router answers at once). */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    void this.session.leave(CloseUri.CloseRealm);
  }
}
