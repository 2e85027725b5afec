/** `@switchboard/schemas/cbor`: the CBOR codec (cbor-x). */
export { cborCodec } from './codecs/cbor.js';
