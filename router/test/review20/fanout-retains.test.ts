/**
 * Review of payload passthrough (#20): what a FanOutEvent keeps alive. A catch-up hold (SUBSCRIBE
 * with history, an SSE stream resuming) keeps FanOutEvents and counts each at its EVENT's encoded
 * length; since #20, fanOut captures the whole PUBLISH message (its `payload` argument) in the
 * event's closures, so each held event also pins the PUBLISH's options and head — whatever their
 * size — which no limit counts. See findings.md.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CODECS, PASSTHROUGH, parseMessage } from '@switchboard/schemas';
import type { Publish } from '@switchboard/schemas';
import { NO_FILTER } from '../../src/broker/broker.js';
import type { DeliveryPlan } from '../../src/broker/broker.js';
import type { Endpoint, SharedEvent } from '../../src/core/endpoint.js';
import { fanOut } from '../../src/realm/fanout.js';
import { silentLogger } from '../../src/log.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
  return ref.deref() === undefined;
}

function planFor(held: SharedEvent[]): DeliveryPlan<Endpoint> {
  const subscriber = {
    id: 2,
    sendEvent: (event: SharedEvent) => {
      held.push(event);
      return 'sent';
    },
  };
  const subscription = { id: 5, topic: 'com.example.topic', match: 'exact', created: 0, subscribers: new Set([subscriber]), persistent: false };
  return {
    publication: 9,
    publisher: undefined,
    topic: 'com.example.topic',
    subscriptions: [subscription],
    filter: NO_FILTER,
  } as unknown as DeliveryPlan<Endpoint>;
}

describe('review #20: a held EVENT and the PUBLISH it came from', () => {
  for (const name of ['msgpack', 'json'] as const) {
    it(`${name}: a held EVENT does not keep the PUBLISH's options alive (a 1 MB option, a 1.1 kB payload)`, async () => {
      const codec = CODECS[name];
      const encoded = codec.encode([16, 1, { junk: 'j'.repeat(1_000_000) }, 'com.example.topic', ['p'.repeat(1100)]]);
      const frame = typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
      let msg: Publish | undefined = parseMessage(codec.decode(frame, { passthrough: PASSTHROUGH })) as Publish;
      const options = new WeakRef(msg.options);
      const held: SharedEvent[] = [];
      // What pubsub.ts publishAs does for a PUBLISH: the message is the payload.
      fanOut(silentLogger(), 'realm1', planFor(held), {}, msg);
      msg = undefined;
      expect(held).toHaveLength(1);
      expect(await collected(new WeakRef({}))).toBe(true); // the collector runs
      expect(await collected(options)).toBe(true);
      expect(held[0]!.message().args).toEqual(['p'.repeat(1100)]);
    });
  }
});
