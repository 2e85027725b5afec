// Memory per detached session [ap_session_resumption]: N resumable sessions, one subscription and
// one registration each, their transports cut; heapUsed with all N detached minus heapUsed before
// they joined, divided by N. Run after `npx tsc -b`:
//   node --expose-gc router/test/resumption/memory.mjs [N]
import WebSocket from 'ws';
import { Router, silentLogger } from '@switchboard/router';

const N = Number(process.argv[2] ?? 2000);
const router = new Router({
  config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], realms: [{ name: 'realm1', limits: { maxDetachedSessions: N + 50 } }] },
  logger: silentLogger(),
});
await router.start();
const url = router.addresses[0].url;
const heap = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().heapUsed;
};

function open(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['wamp.2.json']);
    let step = 0;
    ws.on('open', () => ws.send(JSON.stringify([1, 'realm1', { roles: { subscriber: {}, callee: {} }, resumable: true }])));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      step++;
      if (step === 1) {
        ws.send(JSON.stringify([32, 1, {}, `com.example.topic.${i}`]));
        ws.send(JSON.stringify([64, 2, {}, `com.example.proc.${i}`]));
      } else if (step === 3) {
        ws.terminate();
        resolve(msg);
      }
    });
    ws.on('error', reject);
  });
}

// Warm up (code paths compiled, pools allocated), then the baseline.
for (let i = 0; i < 50; i++) await open(`warm${i}`);
const wait = async (cond) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
};
await wait(() => router.stats.sessionsDetached === 50);
const before = await heap();
for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, j) => open(i + j)));
await wait(() => router.stats.sessionsDetached === N + 50);
const after = await heap();
console.log(`${N} detached sessions (1 subscription, 1 registration each): ${((after - before) / N).toFixed(0)} bytes of heap per session`);
await router.stop();
