/**
 * Advanced RPC: caller identification, pattern-based registrations and their precedence, shared
 * registrations, payload passthru. autobahn-js and wampy over each serializer; raw frames for the
 * exact INVOCATION/RESULT details and the feature checks.
 */
import { describe, expect, it } from 'vitest';
import type autobahn from 'autobahn';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import type { AutobahnPeer } from '../interop/clients.js';
import { BYTES, SERIALIZERS, autobahnCallError, connectAutobahn, connectWampy, exactNumbers, plainBytes, wampyCallError } from '../interop/clients.js';
import { Raw } from './support.js';

/** Registers an autobahn endpoint that answers with its own name. */
async function named(peer: AutobahnPeer, name: string, procedure: string, options: Record<string, unknown> = {}): Promise<autobahn.Registration> {
  return within(
    peer.session.register(procedure, () => name, options),
    3000,
    `REGISTERED ${procedure} (${name})`,
  );
}

async function callName(caller: AutobahnPeer, procedure: string): Promise<unknown> {
  return within(caller.session.call(procedure), 3000, `RESULT of ${procedure}`);
}

describe.each(SERIALIZERS)('RPC with clients over %s', (serializer) => {
  describe('caller identification', () => {
    it('CALL disclose_me: the autobahn endpoint learns caller, caller_authid, caller_authrole; without it, nothing', async () => {
      const router = await startTestRouter();
      const [caller, callee] = await Promise.all([connectAutobahn(router.url, serializer), connectAutobahn(router.url, serializer)]);
      const seen: autobahn.InvocationDetails[] = [];
      await within(
        callee.session.register('com.rpc.who', (_a, _k, details) => seen.push(details)),
        3000,
        'REGISTERED',
      );
      await within(caller.session.call('com.rpc.who'), 3000, 'RESULT');
      await within(caller.session.call('com.rpc.who', [], {}, { disclose_me: true }), 3000, 'RESULT');
      expect(seen.map((d) => [d.caller, d.caller_authid, d.caller_authrole])).toEqual([
        [undefined, undefined, undefined],
        [caller.session.id, caller.welcome['authid'], 'anonymous'],
      ]);
    });

    it('CALL disclose_me from wampy reaches an autobahn endpoint', async () => {
      const router = await startTestRouter();
      const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectAutobahn(router.url, serializer)]);
      await within(
        callee.session.register('com.rpc.who', (_a, _k, d) => [d.caller, d.caller_authid, d.caller_authrole]),
        3000,
        'REGISTERED',
      );
      const result = await within(caller.wampy.call('com.rpc.who', [], { disclose_me: true }), 3000, 'RESULT');
      const [id, authid, authrole] = exactNumbers(result.argsList?.[0]) as unknown[];
      expect(id).toBe(exactNumbers(caller.wampy.getSessionId()));
      expect(authid).toMatch(/^anonymous-\d+$/);
      expect(authrole).toBe('anonymous');
    });

    it('REGISTER disclose_caller: the callee learns the caller though the (wampy) caller did not ask', async () => {
      const router = await startTestRouter();
      const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectAutobahn(router.url, serializer)]);
      await within(
        callee.session.register('com.rpc.audited', (_a, _k, d) => [d.caller, d.caller_authid, d.caller_authrole], { disclose_caller: true }),
        3000,
        'REGISTERED',
      );
      await within(
        callee.session.register('com.rpc.private', (_a, _k, d) => [d.caller ?? null]),
        3000,
        'REGISTERED',
      );
      const audited = await within(caller.wampy.call('com.rpc.audited'), 3000, 'RESULT');
      const [id, authid, authrole] = exactNumbers(audited.argsList?.[0]) as unknown[];
      expect(id).toBe(exactNumbers(caller.wampy.getSessionId()));
      expect(authid).toMatch(/^anonymous-\d+$/);
      expect(authrole).toBe('anonymous');
      expect((await within(caller.wampy.call('com.rpc.private'), 3000, 'RESULT')).argsList).toEqual([[null]]);
    });
  });

  describe('pattern-based registrations', () => {
    it('prefix and wildcard endpoints learn the procedure called (autobahn and wampy)', async () => {
      const router = await startTestRouter();
      const [caller, byAutobahn, byWampy] = await Promise.all([
        connectAutobahn(router.url, serializer),
        connectAutobahn(router.url, serializer),
        connectWampy(router.url, serializer),
      ]);
      await within(
        byAutobahn.session.register('com.files.', (_a, _k, d) => d.procedure, { match: 'prefix' }),
        3000,
        'REGISTERED prefix',
      );
      await within(
        byWampy.wampy.register('com..status', ({ details }) => ({ argsList: [details['procedure']] }), { match: 'wildcard' }),
        3000,
        'REGISTERED wildcard',
      );
      expect(await within(caller.session.call('com.files.read.all'), 3000, 'RESULT')).toBe('com.files.read.all');
      expect(await within(caller.session.call('com.printer.status'), 3000, 'RESULT')).toBe('com.printer.status');
      expect((await autobahnCallError(caller.session.call('com.printer.status.now'))).error).toBe(ErrorUri.NoSuchProcedure);
    });

    it('precedence: exact, then prefix, then wildcard ("com.x." beats "com..y" for com.x.y); each falls back when unregistered', async () => {
      const router = await startTestRouter();
      const [caller, e, p, w] = await Promise.all([0, 1, 2, 3].map(() => connectAutobahn(router.url, serializer)));
      const wildcard = await named(w!, 'wildcard', 'com..y', { match: 'wildcard' });
      const prefix = await named(p!, 'prefix', 'com.x.', { match: 'prefix' });
      const exact = await named(e!, 'exact', 'com.x.y');
      expect(await callName(caller!, 'com.x.y')).toBe('exact');
      await within(e!.session.unregister(exact), 3000, 'UNREGISTERED');
      expect(await callName(caller!, 'com.x.y')).toBe('prefix');
      await within(p!.session.unregister(prefix), 3000, 'UNREGISTERED');
      expect(await callName(caller!, 'com.x.y')).toBe('wildcard');
      await within(w!.session.unregister(wildcard), 3000, 'UNREGISTERED');
      expect((await autobahnCallError(caller!.session.call('com.x.y'))).error).toBe(ErrorUri.NoSuchProcedure);
    });
  });

  describe('shared registrations', () => {
    it('roundrobin cycles through the callees in registration order (autobahn and wampy callees)', async () => {
      const router = await startTestRouter();
      const caller = await connectAutobahn(router.url, serializer);
      const a = await connectAutobahn(router.url, serializer);
      const b = await connectWampy(router.url, serializer);
      const c = await connectAutobahn(router.url, serializer);
      const procedure = 'com.rpc.rr';
      await named(a, 'a', procedure, { invoke: 'roundrobin' });
      await within(
        b.wampy.register(procedure, () => ({ argsList: ['b'] }), { invoke: 'roundrobin' }),
        3000,
        'REGISTERED b',
      );
      await named(c, 'c', procedure, { invoke: 'roundrobin' });
      const order: unknown[] = [];
      for (let i = 0; i < 7; i++) order.push(await callName(caller, procedure));
      expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    });

    it('random spreads calls over every callee', async () => {
      const router = await startTestRouter();
      const [caller, ...callees] = await Promise.all([0, 1, 2, 3].map(() => connectAutobahn(router.url, serializer)));
      for (const [i, callee] of callees.entries()) await named(callee, `c${i}`, 'com.rpc.random', { invoke: 'random' });
      const results = await within(Promise.all(Array.from({ length: 60 }, () => caller!.session.call('com.rpc.random'))), 5000, '60 RESULTs');
      // P(some callee never picked in 60 uniform draws) = 3·(2/3)^60 ≈ 1e-10.
      expect(new Set(results)).toEqual(new Set(['c0', 'c1', 'c2']));
    });

    it('first and last: the call goes to the oldest / newest callee; when it leaves, to the next in line', async () => {
      const router = await startTestRouter();
      const caller = await connectAutobahn(router.url, serializer);
      const callees = await Promise.all([1, 2, 3].map(() => connectAutobahn(router.url, serializer)));
      for (const [i, callee] of callees.entries()) {
        await named(callee, `first${i + 1}`, 'com.rpc.first', { invoke: 'first' });
        await named(callee, `last${i + 1}`, 'com.rpc.last', { invoke: 'last' });
      }
      expect([await callName(caller, 'com.rpc.first'), await callName(caller, 'com.rpc.first')]).toEqual(['first1', 'first1']);
      expect([await callName(caller, 'com.rpc.last'), await callName(caller, 'com.rpc.last')]).toEqual(['last3', 'last3']);
      await callees[0]!.leave();
      expect(await callName(caller, 'com.rpc.first')).toBe('first2');
      await callees[2]!.leave();
      expect(await callName(caller, 'com.rpc.last')).toBe('last2');
      expect(await callName(caller, 'com.rpc.first')).toBe('first2');
    });

    it('a different invocation policy is refused; so is a second single registration', async () => {
      const router = await startTestRouter();
      const [a, b] = await Promise.all([connectAutobahn(router.url, serializer), connectWampy(router.url, serializer)]);
      await named(a, 'a', 'com.rpc.shared', { invoke: 'roundrobin' });
      await named(a, 'a', 'com.rpc.single');
      const conflict = await within(
        b.wampy
          .register('com.rpc.shared', () => null, { invoke: 'random' })
          .then(
            () => 'registered',
            (e: unknown) => e,
          ),
        3000,
        'ERROR',
      );
      expect(conflict).toMatchObject({ errorUri: ErrorUri.ProcedureExistsWithDifferentInvocationPolicy });
      const taken = await within(
        b.wampy
          .register('com.rpc.single', () => null)
          .then(
            () => 'registered',
            (e: unknown) => e,
          ),
        3000,
        'ERROR',
      );
      expect(taken).toMatchObject({ errorUri: ErrorUri.ProcedureAlreadyExists });
      const defaultVsShared = await within(
        b.wampy
          .register('com.rpc.shared', () => null)
          .then(
            () => 'registered',
            (e: unknown) => e,
          ),
        3000,
        'ERROR',
      );
      expect(defaultVsShared).toMatchObject({ errorUri: ErrorUri.ProcedureExistsWithDifferentInvocationPolicy });
    });
  });

  it('payload passthru between wampy peers: ppt_* reach the callee and come back in RESULT.Details', async () => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
    const seen: Record<string, unknown>[] = [];
    await within(
      callee.wampy.register('com.rpc.ppt', ({ details, argsList, argsDict }) => {
        seen.push(details);
        return { argsList: [argsList, argsDict], options: { ppt_scheme: 'mqtt', ppt_serializer: 'native' } };
      }),
      3000,
      'REGISTERED',
    );
    const result = await within(
      caller.wampy.call('com.rpc.ppt', { argsList: [1], argsDict: { k: 'v' } }, { ppt_scheme: 'mqtt', ppt_serializer: 'native' }),
      3000,
      'RESULT',
    );
    expect(seen[0]).toMatchObject({ ppt_scheme: 'mqtt', ppt_serializer: 'native' });
    expect(result.details).toEqual({ ppt_scheme: 'mqtt', ppt_serializer: 'native' });
    expect(result.argsList).toEqual([[1], { k: 'v' }]);
  });

  it('a wampy caller using passthru towards an autobahn callee (which does not announce it) gets feature_not_supported', async () => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectAutobahn(router.url, serializer)]);
    await within(
      callee.session.register('com.rpc.noppt', () => 'never'),
      3000,
      'REGISTERED',
    );
    const error = await wampyCallError(caller.wampy.call('com.rpc.noppt', [1], { ppt_scheme: 'mqtt' }));
    expect(error.errorUri).toBe(ErrorUri.FeatureNotSupported);
  });
});

describe('RPC frames', () => {
  it('INVOCATION.Details: procedure only for pattern registrations; caller triple with disclose_me', async () => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const exact = await callee.register('com.f.exact');
    const prefix = await callee.register('com.f.', { match: 'prefix' });
    caller.call('com.f.exact', [1]);
    expect((await callee.invocation()).frame.slice(2)).toEqual([exact, {}, [1]]);
    caller.call('com.f.other', [], {}, { disclose_me: true });
    const invocation = await callee.invocation();
    expect(invocation.registration).toBe(prefix);
    expect(invocation.details).toEqual({ procedure: 'com.f.other', caller: caller.session, caller_authid: caller.authid, caller_authrole: 'anonymous' });
  });

  it('longest prefix wins; among wildcards, the one whose concrete components come first', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url);
    const callees: Record<string, Raw> = {};
    const patterns: [string, 'prefix' | 'wildcard'][] = [
      ['com.', 'prefix'],
      ['com.x.', 'prefix'],
      ['com.x.y.z', 'prefix'],
      ['a1...d4', 'wildcard'],
      ['a1.b2..d4', 'wildcard'],
      ['a1.b2..d4..f6.g7', 'wildcard'],
      ['a1.b2..d4.e5..g7', 'wildcard'],
    ];
    for (const [pattern, match] of patterns) {
      const callee = await Raw.join(router.url);
      await callee.register(pattern, { match });
      callees[pattern] = callee;
    }
    const expectRouted = async (procedure: string, pattern: string): Promise<void> => {
      const request = caller.call(procedure);
      const invocation = await callees[pattern]!.invocation();
      expect({ procedure, routedTo: pattern, details: invocation.details }).toEqual({ procedure, routedTo: pattern, details: { procedure } });
      callees[pattern]!.yield(invocation.request);
      expect(await caller.next()).toEqual([MessageCode.Result, request, {}]);
    };
    await expectRouted('com.x.y', 'com.x.');
    await expectRouted('com.xy', 'com.');
    await expectRouted('com.y', 'com.');
    await expectRouted('com.x.y.z.w', 'com.x.y.z');
    await expectRouted('a1.b2.c3.d4', 'a1.b2..d4');
    await expectRouted('a1.b9.c3.d4', 'a1...d4');
    await expectRouted('a1.b2.c88.d4.e5.f6.g7', 'a1.b2..d4.e5..g7');
    await expectRouted('a1.b2.c88.d4.e9.f6.g7', 'a1.b2..d4..f6.g7');
  });

  it('a session registering the same procedure twice is refused, shared or not', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url);
    await callee.register('com.twice', { invoke: 'roundrobin' });
    expect(await callee.registerError('com.twice', { invoke: 'roundrobin' })).toBe(ErrorUri.ProcedureAlreadyExists);
    expect(await callee.registerError('com.twice.', { match: 'prefix', invoke: 'nonsense' })).toBe(ErrorUri.InvalidArgument);
  });

  describe.each(SERIALIZERS)('payload passthru over %s', (serializer) => {
    const ppt = { ppt_scheme: 'x_custom', ppt_serializer: 'cbor', ppt_cipher: 'aes256gcm', ppt_keyid: 'key-7' };

    it('ppt_* travel CALL → INVOCATION and YIELD → RESULT untouched, with the binary payload', async () => {
      const router = await startTestRouter();
      const caller = await Raw.join(router.url, { caller: ['payload_passthru_mode'] }, { serializer });
      const callee = await Raw.join(router.url, { callee: ['payload_passthru_mode'] }, { serializer });
      await callee.register('com.ppt.echo');
      const request = caller.call('com.ppt.echo', [BYTES], undefined, ppt);
      const invocation = await callee.invocation();
      expect(invocation.details).toEqual(ppt);
      expect(plainBytes(invocation.args?.[0])).toEqual(BYTES);
      callee.yield(invocation.request, [BYTES], { ...ppt, ppt_keyid: 'key-8' });
      const result = await caller.expect(MessageCode.Result);
      expect(result.slice(0, 3)).toEqual([MessageCode.Result, request, { ...ppt, ppt_keyid: 'key-8' }]);
      expect(plainBytes((result[3] as unknown[])[0])).toEqual(BYTES);
    });

    it('a caller that did not announce payload_passthru_mode: ABORT protocol_violation', async () => {
      const router = await startTestRouter();
      const caller = await Raw.join(router.url, { caller: ['call_canceling'] }, { serializer });
      caller.call('com.ppt.echo', [BYTES], undefined, ppt);
      await caller.expectAbort();
    });

    it('a callee that did not announce it: the caller gets ERROR feature_not_supported, the callee nothing', async () => {
      const router = await startTestRouter();
      const caller = await Raw.join(router.url, { caller: ['payload_passthru_mode'] }, { serializer });
      const callee = await Raw.join(router.url, {}, { serializer });
      await callee.register('com.ppt.echo');
      const request = caller.call('com.ppt.echo', [BYTES], undefined, ppt);
      expect((await caller.expect(MessageCode.Error)).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.FeatureNotSupported]);
      // The callee's next frame is the INVOCATION of a plain call: the refused one never reached it.
      caller.call('com.ppt.echo', ['plain']);
      expect((await callee.invocation()).args).toEqual(['plain']);
    });

    it('a YIELD in passthru mode for a caller that did not announce it: ERROR feature_not_supported to both', async () => {
      const router = await startTestRouter();
      const caller = await Raw.join(router.url, {}, { serializer });
      const callee = await Raw.join(router.url, { callee: ['payload_passthru_mode'] }, { serializer });
      await callee.register('com.ppt.answer');
      const request = caller.call('com.ppt.answer');
      const invocation = await callee.invocation();
      callee.yield(invocation.request, [BYTES], ppt);
      expect((await callee.expect(MessageCode.Error)).slice(0, 5)).toEqual([
        MessageCode.Error,
        MessageCode.Invocation,
        invocation.request,
        {},
        ErrorUri.FeatureNotSupported,
      ]);
      expect((await caller.expect(MessageCode.Error)).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.FeatureNotSupported]);
    });

    it('a YIELD in passthru mode from a callee that did not announce it: ABORT protocol_violation', async () => {
      const router = await startTestRouter();
      const caller = await Raw.join(router.url, { caller: ['payload_passthru_mode'] }, { serializer });
      const callee = await Raw.join(router.url, {}, { serializer });
      await callee.register('com.ppt.answer');
      const request = caller.call('com.ppt.answer');
      const invocation = await callee.invocation();
      callee.yield(invocation.request, [BYTES], ppt);
      await callee.expectAbort();
      // The callee is gone, so the call ends: wamp.error.canceled.
      expect((await caller.expect(MessageCode.Error)).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.Canceled]);
    });
  });
});
