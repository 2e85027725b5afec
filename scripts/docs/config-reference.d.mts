/** GitHub's heading anchor for a heading's text. */
export function slug(heading: string): string;
/** docs/configuration-reference.md for a parsed JSON Schema; `source` is the schema's repository path. */
export function renderConfigReference(schema: unknown, source: string): string;
