/**
 * Adversarial review of the acknowledged PUBLISH on a cluster node (#19, node.ts
 * publishConfirmed): a PUBLISHED must mean NATS has the event. A real nats-server and a real
 * ClusterNode in this process; the NATS connection's publish and flush are only recorded (they
 * still run). These tests fail on a85ea78: they show real defects (findings.md).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { ClusterNode } from '../../src/cluster/node.js';
import { resolveConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/log.js';
import { RouterStats } from '../../src/stats.js';
import { clusterNodeConfig, startNats } from '../../../test/support/cluster.js';

async function node(): Promise<{ node: ClusterNode; calls: string[] }> {
  const nats = await startNats();
  onTestFinished(() => nats.stop());
  const config = resolveConfig(clusterNodeConfig({ natsUrl: nats.url, node: 'review-a' })).cluster;
  if (config === undefined) throw new Error('no cluster config');
  const n = await ClusterNode.connect(config, silentLogger(), new RouterStats());
  onTestFinished(() => n.stop());
  const calls: string[] = [];
  const nc = n.nc;
  const publish = nc.publish.bind(nc);
  const flush = nc.flush.bind(nc);
  nc.publish = (subject, payload, options) => {
    calls.push(`publish ${subject}`);
    publish(subject, payload, options);
  };
  nc.flush = () => {
    calls.push('flush');
    return flush();
  };
  return { node: n, calls };
}

describe('review: acknowledged PUBLISH on a cluster node', () => {
  it('every confirmed event was handed to NATS before the flush (PING) that confirms it', async () => {
    const { node: n, calls } = await node();
    // Two acknowledged publications in one event-loop turn (two publishers on one node).
    const first = n.publishConfirmed('review.one', new Uint8Array([0x90]));
    const second = n.publishConfirmed('review.two', new Uint8Array([0x90]));
    await Promise.all([first, second]);
    // The PONG that resolves `second` answers a PING sent before review.two was written: it says
    // nothing about review.two, which a connection cut right after the PONG loses.
    const lastFlush = calls.lastIndexOf('flush');
    expect(calls.indexOf('publish review.two')).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf('publish review.two')).toBeLessThan(lastFlush);
  });

  it('an event NATS refused (the connection is draining) is not confirmed', async () => {
    const { node: n } = await node();
    const draining = n.nc.drain();
    const confirmed = n.publishConfirmed('review.three', new Uint8Array([0x90]));
    const outcome = await confirmed.then(
      () => 'confirmed',
      () => 'refused',
    );
    await draining.catch(() => undefined);
    expect(outcome).toBe('refused');
  });
});
