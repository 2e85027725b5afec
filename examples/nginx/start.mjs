// The nginx example on this machine, in one command (`npm start -w examples/nginx` runs it under
// with-router.mjs, which starts the router serving the chat example and sets WAMP_URL):
//
// 1. a temporary prefix directory for nginx (its pid, logs, temp files) and a self-signed
//    certificate for localhost in it, made with openssl;
// 2. switchboard.conf.template filled in, as envsubst would (upstream: the router; https on
//    NGINX_HTTPS_PORT, default 8443; the http → https redirect on NGINX_HTTP_PORT, default 8088),
//    listening on 127.0.0.1 only;
// 3. nginx in the foreground with that prefix (no root, no system config touched);
// 4. check.mjs through it, over https and wss, trusting the certificate;
// 5. then it serves until Ctrl-C (or SIGTERM): nginx stops and the prefix is removed.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTemplate, writeMainConfig } from '../support/nginx.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const NGINX = [process.env.NGINX, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx', '/usr/local/bin/nginx'].find(
  (p) => p !== undefined && p !== '' && existsSync(p),
);
if (NGINX === undefined) {
  console.error('nginx is not installed: apt-get install nginx (or NGINX=/path/to/nginx)');
  process.exit(1);
}
const router = new URL(process.env.WAMP_URL ?? 'ws://127.0.0.1:8080/ws');
const httpsPort = process.env.NGINX_HTTPS_PORT || '8443';
const httpPort = process.env.NGINX_HTTP_PORT || '8088';
const upstream = `${router.hostname === 'localhost' || router.hostname === '0.0.0.0' ? '127.0.0.1' : router.hostname}:${router.port}`;

const prefix = mkdtempSync(join(tmpdir(), 'switchboard-nginx-'));
chmodSync(prefix, 0o755); // nginx's workers (when started as root) run as another user and must reach it
const cleanup = () => rmSync(prefix, { recursive: true, force: true });
const cert = join(prefix, 'cert.pem');
const key = join(prefix, 'key.pem');
const errorLog = join(prefix, 'error.log');
try {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '7',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
} catch (err) {
  cleanup();
  console.error(err.code === 'ENOENT' ? 'openssl is not installed: apt-get install openssl' : `openssl failed: ${err.stderr ?? err.message}`);
  process.exit(1);
}

// ${NAME} outside comments, as `envsubst '$SWITCHBOARD_UPSTREAM …'` does; nginx's own $variables stay.
const vars = {
  SWITCHBOARD_UPSTREAM: upstream,
  NGINX_HTTPS_PORT: httpsPort,
  NGINX_HTTP_PORT: httpPort,
  NGINX_SERVER_NAME: 'localhost',
  NGINX_CERT: cert,
  NGINX_KEY: key,
};
const site = renderTemplate(readFileSync(here('switchboard.conf.template'), 'utf8'), vars).replace(/^(\s*listen) (\d+)/gm, '$1 127.0.0.1:$2');
writeFileSync(join(prefix, 'switchboard.conf'), site);
// The main file a distribution ships as /etc/nginx/nginx.conf, every path in the prefix.
const args = writeMainConfig(prefix, 'switchboard.conf', { errorLog });

// A process group of its own: Ctrl-C stops it through stop() below, once, not also from the terminal.
const nginx = spawn(NGINX, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
const nginxExited = new Promise((resolve) => nginx.once('exit', (code) => resolve(code)));
let stopping = false;
const stop = async (code) => {
  if (stopping) return;
  stopping = true;
  nginx.kill('SIGTERM');
  await nginxExited;
  cleanup();
  process.exit(code);
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void stop(0));
nginxExited.then((code) => {
  if (stopping) return;
  console.error(`nginx exited (${code}):\n${existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : ''}`);
  cleanup();
  process.exit(1);
});

// nginx accepts TLS once it has read its config and bound its ports.
const ca = readFileSync(cert, 'utf8');
for (let deadline = Date.now() + 10_000; ; ) {
  const ok = await new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(httpsPort), ca, servername: 'localhost' }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (ok) break;
  if (Date.now() > deadline) {
    console.error(`nginx does not accept TLS on port ${httpsPort}:\n${existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : ''}`);
    await stop(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const base = `https://localhost:${httpsPort}`;
const check = spawn(process.execPath, [here('check.mjs'), base], { stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: cert } });
const checked = await new Promise((resolve) => check.once('exit', (code) => resolve(code)));
if (checked !== 0) await stop(checked ?? 1);
console.log(`nginx serves the chat at ${base}/ (http://localhost:${httpPort}/ redirects there; self-signed certificate ${cert}); Ctrl-C stops`);
