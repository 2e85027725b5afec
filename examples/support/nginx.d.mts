export function renderTemplate(template: string, vars: Record<string, string>, options?: { strict?: boolean }): string;
export interface MainConfigOptions {
  /** Default: `prefix`/error.log. */
  errorLog?: string;
  /** Default: notice. */
  logLevel?: string;
  /** Default: 256. */
  workerConnections?: number;
  /** Lines before access_log in the http block. */
  http?: readonly string[];
  /** access_log's arguments; default: `prefix`/access.log. */
  accessLog?: string;
}
export function writeMainConfig(prefix: string, site: string, options?: MainConfigOptions): string[];
