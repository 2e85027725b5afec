/**
 * A service process: `node dist/service.js NAME`. Registers its procedures with
 * `invoke: 'roundrobin'`, so any number of copies share them and the router hands calls to each in
 * turn; when one stops, the others keep serving.
 */
import { WampError, connect } from '@switchboard/client';
import { ROUTER, leaveOnSignal } from './contract.js';
import type { Api } from './contract.js';

const name = process.argv[2] ?? `service-${process.pid}`;
const session = await connect<Api>({ ...ROUTER });
let served = 0;

await session.register(
  'com.example.services.add',
  ([a, b]) => {
    // JSON has no NaN or Infinity: a caller's NaN arrives as null. Types end at the process boundary.
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new WampError('wamp.error.invalid_argument', ['add takes two finite numbers']);
    served++;
    return { sum: a + b, servedBy: name };
  },
  { invoke: 'roundrobin' },
);
await session.register('com.example.services.stats', () => ({ service: name, pid: process.pid, served }), { invoke: 'roundrobin' });

console.log(`${name} ready (session ${session.id})`);
leaveOnSignal(async () => {
  console.log(`${name} leaving after ${served} calls`);
  await session.leave();
});
