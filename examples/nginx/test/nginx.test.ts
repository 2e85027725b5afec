/**
 * The nginx example through real nginx (Debian's package): the template rendered with ephemeral
 * ports and a self-signed certificate made with openssl, nginx run in the foreground with its own
 * prefix directory, in front of a router serving the chat example. Through it: /health, static
 * files (with 304 revalidation), the HTTP bridge paths, the http → https redirect, and
 * @switchboard/client over wss (check.mjs in a process that trusts the certificate).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '@switchboard/router';
import { startTestRouter, within } from '../../../router/test/helpers.js';
import { freePort, spawnProcess, untilAccepting } from '../../../test/support/processes.js';
import type { Spawned } from '../../../test/support/processes.js';
import { expectLines, readmeRun, runCommand } from '../../../test/support/examples.js';
import { requireSystem } from '../../../test/support/system.js';
import { writeSelfSignedCertificate } from '../../../test/support/tls.js';
import { renderTemplate, writeMainConfig } from '../../support/nginx.mjs';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const TEMPLATE = here('../switchboard.conf.template');
const CHAT_CONFIG = here('../../chat/router.json');

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request through nginx; https ones trust only our self-signed certificate. */
function fetchVia(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; ca?: string } = {}): Promise<Reply> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return within(
    new Promise<Reply>((resolve, reject) => {
      const req = send(
        target,
        { method: options.method ?? 'GET', headers: options.headers ?? {}, ...(options.ca !== undefined && { ca: options.ca }) },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    }),
    5000,
    `${options.method ?? 'GET'} ${url}`,
  );
}

interface NginxFiles {
  upstream: string;
  cert: string;
  key: string;
  ca: string;
}

/**
 * nginx in the foreground with everything in `prefix`, the template filled in; resolves once it
 * accepts TLS. nginx cannot listen on port 0, so free ports are picked first; one taken in between
 * by someone else means another try.
 */
async function startNginx(prefix: string, files: NginxFiles): Promise<{ nginx: Spawned; httpsPort: number; httpPort: number }> {
  const nginxPath = requireSystem('nginx');
  const errorLog = join(prefix, 'error.log');
  for (let attempt = 1; ; attempt++) {
    const [httpsPort, httpPort] = [await freePort(), await freePort()];
    const site = renderTemplate(
      readFileSync(TEMPLATE, 'utf8'),
      {
        SWITCHBOARD_UPSTREAM: files.upstream,
        NGINX_HTTPS_PORT: String(httpsPort),
        NGINX_HTTP_PORT: String(httpPort),
        NGINX_SERVER_NAME: 'localhost',
        NGINX_CERT: files.cert,
        NGINX_KEY: files.key,
      },
      { strict: true }, // every placeholder must have a value
    ).replace(/^(\s*listen) (\d+)/gm, '$1 127.0.0.1:$2'); // tests listen on loopback only
    writeFileSync(join(prefix, 'switchboard.conf'), site);
    const args = writeMainConfig(prefix, 'switchboard.conf', { errorLog, logLevel: 'info', workerConnections: 64 });
    execFileSync(nginxPath, [...args, '-t', '-q'], { stdio: 'pipe', timeout: 10_000 });
    const nginx = spawnProcess(nginxPath, [...args, '-g', 'daemon off;'], { name: 'nginx' });
    try {
      await untilAccepting(nginx, `TLS on ${httpsPort}`, (connected) =>
        tlsConnect({ host: '127.0.0.1', port: httpsPort, ca: files.ca, servername: 'localhost' }, connected),
      );
      return { nginx, httpsPort, httpPort };
    } catch (err) {
      await nginx.stop();
      const log = existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '';
      if (attempt < 3 && log.includes('Address already in use')) continue;
      throw new Error(`${(err as Error).message}\nerror.log:\n${log}`, { cause: err });
    }
  }
}

it('the WebSocket timeout outlasts the router ping interval', () => {
  const template = readFileSync(TEMPLATE, 'utf8');
  const ws = /location = \/ws \{([^}]*)\}/.exec(template)?.[1] ?? '';
  const timeout = /proxy_read_timeout (\d+)s;/.exec(ws)?.[1];
  const file = loadConfig(CHAT_CONFIG).file.listeners?.[0];
  const pingIntervalMs = (file?.type === 'websocket' ? file.pingIntervalMs : undefined) ?? 30_000;
  expect(Number(timeout) * 1000).toBeGreaterThan(pingIntervalMs);
  expect(ws).toContain('proxy_pass http://switchboard;');
  expect(template).toMatch(/proxy_http_version 1\.1;/);
  expect(template).toMatch(/proxy_set_header Upgrade +\$http_upgrade;/);
  expect(template).toMatch(/proxy_set_header Connection +\$connection_upgrade;/);
});

it('nginx terminates TLS in front of the router: wss with @switchboard/client, static files, the bridge paths, /health', { timeout: 40_000 }, async () => {
  const router = await startTestRouter(loadConfig(CHAT_CONFIG).file);
  const upstream = `127.0.0.1:${router.addresses[0]!.port}`;

  const prefix = mkdtempSync(join(tmpdir(), 'switchboard-nginx-'));
  onTestFinished(() => rmSync(prefix, { recursive: true, force: true }));
  // nginx's workers drop root privileges; they must reach the prefix (temp files for large responses).
  chmodSync(prefix, 0o755);
  const { cert, key } = await writeSelfSignedCertificate(prefix);
  const ca = readFileSync(cert, 'utf8');

  const { nginx, httpsPort, httpPort } = await startNginx(prefix, { upstream, cert, key, ca });
  const base = `https://localhost:${httpsPort}`;

  expect(JSON.parse((await fetchVia(`${base}/health`, { ca })).body)).toMatchObject({ status: 'ok' });

  // Static files from the router, validators passed through both ways.
  const home = await fetchVia(`${base}/`, { ca });
  expect([home.status, home.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
  expect(home.body).toContain('<title>Switchboard chat</title>');
  const bundle = await fetchVia(`${base}/lib/switchboard.js`, { ca });
  expect([bundle.status, bundle.headers['content-type'], bundle.body.length]).toEqual([
    200,
    'text/javascript; charset=utf-8',
    Number(bundle.headers['content-length']),
  ]);
  const etag = bundle.headers['etag'];
  expect(etag).toBeDefined();
  expect((await fetchVia(`${base}/lib/switchboard.js`, { ca, headers: { 'If-None-Match': etag ?? '' } })).status).toBe(304);

  // The HTTP bridge paths reach the router (a JSON answer from it, whatever the bridge says), not an nginx error page.
  for (const path of ['/publish', '/call']) {
    const reply = await fetchVia(`${base}${path}`, { ca, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect([path, reply.headers['content-type']?.startsWith('application/json')]).toEqual([path, true]);
    expect(reply.status).not.toBe(502);
  }

  // http → https
  const plain = await fetchVia(`http://localhost:${httpPort}/lib/switchboard.js?x=1`);
  expect([plain.status, plain.headers['location']]).toEqual([301, `https://localhost:${httpsPort}/lib/switchboard.js?x=1`]);

  // WAMP over wss through nginx, with our client, in a process that trusts the certificate.
  const check = spawnProcess(process.execPath, [here('../check.mjs'), base], { name: 'check.mjs', env: { ...process.env, NODE_EXTRA_CA_CERTS: cert } });
  expect(await within(check.exited, 15_000, 'check.mjs to finish'), check.output()).toBe(0);
  const lines = check.output().trim().split('\n');
  expect(lines[0]).toMatch(/^GET \/health: 200 \{"status":"ok"/);
  expect(lines[1]).toBe('GET /: 200 text/html; charset=utf-8');
  expect(lines[2]).toMatch(new RegExp(`^WAMP over wss://localhost:${httpsPort}/ws: session \\d+, json$`));
  expect(lines.slice(3)).toEqual(['call: ["ping"]', 'event: ["pong"]']);

  expect(await nginx.stop()).toBe(0);
  expect(readFileSync(join(prefix, 'access.log'), 'utf8')).toMatch(/"GET \/ws HTTP\/1\.1" 101 /);
});

it('runs as its README says (`npm start -w examples/nginx`): nginx in the foreground with its own prefix, check.mjs through it, the prefix removed on Ctrl-C', {
  timeout: 60_000,
}, async () => {
  const { command, expected } = readmeRun('nginx');
  expect(command).toBe('npm start -w examples/nginx');
  const [httpsPort, httpPort] = [await freePort(), await freePort()];
  const run = runCommand(command, { SWITCHBOARD_PORT: '0', NGINX_HTTPS_PORT: String(httpsPort), NGINX_HTTP_PORT: String(httpPort) });
  const [, cert] = await run.waitFor(/self-signed certificate (\S+\/cert\.pem)\); Ctrl-C stops$/m, 45_000);
  expectLines(
    run.stdout(),
    expected.map((line) => line.replaceAll(':8443/', `:${httpsPort}/`).replaceAll(':8088/', `:${httpPort}/`)),
  );
  const page = await fetchVia(`https://localhost:${httpsPort}/`, { ca: readFileSync(cert!, 'utf8') });
  expect([page.status, page.body]).toEqual([200, expect.stringContaining('<title>Switchboard chat</title>')]);
  const redirect = await fetchVia(`http://localhost:${httpPort}/x`);
  expect([redirect.status, redirect.headers['location']]).toEqual([301, `https://localhost:${httpsPort}/x`]);
  await within(run.stop(), 15_000, 'the example to stop');
  expect(existsSync(cert!), 'the prefix directory is removed').toBe(false);
});
