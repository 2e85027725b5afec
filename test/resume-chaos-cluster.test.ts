/**
 * Session resumption's proof across a cluster (issue #18): the single-node chaos run
 * (test/support/chaos.ts) on two router processes over nats-server, the event history in
 * JetStream (durability "ack"), where every reconnect of the subscriber and of the caller goes to
 * the other node (each one's proxy alternates its upstream): each resume moves the session between
 * the nodes (cluster/resume.ts: the KV record, the hand-over, the adoption), and still every event
 * arrives once and in order, every call is answered once, and the session IDs never change.
 * The publisher is on node A, the callee on node B: events and calls cross the cluster too.
 * The nodes log at level debug: a failure shows each node's trail of the two moving sessions
 * (hand-overs, adoptions, and where each forwarded answer went).
 */
import { expect, it } from 'vitest';
import type { RealmFile, RouterConfigFile } from '@switchboard/router';
import { open } from '../client/test/helpers.js';
import { startCluster } from './support/cluster.js';
import { chaosSeed, runChaos } from './support/chaos.js';
import { CuttingProxy } from './support/proxy.js';

const TOPIC = 'com.chaos.cluster.events';

const portOf = (url: string): number => Number(new URL(url).port);

it('two nodes, JetStream history: 100 cuts, each reconnect to the other node; every event once and in order, every call answered once, the same sessions', {
  timeout: 300_000,
}, async () => {
  const seed = chaosSeed('resume chaos (cluster)');
  const realms: RealmFile[] = [{ name: 'realm1', eventHistory: [{ topic: TOPIC, limit: 20_000 }] }];
  const store: RouterConfigFile['store'] = { type: 'jetstream', durability: 'ack' };
  const cluster = await startCluster(2, { realms, extra: { store }, logLevel: 'debug' });
  const [a, b] = cluster.urls.map(portOf) as [number, number];
  const publisher = await open(cluster.urls[0]!);
  const callee = await open(cluster.urls[1]!);
  const subscriberProxy = await CuttingProxy.start([a, b]);
  const callerProxy = await CuttingProxy.start([b, a]);
  // On a failure, the nodes' warnings and errors go with it (what a hand-over or a forward said).
  const complaints = (): string =>
    cluster.nodes
      .flatMap((node) =>
        node
          .output()
          .split('\n')
          .filter((line) => /"level":(40|50|60)/.test(line))
          .map((line) => `${node.node}: ${line}`),
      )
      .slice(-40)
      .join('\n');
  // On a stall: each node's log trail of each moving session (the caller's shows where a call's
  // answer went, the subscriber's where its catch-ups ran), and every forwarded answer dropped.
  const trail = (sessions: { subscriber: number | undefined; caller: number | undefined }): string =>
    cluster.nodes
      .flatMap((node) => {
        const lines = node
          .output()
          .split('\n')
          .map((line) => line.replace(/"(level|pid|hostname|name)":[^,]*,/g, ''));
        const of = (what: string, keep: (line: string) => boolean, n: number): string => {
          const kept = lines.filter(keep);
          return `${node.node}: ${what} (last ${Math.min(n, kept.length)} of ${kept.length} lines):\n${kept.slice(-n).join('\n')}`;
        };
        return [
          ...Object.entries(sessions)
            .filter((entry): entry is [string, number] => entry[1] !== undefined)
            .map(([who, id]) => {
              const about = new RegExp(`"session":${id}[,}]`);
              return of(`the ${who}'s session ${id}`, (line) => about.test(line), who === 'caller' ? 50 : 20);
            }),
          of('forwarded answers dropped', (line) => line.includes('forwarded answer dropped'), 20),
        ];
      })
      .join('\n');
  const report = await runChaos({
    name: 'resume chaos (cluster)',
    seed,
    publisher,
    callee,
    subscriberProxy,
    callerProxy,
    topic: TOPIC,
    procedure: 'com.chaos.cluster.echo',
    timeoutMs: 240_000,
    diagnose: trail,
  }).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- the nodes' warnings and errors:\n${complaints()}`, { cause: err });
  });
  // Each connection went to the other node than the one before: n + 1 connections alternate.
  for (const [proxy, cuts, first, second] of [
    [subscriberProxy, report.subscriberCuts, a, b],
    [callerProxy, report.callerCuts, b, a],
  ] as const) {
    expect(proxy.acceptedTotal).toBe(cuts + 1);
    expect(proxy.accepted.get(first)).toBe(Math.ceil((cuts + 1) / 2));
    expect(proxy.accepted.get(second) ?? 0).toBe(Math.floor((cuts + 1) / 2));
  }
});
