/** JSON Schema files shipped in this package's `schema/` folder. */
export type SchemaName = 'messages' | 'router-config' | 'http-bridge';

/** Location of a shipped schema file (a file: URL under Node, an http(s) URL in a bundle). */
export function schemaUrl(name: SchemaName): URL {
  return new URL(`../schema/${name}.schema.json`, import.meta.url);
}
