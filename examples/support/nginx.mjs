// nginx run by hand, without root and without touching /etc/nginx, as the nginx and cluster
// examples (their start.mjs and their tests) run it: every file nginx writes (pid, logs, temp
// files) in one prefix directory, the example's site config included from there.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Fills ${NAME} placeholders outside comments from `vars`, as `envsubst '$NAME …'` does; nginx's own
 * $variables stay. A placeholder `vars` lacks is left as written, or throws when `strict`.
 */
export function renderTemplate(template, vars, { strict = false } = {}) {
  return template
    .split('\n')
    .map((line) =>
      line.trimStart().startsWith('#')
        ? line
        : line.replace(/\$\{([A-Z_]+)\}/g, (all, name) => {
            const value = vars[name];
            if (value !== undefined) return value;
            if (strict) throw new Error(`the template uses \${${name}}, which has no value`);
            return all;
          }),
    )
    .join('\n');
}

/**
 * Writes `prefix`/nginx.conf, the main file a distribution ships as /etc/nginx/nginx.conf, with
 * every path in `prefix` and `prefix`/`site` included in its http block; returns the arguments that
 * point nginx at it (-p, -c, -e). `http`: lines before access_log (a log_format it names).
 */
export function writeMainConfig(
  prefix,
  site,
  { errorLog = join(prefix, 'error.log'), logLevel = 'notice', workerConnections = 256, http = [], accessLog = `${prefix}/access.log` } = {},
) {
  writeFileSync(
    join(prefix, 'nginx.conf'),
    [
      'worker_processes 1;',
      `pid ${prefix}/nginx.pid;`,
      `error_log ${errorLog} ${logLevel};`,
      `events { worker_connections ${workerConnections}; }`,
      'http {',
      ...http.map((line) => `  ${line}`),
      `  access_log ${accessLog};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${prefix}/${t}_temp;`),
      '  default_type application/octet-stream;',
      `  include ${prefix}/${site};`,
      '}',
      '',
    ].join('\n'),
  );
  return ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', errorLog];
}
