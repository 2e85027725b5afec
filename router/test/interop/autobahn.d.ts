/**
 * The part of autobahn-js 22.x (CommonJS, untyped) that the interop tests use. Shapes follow
 * lib/session.js and lib/connection.js; only what the tests call is declared.
 */
declare module 'autobahn' {
  namespace autobahn {
    /** A WAMP serializer object (`new autobahn.serializer.JSONSerializer()` …). */
    interface Serializer {
      readonly SERIALIZER_ID: string;
      readonly BINARY: boolean;
    }

    type Kwargs = Record<string, unknown>;

    interface EventDetails {
      publication: number;
      topic: string | undefined;
      publisher: number | undefined;
      publisher_authid: string | undefined;
      publisher_authrole: string | undefined;
      /** EVENT.Details.retained, for a retained event sent on SUBSCRIBE with get_retained. */
      retained: boolean | undefined;
    }

    /** lib/session.js `Invocation`: what an endpoint learns of the call. */
    interface InvocationDetails {
      procedure: string;
      caller: number | undefined;
      caller_authid: string | undefined;
      caller_authrole: string | undefined;
      /** Sends a progressive YIELD; null unless INVOCATION.Details.receive_progress was set. */
      progress: ((args?: unknown[], kwargs?: Kwargs) => void) | null;
    }

    /**
     * What `Session.call` returns: a promise with `cancel` (sends CANCEL; for any mode but 'kill'
     * autobahn rejects the call at once with an `autobahn.Error('Cancelled')`).
     */
    interface CallPromise extends Promise<unknown> {
      cancel(options?: { mode?: 'skip' | 'kill' | 'killnowait' }): void;
    }

    /** With when.js promises (`use_es6_promises: false`), `then` takes a progress handler third. */
    interface WhenThenable {
      then(onResult: (value: unknown) => void, onError: (error: unknown) => void, onProgress: (value: unknown) => void): unknown;
    }

    type EventHandler = (args: unknown[], kwargs: Kwargs, details: EventDetails) => void;
    /** Returns a value (sent as `[value]`), a `Result`, or a promise of either; throws an `Error`. */
    type Endpoint = (args: unknown[], kwargs: Kwargs, details: InvocationDetails) => unknown;

    /** A call result with several positional results or keyword results. */
    class Result {
      constructor(args?: unknown[], kwargs?: Kwargs);
      args: unknown[];
      kwargs: Kwargs;
    }

    /** An application error (not a JS Error): thrown by endpoints, rejected by calls. */
    class Error {
      constructor(error: string, args?: unknown[], kwargs?: Kwargs);
      error: string;
      args: unknown[];
      kwargs: Kwargs;
    }

    class Subscription {
      readonly topic: string;
      readonly id: number;
      active: boolean;
      /** Resolves when unsubscribed; with the reason when the router revoked the subscription. */
      readonly on_unsubscribe: Promise<string | undefined>;
    }

    class Registration {
      readonly procedure: string;
      readonly id: number;
      active: boolean;
      /** Resolves when unregistered; with the reason when the router revoked the registration. */
      readonly on_unregister: Promise<string | undefined>;
    }

    class Publication {
      readonly id: number;
    }

    class Session {
      readonly id: number;
      readonly realm: string;
      readonly isOpen: boolean;
      subscribe(topic: string, handler: EventHandler, options?: Kwargs): Promise<Subscription>;
      unsubscribe(subscription: Subscription): Promise<boolean | undefined>;
      /** Returns a promise only with `{ acknowledge: true }`. */
      publish(topic: string, args?: unknown[], kwargs?: Kwargs, options?: Kwargs): Promise<Publication> | undefined;
      register(procedure: string, endpoint: Endpoint, options?: Kwargs): Promise<Registration>;
      unregister(registration: Registration): Promise<void>;
      /** Resolves to the single positional result, a `Result`, or null. */
      call(procedure: string, args?: unknown[], kwargs?: Kwargs, options?: Kwargs): CallPromise;
      leave(reason?: string, message?: string): void;
    }

    interface CloseDetails {
      reason: string | null;
      message: string | null;
      will_retry: boolean;
    }

    interface Transport {
      /** Closes the WebSocket without a WAMP GOODBYE. Absent on the placeholder autobahn returns when not connected. */
      close?: (code?: number, reason?: string) => void;
    }

    /**
     * One entry of `transports` (lib/connection.js tries them in order): `websocket` (url),
     * `rawsocket` (Node only, JSON only: host and port, or path; lib/transport/rawsocket.js) or
     * `longpoll` (url of the base, over XMLHttpRequest; lib/transport/longpoll.js).
     */
    interface TransportOptions {
      type: 'websocket' | 'rawsocket' | 'longpoll';
      url?: string;
      host?: string;
      port?: number;
      path?: string;
      /** rawsocket: the maximum message length it accepts, 2^exp (default 24). */
      rawsocket_max_len_exp?: number;
      /** longpoll: client-side request timeout, ms (default 12000). */
      request_timeout?: number;
    }

    interface ConnectionOptions {
      /** Required unless every entry of `transports` has what it needs. */
      url?: string;
      transports?: TransportOptions[];
      realm: string;
      serializers?: Serializer[];
      max_retries?: number;
      retry_if_unreachable?: boolean;
      use_es6_promises?: boolean;
      on_user_error?: (error: unknown, message?: string) => void;
      on_internal_error?: (error: unknown, message?: string) => void;
    }

    class Connection {
      constructor(options: ConnectionOptions);
      onopen: ((session: Session, details: Kwargs) => void) | null;
      /** `reason` is 'closed', 'lost', 'unreachable' or 'unsupported'; returning true stops retries. */
      onclose: ((reason: string, details: CloseDetails) => boolean | void) | null;
      readonly session: Session | null;
      readonly isOpen: boolean;
      readonly isConnected: boolean;
      /** A placeholder without `close` when not connected. */
      readonly transport: Transport;
      open(): void;
      /** GOODBYE, then the transport closes. Throws when already closed. */
      close(reason?: string, message?: string): void;
    }

    const serializer: {
      JSONSerializer: new () => Serializer;
      MsgpackSerializer: new () => Serializer;
      CBORSerializer: new () => Serializer;
    };

    const log: {
      debug: (...args: unknown[]) => void;
      warn: (...args: unknown[]) => void;
    };
  }
  export = autobahn;
}
