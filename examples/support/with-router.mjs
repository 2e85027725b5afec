#!/usr/bin/env node
// Runs an example against a router, so that every example is one command (`npm start -w examples/NAME`):
//
//   node ../support/with-router.mjs [--config router.json] [COMMAND [ARGS…]]
//
// starts Switchboard in this process (the example's config file, or the default: WebSocket on
// ws://127.0.0.1:8080/ws, realm realm1, anonymous), runs COMMAND with WAMP_URL set to the router's
// URL and its output passed through, and stops the router when COMMAND ends; the exit code is
// COMMAND's. Ctrl-C (SIGINT) or SIGTERM goes to COMMAND first. Without COMMAND it serves until
// Ctrl-C or SIGTERM (an example that is only a config, such as the chat), and says where.
//
//   SWITCHBOARD_PORT (or PORT)  the router's port (default: the config's, else 8080; 0 picks a free one)
//   WAMP_URL                    already set: no router is started, COMMAND uses that one
//
// The router logs only errors (LOG_LEVEL changes that), so that what you see is the example's own
// output: the router's warning that anonymous access is open is among those hidden. The default
// listener is on 127.0.0.1 only, as are most examples' configs (the chat's listens on 0.0.0.0,
// because the repository's Dockerfile serves it too).
import { spawn } from 'node:child_process';
import { Router, createLogger, loadConfig } from '@switchboard/router';

const USAGE = 'usage: node with-router.mjs [--config FILE] [COMMAND [ARGS…]]';

const argv = process.argv.slice(2);
let configPath;
if (argv[0] === '--config') {
  configPath = argv[1];
  argv.splice(0, 2);
}
const [command, ...args] = argv;
if (configPath === '' || (command === undefined && configPath === undefined)) {
  console.error(USAGE);
  process.exit(2);
}

const env = process.env;
const portText = env.SWITCHBOARD_PORT || env.PORT;
let router;
let url = env.WAMP_URL;
if (url === undefined || url === '') {
  const file = configPath !== undefined ? loadConfig(configPath).file : { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 8080, path: '/ws' }] };
  if (portText !== undefined) {
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`with-router: SWITCHBOARD_PORT must be a port number (0 picks a free one), not '${portText}'`);
      process.exit(2);
    }
    const [first, ...rest] = file.listeners ?? [{ type: 'websocket', host: '127.0.0.1', path: '/ws' }];
    file.listeners = [{ ...first, port }, ...rest];
  }
  router = new Router({ config: { shutdownTimeoutMs: 1000, ...file }, logger: createLogger({ level: env.LOG_LEVEL || 'error', pretty: false }) });
  try {
    await router.start();
  } catch (err) {
    const taken = err?.code === 'EADDRINUSE';
    console.error(
      taken
        ? `with-router: the router's port is taken (${err.message}). Is a router already running? Then use it: WAMP_URL=ws://127.0.0.1:8080/ws npm start …; or pick another port: SWITCHBOARD_PORT=8090 npm start …`
        : `with-router: the router did not start: ${err?.message ?? err}`,
    );
    process.exit(1);
  }
  // A router on every interface is reached on this machine as localhost.
  url = router.url.replace(/^(wss?:\/\/)(0\.0\.0\.0|\[::\])(?=:)/, '$1localhost');
}

if (command === undefined) {
  const page = new URL('/', url.replace(/^ws/, 'http')).href;
  console.log(`serving ${page} (WAMP on ${url}); Ctrl-C stops`);
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await router?.stop();
  process.exit(0);
}

const child = spawn(command, args, { stdio: 'inherit', env: { ...env, WAMP_URL: url } });
let forwarded = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    forwarded = true;
    child.kill(signal);
  });
}
const code = await new Promise((resolve) => {
  child.once('error', (err) => {
    console.error(`with-router: cannot run ${command}: ${err.message}`);
    resolve(127);
  });
  // Stopped by our own Ctrl-C/SIGTERM: that is how a long-running example ends, not a failure.
  child.once('exit', (exitCode, signal) => resolve(exitCode ?? (forwarded && signal !== null ? 0 : 1)));
});
await router?.stop();
process.exit(code);
