/** Reading the JSON bodies of publisher and caller requests; anything malformed is a 400. */
import type { Args, Dict, Kwargs } from '@switchboard/schemas';
import { isDict } from '@switchboard/schemas';
import { HttpRefusal } from './respond.js';

/** The body as a dict, as Crossbar requires. */
export function dictBody(value: unknown, where = 'request body'): Dict {
  if (!isDict(value)) throw new HttpRefusal(400, `${where} was valid JSON, but not well formed (must be a dict)`);
  return value;
}

/** A required string field (`topic`, `procedure`). */
export function uriField(body: Dict, key: string, where = 'request body'): string {
  if (!(key in body)) throw new HttpRefusal(400, `${where} was valid JSON, but not well formed (missing key '${key}')`);
  const value = body[key];
  if (typeof value !== 'string') throw new HttpRefusal(400, `${where}: '${key}' must be a string`);
  return value;
}

/** `args`: a list; absent, null or empty means none (Crossbar reads any false value as none). */
export function argsField(body: Dict, where = 'request body'): Args | undefined {
  const value = body['args'];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new HttpRefusal(400, `${where}: 'args' must be a list`);
  return value.length > 0 ? value : undefined;
}

export function kwargsField(body: Dict, where = 'request body'): Kwargs | undefined {
  const value = body['kwargs'];
  if (value === undefined || value === null) return undefined;
  if (!isDict(value)) throw new HttpRefusal(400, `${where}: 'kwargs' must be a dict`);
  return Object.keys(value).length > 0 ? value : undefined;
}

export function optionsField(body: Dict, where = 'request body'): Dict {
  const value = body['options'];
  if (value === undefined || value === null) return {};
  if (!isDict(value)) throw new HttpRefusal(400, `${where}: 'options' must be a dict`);
  return value;
}
