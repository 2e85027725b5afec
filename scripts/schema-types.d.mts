/** The schema's repository path. */
export const SCHEMA: string;
/** The generated file's repository path. */
export const TYPES: string;
/** The schema as json-schema-to-typescript can read it (a copy; `schema` is not changed). */
export function adaptSchema(schema: unknown): unknown;
/** The text of router/src/config/schema-types.ts for a parsed schema. */
export function renderSchemaTypes(schema: unknown): Promise<string>;
