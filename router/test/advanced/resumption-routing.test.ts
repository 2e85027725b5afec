/**
 * The realm's side of session resumption, frame by frame through a real router: the dealer skips
 * a detached callee of a shared registration and answers wamp.error.session_unattached for a
 * single one; an invocation in flight ends at its callee's detach and the callee's late YIELD
 * after its resume is dropped without a protocol violation; wamp.session.on_attach / on_detach in
 * order; testaments of scope `detached` at a transport cut, `destroyed` ones at the expiry.
 * A transport cut is the socket closed under the session (ws.terminate: no GOODBYE, no close
 * frame). Every wait is for an event, bounded. [ap_session_resumption, ap_pubsub_testament]
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter } from '../helpers.js';
import { Raw, asDict, asNumber } from './support.js';
import type { Dict } from './support.js';

const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

/**
 * A resumable session spoken frame by frame across its transports: one sequence of request IDs
 * for the session's whole life (the router checks it across a resume), the current transport,
 * and its resume token.
 */
class Resumable {
  #request = 0;

  private constructor(
    public peer: RawPeer,
    readonly session: number,
    public token: string,
  ) {}

  static async join(url: string): Promise<Resumable> {
    const peer = await RawPeer.connect(url);
    peer.send([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true }]);
    const welcome = await peer.next();
    expect(welcome[0]).toBe(MessageCode.Welcome);
    const details = asDict(welcome[2], 'WELCOME.Details');
    expect(details).toMatchObject({ resumable: true, resumed: false });
    return new Resumable(peer, asNumber(welcome[1]), String(details['resume-token']));
  }

  /** Closes the socket under the session: no GOODBYE, no close handshake. */
  cut(): void {
    this.peer.ws.terminate();
  }

  /** Resumes on a new transport (the opportunistic form); resolves to the WELCOME details. */
  async resume(url: string): Promise<Dict> {
    const peer = await RawPeer.connect(url);
    peer.send([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true, 'resume-session': this.session, 'resume-token': this.token }]);
    const welcome = await peer.next();
    expect(welcome.slice(0, 2)).toEqual([MessageCode.Welcome, this.session]);
    const details = asDict(welcome[2], 'WELCOME.Details');
    expect(details).toMatchObject({ resumed: true, resumable: true });
    this.peer = peer;
    this.token = String(details['resume-token']);
    return details;
  }

  nextRequest(): number {
    return ++this.#request;
  }

  send(message: unknown[]): void {
    this.peer.send(message);
  }

  next(): Promise<unknown[]> {
    return this.peer.next();
  }

  async register(procedure: string, options: Dict = {}): Promise<void> {
    const request = this.nextRequest();
    this.send([MessageCode.Register, request, options, procedure]);
    expect((await this.next()).slice(0, 2)).toEqual([MessageCode.Registered, request]);
  }

  async callResult(procedure: string, args: unknown[]): Promise<unknown[]> {
    const request = this.nextRequest();
    this.send([MessageCode.Call, request, {}, procedure, args]);
    const reply = await this.next();
    expect(reply.slice(0, 2)).toEqual([MessageCode.Result, request]);
    return reply;
  }
}

/** A session listening to the session meta events: each as [event, details or session ID]. */
async function metaWatcher(url: string): Promise<{ next(): Promise<[string, unknown]>; watcher: Raw }> {
  const watcher = await Raw.join(url);
  const names = new Map<number, string>();
  for (const event of ['on_attach', 'on_detach', 'on_join', 'on_leave']) names.set(await watcher.subscribe(`wamp.session.${event}`), event);
  return {
    watcher,
    async next() {
      const event = await watcher.expect(MessageCode.Event);
      return [names.get(asNumber(event[1])) ?? '?', (event[4] as unknown[])[0]];
    },
  };
}

/** Waits until the router has detached `session` (its on_detach event). */
async function detached(meta: { next(): Promise<[string, unknown]> }, session: number): Promise<void> {
  const [event, details] = await meta.next();
  expect(event).toBe('on_detach');
  expect(details).toMatchObject({ session, resumable: true, attached: false });
}

describe('the dealer and a detached callee', () => {
  it('a shared registration skips the detached callee; a single registration answers session_unattached; both reach it again once it resumes', async () => {
    const router = await startTestRouter();
    const meta = await metaWatcher(router.url);
    const a = await Resumable.join(router.url);
    const b = await Raw.join(router.url);
    const caller = await Raw.join(router.url);
    await a.register('com.shared', { invoke: 'roundrobin' });
    await a.register('com.single');
    await b.register('com.shared', { invoke: 'roundrobin' });
    for (let i = 0; i < 2; i++) await meta.next(); // a's on_attach, on_join
    for (let i = 0; i < 4; i++) await meta.next(); // b's and the caller's

    a.cut();
    await detached(meta, a.session);
    for (let i = 0; i < 3; i++) {
      const request = caller.call('com.shared', [i]);
      const invocation = await b.invocation();
      b.send([MessageCode.Yield, invocation.request, {}, [`b${i}`]]);
      expect((await caller.next()).slice(0, 4)).toEqual([MessageCode.Result, request, {}, [`b${i}`]]);
    }
    const refused = await caller.callError('com.single', []);
    expect(refused[4]).toBe(ErrorUri.SessionUnattached);

    await a.resume(router.url);
    const request = caller.call('com.single', ['again']);
    const invocation = await a.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);
    a.send([MessageCode.Yield, invocation[1], {}, ['a']]);
    expect((await caller.next()).slice(0, 4)).toEqual([MessageCode.Result, request, {}, ['a']]);
  });
});

describe('an invocation in flight at the detach', () => {
  it('ends for its caller with session_unattached; the late YIELD after the resume is dropped, no protocol violation', async () => {
    const router = await startTestRouter();
    const meta = await metaWatcher(router.url);
    const callee = await Resumable.join(router.url);
    const caller = await Raw.join(router.url);
    await callee.register('com.slow');
    for (let i = 0; i < 4; i++) await meta.next();

    const first = caller.call('com.slow', ['work']);
    const invocation = await callee.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);
    callee.cut();
    await detached(meta, callee.session);
    const ended = await caller.expect(MessageCode.Error);
    expect(ended.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, first, {}, ErrorUri.SessionUnattached]);

    await callee.resume(router.url);
    expect((await meta.next())[0]).toBe('on_attach');
    // The late answer: dropped. The callee's session lives on (a protocol violation would ABORT it).
    callee.send([MessageCode.Yield, invocation[1], {}, ['late']]);
    const own = await callee.callResult('wamp.session.get', [callee.session]);
    expect((own[3] as unknown[])[0]).toMatchObject({ session: callee.session, resumable: true, attached: true });
    // The caller's next answer is its next call's, not the late one.
    const second = caller.call('com.slow', ['again']);
    const next = await callee.next();
    callee.send([MessageCode.Yield, next[1], {}, ['fresh']]);
    expect((await caller.next()).slice(0, 4)).toEqual([MessageCode.Result, second, {}, ['fresh']]);
  });
});

describe('meta events on_attach / on_detach', () => {
  it('on_attach before on_join; on_detach at a cut; on_attach resumed at the resume; on_detach before on_leave at GOODBYE', async () => {
    const router = await startTestRouter();
    const meta = await metaWatcher(router.url);
    const s = await Resumable.join(router.url);
    const attached = await meta.next();
    expect(attached).toEqual(['on_attach', expect.objectContaining({ session: s.session, resumable: true, attached: true, resumed: false })]);
    expect(await meta.next()).toEqual(['on_join', expect.objectContaining({ session: s.session })]);

    s.cut();
    await detached(meta, s.session);
    await s.resume(router.url);
    expect(await meta.next()).toEqual(['on_attach', expect.objectContaining({ session: s.session, attached: true, resumed: true })]);

    s.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect((await s.next())[0]).toBe(MessageCode.Goodbye);
    expect(await meta.next()).toEqual(['on_detach', expect.objectContaining({ session: s.session, attached: false })]);
    expect(await meta.next()).toEqual(['on_leave', s.session]);
  });

  it('a resume that takes over a still-attached session: on_detach, then on_attach resumed; the old transport is closed', async () => {
    const router = await startTestRouter();
    const meta = await metaWatcher(router.url);
    const s = await Resumable.join(router.url);
    for (let i = 0; i < 2; i++) await meta.next();
    const old = s.peer;
    await s.resume(router.url);
    expect(await meta.next()).toEqual(['on_detach', expect.objectContaining({ session: s.session, attached: false })]);
    expect(await meta.next()).toEqual(['on_attach', expect.objectContaining({ session: s.session, resumed: true })]);
    expect((await old.waitClosed()).code).toBe(1000);
  });

  it('a router pause (wamp.session.kill resumable) and a client pause (GOODBYE resumable): on_detach, detached testaments, no on_leave', async () => {
    const router = await startTestRouter();
    const meta = await metaWatcher(router.url);
    const will = await meta.watcher.subscribe('com.will', { match: 'prefix' });
    const s = await Resumable.join(router.url);
    for (let i = 0; i < 2; i++) await meta.next();
    await s.callResult('wamp.session.add_testament', ['com.will.paused', [], {}, { scope: 'detached' }]);
    meta.watcher.send([MessageCode.Call, meta.watcher.nextRequest(), {}, 'wamp.session.kill', [s.session], { resumable: true }]);
    expect((await s.next())[0]).toBe(MessageCode.Goodbye);
    s.send([MessageCode.Goodbye, {}, 'wamp.close.goodbye_and_out']);
    // The watcher hears, in order: the kill's RESULT, on_detach and the testament (the plugins' order).
    const frames = [await meta.watcher.next(), await meta.watcher.next(), await meta.watcher.next()];
    expect(frames.filter((f) => f[0] === MessageCode.Result)).toHaveLength(1);
    const detachEvent = (f: unknown[]): boolean =>
      f[0] === MessageCode.Event &&
      f[1] !== will &&
      asDict((f[4] as unknown[])[0])['session'] === s.session &&
      asDict((f[4] as unknown[])[0])['attached'] === false;
    expect(frames.filter(detachEvent)).toHaveLength(1);
    expect(frames.find((f) => f[0] === MessageCode.Event && f[1] === will)?.[3]).toMatchObject({ topic: 'com.will.paused' });
    await s.resume(router.url);
    // Only an on_attach follows: no on_leave came between.
    expect(await meta.next()).toEqual(['on_attach', expect.objectContaining({ session: s.session, resumed: true })]);
    // A client pause: the testament (added again) fires again, once.
    await s.callResult('wamp.session.add_testament', ['com.will.paused', [], {}, { scope: 'detached' }]);
    s.send([MessageCode.Goodbye, { resumable: true }, 'wamp.close.close_realm']);
    expect(await s.next()).toEqual([MessageCode.Goodbye, { resumable: true }, 'wamp.close.goodbye_and_out']);
    const paused = [await meta.watcher.next(), await meta.watcher.next()];
    expect(paused.filter(detachEvent)).toHaveLength(1);
    expect(paused.filter((f) => f[0] === MessageCode.Event && f[1] === will)).toHaveLength(1);
  });

  it('a session that does not ask for resumption gets on_attach and on_detach too, with on_join details and no new keys', async () => {
    const router = await startTestRouter();
    const meta = await metaWatcher(router.url);
    const plain = await Raw.join(router.url);
    const [event, details] = await meta.next();
    expect(event).toBe('on_attach');
    expect(details).toMatchObject({ session: plain.session, resumed: false });
    expect(details).not.toHaveProperty('resumable');
    expect((await meta.next())[0]).toBe('on_join');
    plain.peer.ws.terminate();
    expect(await meta.next()).toEqual(['on_detach', expect.objectContaining({ session: plain.session })]);
    expect(await meta.next()).toEqual(['on_leave', plain.session]);
  });
});

describe('the meta API and a detached session', () => {
  it('wamp.session.list and get show it, with resumable and attached false; attached true again after the resume', async () => {
    const router = await startTestRouter();
    const meta = await metaWatcher(router.url);
    const s = await Resumable.join(router.url);
    for (let i = 0; i < 2; i++) await meta.next();
    s.cut();
    await detached(meta, s.session);
    expect(await meta.watcher.meta('wamp.session.list')).toContain(s.session);
    expect(await meta.watcher.meta('wamp.session.get', [s.session])).toMatchObject({ session: s.session, resumable: true, attached: false });
    await s.resume(router.url);
    expect(await meta.next()).toEqual(['on_attach', expect.objectContaining({ session: s.session, resumed: true })]);
    expect(await meta.watcher.meta('wamp.session.get', [s.session])).toMatchObject({ session: s.session, resumable: true, attached: true });
    // A session that did not ask: no new keys.
    expect(await meta.watcher.meta('wamp.session.get', [meta.watcher.session])).not.toHaveProperty('resumable');
  });
});

describe('testaments at a transport cut', () => {
  it('detached ones fire at the cut, once; destroyed ones at the expiry of the resume window', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1', limits: { resumeWindowMs: 300 } }] });
    const watcher = await Raw.join(router.url);
    await watcher.subscribe('com.will', { match: 'prefix' });
    const onLeave = await watcher.subscribe('wamp.session.on_leave');
    const s = await Resumable.join(router.url);
    await s.callResult('wamp.session.add_testament', ['com.will.detached', ['d'], {}, { scope: 'detached' }]);
    await s.callResult('wamp.session.add_testament', ['com.will.destroyed', ['x'], {}, { scope: 'destroyed' }]);

    s.cut();
    const first = await watcher.expect(MessageCode.Event);
    expect(first[3]).toMatchObject({ topic: 'com.will.detached' });
    expect(first[4]).toEqual(['d']);
    // Nobody resumes: at the window's end the session ends as a leave (on_leave and the destroyed
    // testament, in the order the plugins hear it).
    const ending = [await watcher.expect(MessageCode.Event), await watcher.expect(MessageCode.Event)];
    const left = ending.find((e) => e[1] === onLeave);
    const destroyed = ending.find((e) => e[1] !== onLeave);
    expect(left?.[4]).toEqual([s.session, expect.any(String), expect.any(String)]);
    expect(destroyed?.[3]).toMatchObject({ topic: 'com.will.destroyed' });
    expect(destroyed?.[4]).toEqual(['x']);
  });
});
