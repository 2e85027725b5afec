// The whole example in one terminal (`npm start -w examples/node-services` runs it with a router):
// services A and B and the worker start as processes of their own, one after the other, then the
// client runs; when it is done the services and the worker are stopped (SIGTERM: they leave the
// realm) in the same order, so the output always reads the same. WAMP_URL is the router.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dist = (name) => fileURLToPath(new URL(`dist/${name}.js`, import.meta.url));
const started = [];

/** Starts `node dist/SCRIPT.js NAME`, its output passed through; resolves once it prints 'NAME ready'. */
function start(script, name) {
  // A process group of its own: Ctrl-C reaches it once, from stop(), not also from the terminal.
  const child = spawn(process.execPath, [dist(script), ...(name !== undefined ? [name] : [])], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  started.push({ child, exited });
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      seen += chunk.toString();
      if (seen.includes(' ready')) resolve();
    });
    exited.then((code) => reject(new Error(`${script} ${name ?? ''} exited (${code}) before it was ready`)));
  });
}

async function stopAll() {
  for (const { child, exited } of started) {
    child.kill('SIGTERM');
    await exited;
  }
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void stopAll().then(() => process.exit(0));
  });
}

let code = 1;
try {
  await start('service', 'A');
  await start('service', 'B');
  await start('worker', 'worker');
  const client = spawn(process.execPath, [dist('client')], { stdio: 'inherit' });
  code = await new Promise((resolve) => client.once('exit', (c) => resolve(c ?? 1)));
} catch (err) {
  console.error(err.message);
}
stopping = true;
await stopAll();
process.exit(code);
