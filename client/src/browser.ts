/**
 * `@switchboard/client` in the browser: the native WebSocket, HTTP long-poll over `fetch` (as a
 * fallback: `transports: [{ type: 'websocket', url }, { type: 'longpoll', url }]`), and the JSON
 * serializer only, so the bundle carries no binary codec. Add one by passing its codec:
 * `import { msgpackCodec } from '@switchboard/client/msgpack'` then `serializers: [msgpackCodec, 'json']`.
 * The auth helpers (ticketAuth, wampcraAuth, cryptosignAuth) are in `@switchboard/client/auth`.
 */
import { jsonCodec } from '@switchboard/schemas/json';
import { Connection as BaseConnection, openConnection } from './connection.js';
import type { ConnectOptions, Runtime } from './connection.js';
import { longPollSocketFactory } from './longpoll.js';
import type { Session } from './session.js';
import { whatwgSocketFactory } from './socket.js';
import type { ApiContract, Untyped } from './typed.js';

export * from './shared.js';

const runtime: Runtime = {
  socketFactory: () => whatwgSocketFactory(),
  transports: { longpoll: () => longPollSocketFactory() },
  codecs: { json: jsonCodec },
  missingCodecHint:
    "the browser build has json only; import { msgpackCodec } from '@switchboard/client/msgpack' (or cborCodec from '@switchboard/client/cbor') and pass the codec in serializers",
};

/** Connects and joins; resolves to the Session (which reconnects by itself). */
export function connect<Api extends ApiContract = Untyped>(options: ConnectOptions): Promise<Session<Api>> {
  return openConnection<Api>(options, runtime);
}

export class Connection<Api extends ApiContract = Untyped> extends BaseConnection<Api> {
  constructor(options: ConnectOptions) {
    super(options, runtime);
  }
}

export { jsonCodec };
