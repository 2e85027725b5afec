/** `@switchboard/client/cbor`: the CBOR codec, for `serializers` in a browser build. */
export { cborCodec } from '@switchboard/schemas/cbor';
