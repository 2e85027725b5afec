/**
 * `@switchboard/client` in Node: `ws` as the WebSocket (with keep-alive pings), RawSocket (TCP and
 * Unix sockets) and HTTP long-poll, and the json, msgpack and cbor serializers.
 */
import { cborCodec } from '@switchboard/schemas/cbor';
import { jsonCodec } from '@switchboard/schemas/json';
import { msgpackCodec } from '@switchboard/schemas/msgpack';
import { Connection as BaseConnection, openConnection } from './connection.js';
import type { ConnectOptions, Runtime } from './connection.js';
import { longPollSocketFactory } from './longpoll.js';
import { nodeSocketFactory } from './node-socket.js';
import { rawSocketFactory } from './rawsocket.js';
import type { Session } from './session.js';
import type { ApiContract, Untyped } from './typed.js';

export * from './shared.js';

const runtime: Runtime = {
  socketFactory: (options) => nodeSocketFactory(options.keepalive ?? {}, options.websocket),
  transports: { rawsocket: () => rawSocketFactory(), longpoll: () => longPollSocketFactory() },
  codecs: { json: jsonCodec, msgpack: msgpackCodec, cbor: cborCodec },
  missingCodecHint: 'this build has json, msgpack and cbor',
};

/** Connects and joins; resolves to the Session (which reconnects by itself). */
export function connect<Api extends ApiContract = Untyped>(options: ConnectOptions): Promise<Session<Api>> {
  return openConnection<Api>(options, runtime);
}

/** For those who want the events before opening: `new Connection(options)`, `on(…)`, `open()`. */
export class Connection<Api extends ApiContract = Untyped> extends BaseConnection<Api> {
  constructor(options: ConnectOptions) {
    super(options, runtime);
  }
}

export { jsonCodec, msgpackCodec, cborCodec };
// The auth helpers (also `@switchboard/client/auth`, which the browser uses).
export * from './auth.js';
export { rawSocketFactory, parseRawSocketUrl } from './rawsocket.js';
export type { RawSocketTarget } from './rawsocket.js';
// The HTTP bridge client is for backends (it signs with node:crypto): Node only.
export { HttpBridgeClient, signQuery } from './http-bridge.js';
export type { HttpBridgeClientOptions, BridgePublishOptions, BridgePublication, BridgeCallResult } from './http-bridge.js';
export { HttpBridgeError } from './errors.js';
// In the router's process (`router.session(realm)`): Node only, out of the browser bundle.
export { connectInProcess } from './in-process.js';
export type { InProcessEnd, InProcessLink, InProcessOptions, OpenInProcessLink } from './in-process.js';
