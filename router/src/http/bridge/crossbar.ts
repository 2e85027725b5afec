/**
 * The HTTP bridge part of a Crossbar config import: a Web transport's `publisher`, `caller` and
 * `webhook` path services become the listener's `http.paths`, with their realm, role and options
 * as written (the option names are Crossbar's). config/crossbar.ts hands each such service here.
 */
type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SERVICE_KEYS = ['type', 'id', 'realm', 'role', 'options'];
const OPTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  publisher: ['key', 'secret', 'post_body_limit', 'timestamp_delta_limit', 'require_ip', 'require_tls', 'debug'],
  caller: ['key', 'secret', 'post_body_limit', 'timestamp_delta_limit', 'require_ip', 'require_tls', 'debug'],
  webhook: ['topic', 'success_response', 'error_response', 'github_secret', 'post_body_limit', 'require_ip', 'require_tls', 'debug'],
};

const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

export type Warn = (pointer: string, message: string) => void;

/** Collects a Web transport's HTTP bridge services. */
export class CrossbarBridgeImport {
  /** Our path (`/publish`) → our path service. */
  readonly paths: Json = {};
  /** [our path, the Crossbar pointer of its service]. */
  readonly origins: [string, string][] = [];

  get size(): number {
    return Object.keys(this.paths).length;
  }

  /** Takes a path service if it is one of the bridge's; false leaves it to the caller. */
  take(key: string, service: unknown, at: string, warn: Warn): boolean {
    if (!isRecord(service) || typeof service['type'] !== 'string' || !(service['type'] in OPTION_KEYS)) return false;
    const type = service['type'];
    const out: Json = { type };
    for (const [k, v] of Object.entries(service)) {
      if (!SERVICE_KEYS.includes(k)) warn(`${at}/${escapePointer(k)}`, `${type} path service option '${k}' is not supported: ignored`);
      else if (k === 'realm' || k === 'role') out[k] = v;
    }
    const options = service['options'];
    if (isRecord(options)) {
      const kept: Json = {};
      for (const [k, v] of Object.entries(options)) {
        if (OPTION_KEYS[type]!.includes(k)) kept[k] = v;
        else warn(`${at}/options/${escapePointer(k)}`, `${type} option '${k}' is not supported: ignored`);
      }
      out['options'] = kept;
    } else if (options !== undefined) out['options'] = options;
    // Crossbar echoes every Origin with credentials; here that is an explicit opt-in (#14).
    warn(
      at,
      `Crossbar answers browser pages of any origin (CORS, with credentials); this ${type} path refuses pages of other origins: list the ones to allow in its cors.origins`,
    );
    // Crossbar's paths are relative to the Web transport's root.
    const path = `/${key.replace(/^\/+/, '')}`;
    this.paths[path] = out;
    this.origins.push([path, at]);
    return true;
  }
}
