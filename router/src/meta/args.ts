/** Argument checks for router-side procedures: a wrong argument is ERROR wamp.error.invalid_argument. */
import type { Args, Dict } from '@switchboard/schemas';
import { ErrorUri, WampError, isDict, isId } from '@switchboard/schemas';

export function invalid(message: string): WampError {
  return new WampError(ErrorUri.InvalidArgument, [message]);
}

export function idArg(args: Args, index: number, name: string): number {
  const v = args[index];
  if (!isId(v)) throw invalid(`argument ${index + 1} (${name}) must be an ID`);
  return v;
}

export function stringArg(args: Args, index: number, name: string): string {
  const v = args[index];
  if (typeof v !== 'string') throw invalid(`argument ${index + 1} (${name}) must be a string`);
  return v;
}

export function optionalString(args: Args, index: number, name: string): string | undefined {
  const v = args[index];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`argument ${index + 1} (${name}) must be a string`);
  return v;
}

export function optionalDict(args: Args, index: number, name: string): Dict {
  const v = args[index];
  if (v === undefined || v === null) return {};
  if (!isDict(v)) throw invalid(`argument ${index + 1} (${name}) must be a dict`);
  return v;
}

export function optionalStringList(args: Args, index: number, name: string): string[] | undefined {
  const v = args[index];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(`argument ${index + 1} (${name}) must be a list of strings`);
  return v as string[];
}

/** ISO 8601 with milliseconds, as Crossbar gives `created`. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
