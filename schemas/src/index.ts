/**
 * `@switchboard/schemas`: the whole wire contract with all three codecs. The contract's names are
 * listed once, in core.ts (which a JSON-only bundle imports instead); this entry adds the codecs
 * and the shipped JSON Schemas.
 */
export * from './core.js';
export { jsonCodec, jsonText } from './codecs/json.js';
export { msgpackCodec } from './codecs/msgpack.js';
export { cborCodec } from './codecs/cbor.js';
export { CODECS, codecForSubprotocol } from './codecs/index.js';
export { schemaUrl } from './schema-files.js';
export type { SchemaName } from './schema-files.js';
