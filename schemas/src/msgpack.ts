/** `@switchboard/schemas/msgpack`: the MessagePack codec (msgpackr). */
export { msgpackCodec } from './codecs/msgpack.js';
