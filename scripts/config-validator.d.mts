/** The schema's repository path. */
export const SCHEMA: string;
/** The compiled validator's repository path. */
export const VALIDATOR: string;
/** ajv's options for the config schema (the router's are router/src/config/validator.ts CONFIG_AJV_OPTIONS). */
export const AJV_OPTIONS: { allErrors: boolean; strict: boolean; verbose: boolean };
export const PATTERN_DESCRIPTION: string;
/** sha256 of a schema text, hex. */
export function schemaSha256(text: string): string;
/** The text of schemas/schema/router-config.validate.cjs for the schema's text. */
export function renderConfigValidator(schemaText: string): string;
