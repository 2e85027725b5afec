/**
 * `@switchboard/client` in the browser: the native WebSocket and the JSON serializer only, so the
 * bundle carries no binary codec. Add one by passing its codec:
 * `import { msgpackCodec } from '@switchboard/client/msgpack'` then `serializers: [msgpackCodec, 'json']`.
 */
import { jsonCodec } from '@switchboard/schemas/json';
import { Connection as BaseConnection, openConnection } from './connection.js';
import type { ConnectOptions, Runtime } from './connection.js';
import type { Session } from './session.js';
import { whatwgSocketFactory } from './socket.js';
import type { ApiContract, Untyped } from './typed.js';

export * from './shared.js';

const runtime: Runtime = {
  socketFactory: () => whatwgSocketFactory(),
  codecs: { json: jsonCodec },
  missingCodecHint: "the browser build has json only; import { msgpackCodec } from '@switchboard/client/msgpack' (or cborCodec from '@switchboard/client/cbor') and pass the codec in serializers",
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
