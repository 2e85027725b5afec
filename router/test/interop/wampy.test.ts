/**
 * Interop with wampy 8.0 (ESM, on `ws` in Node), over each serializer, across serializers, and
 * mixed with autobahn-js. Each test runs its own router on an ephemeral port.
 *
 * wampy always publishes with acknowledge: true, and sends exclude_me only when it is truthy.
 * Over msgpack, wampy's msgpackr yields every 64-bit integer (anything outside 32 bits, session
 * IDs too) as a BigInt; payloads are compared through `exactNumbers`, which checks the value.
 */
import { describe, expect, it } from 'vitest';
import autobahn from 'autobahn';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import {
  ARGS,
  BYTES,
  BYTES_AS_JSON_STRING,
  KWARGS,
  SERIALIZERS,
  WampyApplicationError,
  autobahnInbox,
  autobahnPublish,
  connectAutobahn,
  connectWampy,
  deferred,
  exactNumbers,
  plainBytes,
  uri,
  wampyCallError,
  wampyInbox,
} from './clients.js';

describe.each(SERIALIZERS)('wampy over %s', (serializer) => {
  it('joins realm1', async () => {
    const router = await startTestRouter();
    const peer = await connectWampy(router.url, serializer);
    expect(Number.isSafeInteger(exactNumbers(peer.wampy.getSessionId()))).toBe(true);
    expect(peer.socket.protocol).toBe(`wamp.2.${serializer}`);
    expect(router.sessionCount).toBe(1);
  });

  describe('publish & subscribe', () => {
    it('delivers args and kwargs untouched: nesting, unicode, integers to ±2^53', async () => {
      const router = await startTestRouter();
      const [publisher, subscriber] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const topic = uri('pubsub');
      const { inbox } = await wampyInbox(subscriber, topic);
      const published = await within(publisher.wampy.publish(topic, { argsList: [...ARGS], argsDict: { ...KWARGS } }), 3000, 'PUBLISHED');
      const event = await inbox.next();
      expect(exactNumbers(event.argsList)).toEqual(ARGS);
      expect(exactNumbers(event.argsDict)).toEqual(KWARGS);
      expect(Number.isSafeInteger(exactNumbers(published.publicationId))).toBe(true);
    });

    it('exclude_me defaults to true: the publisher does not receive its own event', async () => {
      const router = await startTestRouter();
      const [publisher, other] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const topic = uri('excludeme');
      const mine = await wampyInbox(publisher, topic);
      const theirs = await wampyInbox(other, topic);

      await within(publisher.wampy.publish(topic, ['first']), 3000, 'PUBLISHED first');
      expect((await theirs.inbox.next()).argsList).toEqual(['first']);
      // `other` publishes only once 'first' has been fully handled (PUBLISHED came back and
      // `other` has its EVENT): had 'first' gone back to the publisher too, it would have been
      // queued on that connection before 'marker'.
      await within(other.wampy.publish(topic, ['marker']), 3000, 'PUBLISHED marker');
      expect((await mine.inbox.next()).argsList).toEqual(['marker']);
      expect(mine.inbox.all.map((e) => e.argsList?.[0])).toEqual(['marker']);
    });

    it('exclude_me: false is dropped by wampy 8.0.2 (it sends only truthy exclude_me), so the router applies the default', async () => {
      const router = await startTestRouter();
      const [publisher, other] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const topic = uri('includeme');
      const mine = await wampyInbox(publisher, topic);
      await within(publisher.wampy.publish(topic, ['mine'], { exclude_me: false }), 3000, 'PUBLISHED');
      const frame = publisher.sent.find((m) => m[0] === MessageCode.Publish && m[3] === topic);
      expect(frame?.[2]).toEqual({ acknowledge: true }); // no exclude_me on the wire: a client limitation
      await within(other.wampy.publish(topic, ['marker']), 3000, 'PUBLISHED marker');
      expect((await mine.inbox.next()).argsList).toEqual(['marker']);
    });

    it('after UNSUBSCRIBE the subscriber gets no more events on that topic', async () => {
      const router = await startTestRouter();
      const [publisher, subscriber] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const topic = uri('unsub');
      const marker = uri('marker');
      const gone = await wampyInbox(subscriber, topic);
      const markers = await wampyInbox(subscriber, marker);

      await within(publisher.wampy.publish(topic, ['before']), 3000, 'PUBLISHED before');
      expect((await gone.inbox.next()).argsList).toEqual(['before']);
      await within(subscriber.wampy.unsubscribe(gone.subscriptionId), 3000, 'UNSUBSCRIBED');
      await within(publisher.wampy.publish(topic, ['after']), 3000, 'PUBLISHED after');
      // [bp_pubsub ordering] One publisher's events reach a subscriber in order across topics.
      await within(publisher.wampy.publish(marker, ['marker']), 3000, 'PUBLISHED marker');
      expect((await markers.inbox.next()).argsList).toEqual(['marker']);
      expect(gone.inbox.all.map((e) => e.argsList?.[0])).toEqual(['before']);
    });

    it("keeps one publisher's order: 500 events in a burst arrive in sequence", async () => {
      const router = await startTestRouter();
      const [publisher, subscriber] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const topic = uri('order');
      const { inbox } = await wampyInbox(subscriber, topic);
      const count = 500;
      const acks = Array.from({ length: count }, (_, i) => publisher.wampy.publish(topic, { argsList: [i], argsDict: { seq: i } }));
      await within(Promise.all(acks), 10_000, `${count} × PUBLISHED`);
      const events = await inbox.take(count, 10_000);
      expect(events.map((e) => e.argsList?.[0])).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(events.map((e) => e.argsDict?.['seq'])).toEqual(Array.from({ length: count }, (_, i) => i));
    });
  });

  describe('remote procedure calls', () => {
    it('routes CALL args/kwargs to the callee and its result args/kwargs back', async () => {
      const router = await startTestRouter();
      const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const procedure = uri('echo');
      const invoked: unknown[] = [];
      await within(
        callee.wampy.register(procedure, ({ argsList, argsDict }) => {
          invoked.push({ argsList, argsDict });
          return { argsList: [...(argsList ?? [])].reverse(), argsDict: { ...argsDict, answered: true } };
        }),
        3000,
        'REGISTERED',
      );
      const result = await within(caller.wampy.call(procedure, { argsList: [...ARGS], argsDict: { ...KWARGS } }), 3000, 'RESULT');
      expect(exactNumbers(invoked)).toEqual([{ argsList: ARGS, argsDict: KWARGS }]);
      expect(exactNumbers(result.argsList)).toEqual([...ARGS].reverse());
      expect(exactNumbers(result.argsDict)).toEqual({ ...KWARGS, answered: true });
    });

    it("forwards a callee's application error: its URI, args and kwargs exactly", async () => {
      const router = await startTestRouter();
      const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const procedure = uri('fails');
      const errorArgs = ['bad input', 42, { field: 'name', limits: [1, 2 ** 53] }];
      const errorKwargs = { reason: 'ungültig ✗', code: 4711, detail: { nested: { list: [null, true] } } };
      await within(
        callee.wampy.register(procedure, () => {
          throw new WampyApplicationError('com.example.error.invalid_argument', errorArgs, errorKwargs);
        }),
        3000,
        'REGISTERED',
      );
      const error = await wampyCallError(caller.wampy.call(procedure, ['x']));
      expect(exactNumbers(error)).toEqual({ errorUri: 'com.example.error.invalid_argument', argsList: errorArgs, argsDict: errorKwargs });
    });

    it('a procedure nobody registered: wamp.error.no_such_procedure', async () => {
      const router = await startTestRouter();
      const caller = await connectWampy(router.url, serializer);
      expect((await wampyCallError(caller.wampy.call(uri('nobody'), [1]))).errorUri).toBe(ErrorUri.NoSuchProcedure);
    });

    it('a second session registering the same procedure: wamp.error.procedure_already_exists', async () => {
      const router = await startTestRouter();
      const [first, second, caller] = await Promise.all([
        connectWampy(router.url, serializer),
        connectWampy(router.url, serializer),
        connectWampy(router.url, serializer),
      ]);
      const procedure = uri('taken');
      await within(
        first.wampy.register(procedure, () => ({ argsList: ['first'] })),
        3000,
        'REGISTERED',
      );
      const refused = await wampyCallError(second.wampy.register(procedure, () => ({ argsList: ['second'] })));
      expect(refused.errorUri).toBe(ErrorUri.ProcedureAlreadyExists);
      expect((await within(caller.wampy.call(procedure), 3000, 'RESULT')).argsList).toEqual(['first']);
    });

    it('after UNREGISTER a call gets wamp.error.no_such_procedure', async () => {
      const router = await startTestRouter();
      const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const procedure = uri('unreg');
      await within(
        callee.wampy.register(procedure, () => ({ argsList: ['here'] })),
        3000,
        'REGISTERED',
      );
      expect((await within(caller.wampy.call(procedure), 3000, 'RESULT')).argsList).toEqual(['here']);
      await within(callee.wampy.unregister(procedure), 3000, 'UNREGISTERED');
      expect((await wampyCallError(caller.wampy.call(procedure))).errorUri).toBe(ErrorUri.NoSuchProcedure);
    });

    it.each([
      ['drops its TCP connection', (peer: { socket: { terminate(): void } }) => peer.socket.terminate()],
      ['says GOODBYE', (peer: { wampy: { disconnect(): Promise<unknown> } }) => void peer.wampy.disconnect()],
    ])('a callee that %s while a call is pending: the caller gets wamp.error.canceled at once', async (_how, leave) => {
      const router = await startTestRouter();
      const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
      const procedure = uri('hangs');
      const invoked = deferred();
      await within(
        callee.wampy.register(procedure, () => {
          invoked.resolve();
          return new Promise<never>(() => {}); // never answers
        }),
        3000,
        'REGISTERED',
      );
      const call = caller.wampy.call(procedure, ['pending']);
      await within(invoked.promise, 3000, 'the INVOCATION');
      const leftAt = performance.now();
      leave(callee);
      const error = await wampyCallError(call, 1000);
      expect(performance.now() - leftAt).toBeLessThan(1000);
      expect(error.errorUri).toBe(ErrorUri.Canceled);
      await within(callee.closed, 3000, 'the callee connection to close');
      expect(caller.wampy.getSessionId()).not.toBeNull();
    });
  });

  describe('closing', () => {
    it('GOODBYE from the client: the router answers and forgets the session', async () => {
      const router = await startTestRouter();
      const peer = await connectWampy(router.url, serializer);
      expect(router.sessionCount).toBe(1);
      await within(peer.wampy.disconnect(), 3000, 'wampy disconnect');
      await within(peer.closed, 3000, 'the connection to close');
      expect(router.sessionCount).toBe(0);
    });

    it('router shutdown: the client gets GOODBYE and its connection closes', async () => {
      const router = await startTestRouter();
      const peer = await connectWampy(router.url, serializer);
      await within(router.stop(), 5000, 'the router to stop');
      await within(peer.closed, 3000, 'the client to see the close');
      expect(peer.wampy.getSessionId() ?? null).toBeNull();
    });
  });
});

describe('wampy across serializers and with autobahn-js', () => {
  it('binary payload: a msgpack publisher, JSON and CBOR subscribers get the same bytes', async () => {
    const router = await startTestRouter();
    const [publisher, jsonSub, cborSub] = await Promise.all([
      connectWampy(router.url, 'msgpack'),
      connectWampy(router.url, 'json'),
      connectWampy(router.url, 'cbor'),
    ]);
    const topic = uri('binary');
    const json = await wampyInbox(jsonSub, topic);
    const cbor = await wampyInbox(cborSub, topic);
    await within(publisher.wampy.publish(topic, { argsList: [BYTES, 'text'], argsDict: { blob: BYTES, nested: { blob: BYTES } } }), 3000, 'PUBLISHED');

    const viaCbor = await cbor.inbox.next();
    expect(plainBytes(viaCbor.argsList?.[0])).toEqual(BYTES);
    expect(viaCbor.argsList?.[1]).toBe('text');
    expect(plainBytes(viaCbor.argsDict?.['blob'])).toEqual(BYTES);
    expect(plainBytes((viaCbor.argsDict?.['nested'] as Record<string, unknown>)['blob'])).toEqual(BYTES);

    // wampy's JSON serializer is plain JSON.parse: it leaves the spec's "\0"+base64 form as is.
    const viaJson = await json.inbox.next();
    expect(viaJson.argsList).toEqual([BYTES_AS_JSON_STRING, 'text']);
    expect(viaJson.argsDict).toEqual({ blob: BYTES_AS_JSON_STRING, nested: { blob: BYTES_AS_JSON_STRING } });
  });

  it.each([
    ['json', 'msgpack'],
    ['msgpack', 'cbor'],
    ['cbor', 'json'],
  ] as const)('RPC with a %s caller and a %s callee: args, kwargs and errors cross intact', async (callerSerializer, calleeSerializer) => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([connectWampy(router.url, callerSerializer), connectWampy(router.url, calleeSerializer)]);
    const echo = uri('xecho');
    const fail = uri('xfail');
    await within(
      callee.wampy.register(echo, ({ argsList, argsDict }) => ({ argsList: argsList ?? [], argsDict: argsDict ?? {} })),
      3000,
      'REGISTERED echo',
    );
    await within(
      callee.wampy.register(fail, ({ argsList, argsDict }) => {
        throw new WampyApplicationError('com.example.error.crossed', argsList ?? [], argsDict ?? {});
      }),
      3000,
      'REGISTERED fail',
    );
    const result = await within(caller.wampy.call(echo, { argsList: [...ARGS], argsDict: { ...KWARGS } }), 3000, 'RESULT');
    expect(exactNumbers(result.argsList)).toEqual(ARGS);
    expect(exactNumbers(result.argsDict)).toEqual(KWARGS);
    const error = await wampyCallError(caller.wampy.call(fail, { argsList: ['why'], argsDict: { because: 'ü' } }));
    expect(exactNumbers(error)).toEqual({ errorUri: 'com.example.error.crossed', argsList: ['why'], argsDict: { because: 'ü' } });
  });

  it('a wampy (CBOR) caller and an autobahn-js (msgpack) callee, including an application error', async () => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([connectWampy(router.url, 'cbor'), connectAutobahn(router.url, 'msgpack')]);
    const echo = uri('mixedecho');
    const fail = uri('mixedfail');
    await within(
      callee.session.register(echo, (args, kwargs) => new autobahn.Result(args, kwargs)),
      3000,
      'REGISTERED echo',
    );
    await within(
      callee.session.register(fail, () => {
        throw new autobahn.Error('com.example.error.mixed', ['a', 1], { k: 'v' });
      }),
      3000,
      'REGISTERED fail',
    );
    const result = await within(caller.wampy.call(echo, { argsList: [...ARGS], argsDict: { ...KWARGS } }), 3000, 'RESULT');
    expect(exactNumbers(result.argsList)).toEqual(ARGS);
    expect(exactNumbers(result.argsDict)).toEqual(KWARGS);
    expect(await wampyCallError(caller.wampy.call(fail))).toEqual({ errorUri: 'com.example.error.mixed', argsList: ['a', 1], argsDict: { k: 'v' } });
  });

  it('an autobahn-js (JSON) publisher and a wampy (msgpack) subscriber, and back', async () => {
    const router = await startTestRouter();
    const [abPeer, wampyPeer] = await Promise.all([connectAutobahn(router.url, 'json'), connectWampy(router.url, 'msgpack')]);
    const toWampy = uri('towampy');
    const toAutobahn = uri('toautobahn');
    const wampyGets = await wampyInbox(wampyPeer, toWampy);
    const autobahnGets = await autobahnInbox(abPeer, toAutobahn);
    await autobahnPublish(abPeer, toWampy, [...ARGS], { ...KWARGS, blob: BYTES_AS_JSON_STRING });
    const event = await wampyGets.inbox.next();
    expect(exactNumbers(event.argsList)).toEqual(ARGS);
    const { blob, ...rest } = event.argsDict ?? {};
    expect(exactNumbers(rest)).toEqual(KWARGS);
    expect(plainBytes(blob)).toEqual(BYTES); // "\0"+base64 from JSON became msgpack bin
    await within(wampyPeer.wampy.publish(toAutobahn, { argsList: [...ARGS], argsDict: { ...KWARGS } }), 3000, 'PUBLISHED');
    const back = await autobahnGets.inbox.next();
    expect(back.args).toEqual(ARGS);
    expect(back.kwargs).toEqual(KWARGS);
  });
});
