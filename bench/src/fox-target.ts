/**
 * Optional third-party target for comparison and for developing the bench without the router:
 * fox-wamp (JSON only), loaded from a path given on the command line because it is not a
 * dependency of this repository.
 *
 *   node dist/fox-target.js --module /tmp/fox/node_modules/fox-wamp --port N
 */
import { createRequire } from 'node:module';

function flag(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

interface FoxRouter {
  listenWAMP(options: { host: string; port: number }): unknown;
}

const loaded: unknown = createRequire(import.meta.url)(flag('module'));
if (typeof loaded !== 'function') throw new Error('fox-wamp did not export a Router constructor');
const router = new (loaded as new () => FoxRouter)();
router.listenWAMP({ host: '127.0.0.1', port: Number(flag('port')) });

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
