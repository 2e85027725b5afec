/**
 * The cluster test harness itself (test/support/cluster.ts): nats-server with JetStream starts,
 * survives kill + restart on the same port and store, and stops cleaning its store; cluster nodes
 * (the router CLI with a `cluster` block) join over NATS, each accepts a WAMP session, and they
 * notice a NATS outage and its end. What the nodes do together is tested elsewhere.
 */
import { existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { expect, it, onTestFinished } from 'vitest';
import { connect } from '@switchboard/client';
import { within } from '../router/test/helpers.js';
import { startCluster, startNats } from './support/cluster.js';

/** Whether something accepts TCP connections on 127.0.0.1:port right now. */
const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

it('nats-server: JetStream on an ephemeral port; kill and restart keep the port and the store; stop removes the store', { timeout: 30_000 }, async () => {
  const nats = await startNats();
  expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
  expect(nats.port).toBeGreaterThan(0);
  expect(nats.output()).toMatch(/Starting JetStream/);
  expect(nats.output()).toContain(nats.storeDir);
  expect(await accepts(nats.port)).toBe(true);

  const firstPid = nats.process.child.pid;
  await nats.kill('SIGKILL');
  expect(await accepts(nats.port)).toBe(false);
  await nats.restart();
  expect(nats.process.child.pid).not.toBe(firstPid);
  expect(await accepts(nats.port)).toBe(true);
  expect(existsSync(nats.storeDir)).toBe(true);

  // restart() of a running server: SIGTERM, then the same port again.
  const port = nats.port;
  await nats.restart();
  expect([nats.port, await accepts(port)]).toEqual([port, true]);

  await nats.stop();
  expect(await accepts(port)).toBe(false);
  expect(existsSync(nats.storeDir)).toBe(false);
  await nats.stop(); // idempotent
});

it('a cluster of two nodes on one NATS: each joins and accepts a session on realm1, and rides out a NATS restart', { timeout: 60_000 }, async () => {
  const cluster = await startCluster(2);
  expect(cluster.nodes.map((n) => n.node)).toEqual(['node-a', 'node-b']);
  expect(new Set(cluster.urls).size).toBe(2);
  for (const node of cluster.nodes) {
    expect(node.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(node.pid).toBeGreaterThan(0);
    expect(node.output()).toMatch(/"msg":"cluster node joined"/);
  }

  for (const node of cluster.nodes) {
    const session = await within(connect({ url: node.url, realm: 'realm1', reconnect: false }), 10_000, `a session on ${node.node}`);
    onTestFinished(() => (session.isOpen ? session.leave() : undefined));
    expect([node.node, session.isOpen, typeof session.id]).toEqual([node.node, true, 'number']);
    await session.leave();
  }

  // A NATS outage: kill and restart it on the same port; the nodes notice both.
  await cluster.nats.kill('SIGKILL');
  for (const node of cluster.nodes) await node.process.waitFor(/"msg":"cluster: NATS connection lost/, 10_000);
  await cluster.nats.restart();
  for (const node of cluster.nodes) await node.process.waitFor(/"msg":"cluster: NATS connection back/, 15_000);

  // SIGKILL takes a node down at once; stop() takes the rest down gracefully.
  const [a] = cluster.nodes;
  await a!.kill();
  expect(a!.process.child.signalCode).toBe('SIGKILL');
  await cluster.stop();
  expect(cluster.nodes[1]!.process.child.exitCode).toBe(0);
  expect(existsSync(cluster.nats.storeDir)).toBe(false);
});
