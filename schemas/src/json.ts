/** `@switchboard/schemas/json`: the JSON codec alone (no binary codec libraries). */
export { jsonCodec } from './codecs/json.js';
