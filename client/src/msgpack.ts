/** `@switchboard/client/msgpack`: the MessagePack codec, for `serializers` in a browser build. */
export { msgpackCodec } from '@switchboard/schemas/msgpack';
