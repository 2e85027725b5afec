/**
 * Advanced Profile test support: a frame-level WAMP session (`Raw`) that announces exactly the
 * features a test names in HELLO, and small checks on frames. Every wait is bounded (RawPeer's
 * `next` waits at most 3 s by default).
 */
import { expect } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { RawPeer } from '../helpers.js';

export type Role = 'publisher' | 'subscriber' | 'caller' | 'callee';

/** Features to announce per role (`HELLO.Details.roles.<role>.features.<name> = true`). Every role is announced. */
export type Features = Partial<Record<Role, readonly string[]>>;

export type Dict = Record<string, unknown>;

export interface JoinOptions {
  serializer?: SerializerName;
  realm?: string;
}

export function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** `value` as a dict, or a test failure naming what it was. */
export function asDict(value: unknown, what = 'value'): Dict {
  if (!isDict(value)) throw new Error(`expected ${what} to be a dict, got ${JSON.stringify(value)}`);
  return value;
}

/** `value` as a list, or a test failure naming what it was. */
export function asList(value: unknown, what = 'value'): unknown[] {
  if (!Array.isArray(value)) throw new Error(`expected ${what} to be a list, got ${JSON.stringify(value)}`);
  return value;
}

/** `value` as a number, or a test failure naming what it was. */
export function asNumber(value: unknown, what = 'value'): number {
  if (typeof value !== 'number') throw new Error(`expected ${what} to be a number, got ${JSON.stringify(value)}`);
  return value;
}

/** For messages in assertions: binary as `<N bytes>`. */
export function show(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
}

/**
 * A WAMP session spoken frame by frame. Request IDs come from one sequential counter, as the
 * router checks. Helpers wait for exactly the reply they expect: anything else arriving first
 * fails the test with the frame, so no test passes on a frame it did not look at.
 */
export class Raw {
  private constructor(
    readonly peer: RawPeer,
    readonly session: number,
    readonly welcome: Dict,
  ) {}

  /** Connects and joins, announcing every role with exactly `features`. */
  static async join(url: string, features: Features = {}, options: JoinOptions = {}): Promise<Raw> {
    const peer = await RawPeer.connect(url, options.serializer ?? 'json');
    const roles: Dict = {};
    for (const role of ['publisher', 'subscriber', 'caller', 'callee'] as const) {
      const names = features[role] ?? [];
      roles[role] = names.length === 0 ? {} : { features: Object.fromEntries(names.map((n) => [n, true])) };
    }
    peer.send([MessageCode.Hello, options.realm ?? 'realm1', { roles }]);
    const welcome = await peer.next();
    if (welcome[0] !== MessageCode.Welcome) throw new Error(`expected WELCOME, got ${show(welcome)}`);
    return new Raw(peer, asNumber(welcome[1], 'WELCOME.Session'), asDict(welcome[2], 'WELCOME.Details'));
  }

  get authid(): string {
    return String(this.welcome['authid']);
  }

  nextRequest(): number {
    return this.peer.nextRequest();
  }

  send(message: unknown[]): void {
    this.peer.send(message);
  }

  /** The next frame, whatever it is. */
  next(ms?: number): Promise<unknown[]> {
    return this.peer.next(ms);
  }

  /** The next frame, which must have this message code. */
  async expect(code: number, ms?: number): Promise<unknown[]> {
    const frame = await this.peer.next(ms);
    if (frame[0] !== code) throw new Error(`expected message ${code}, got ${show(frame)}`);
    return frame;
  }

  /** True if nothing arrives within `ms`. Use sparingly: prefer a marker frame that must come next. */
  silentFor(ms: number): Promise<boolean> {
    return this.peer.silentFor(ms);
  }

  async subscribe(topic: string, options: Dict = {}): Promise<number> {
    const request = this.nextRequest();
    this.send([MessageCode.Subscribe, request, options, topic]);
    const reply = await this.expect(MessageCode.Subscribed);
    expect(reply[1]).toBe(request);
    return asNumber(reply[2], 'SUBSCRIBED.Subscription');
  }

  async unsubscribe(subscription: number): Promise<void> {
    const request = this.nextRequest();
    this.send([MessageCode.Unsubscribe, request, subscription]);
    expect(await this.next()).toEqual([MessageCode.Unsubscribed, request]);
  }

  async register(procedure: string, options: Dict = {}): Promise<number> {
    const request = this.nextRequest();
    this.send([MessageCode.Register, request, options, procedure]);
    const reply = await this.expect(MessageCode.Registered);
    expect(reply[1]).toBe(request);
    return asNumber(reply[2], 'REGISTERED.Registration');
  }

  /** REGISTER that must fail; resolves to the error URI. */
  async registerError(procedure: string, options: Dict = {}): Promise<string> {
    const request = this.nextRequest();
    this.send([MessageCode.Register, request, options, procedure]);
    const reply = await this.expect(MessageCode.Error);
    expect(reply.slice(0, 3)).toEqual([MessageCode.Error, MessageCode.Register, request]);
    return String(reply[4]);
  }

  async unregister(registration: number): Promise<void> {
    const request = this.nextRequest();
    this.send([MessageCode.Unregister, request, registration]);
    expect(await this.next()).toEqual([MessageCode.Unregistered, request]);
  }

  /** PUBLISH with acknowledge; resolves to the publication ID. */
  async publish(topic: string, args: unknown[] = [], kwargs: Dict = {}, options: Dict = {}): Promise<number> {
    const request = this.nextRequest();
    this.send([MessageCode.Publish, request, { ...options, acknowledge: true }, topic, args, kwargs]);
    const reply = await this.next();
    if (reply[0] !== MessageCode.Published || reply[1] !== request) throw new Error(`expected PUBLISHED for request ${request}, got ${show(reply)}`);
    return asNumber(reply[2], 'PUBLISHED.Publication');
  }

  /** Sends CALL and returns its request ID (or reuses `request` for a progressive invocation chunk). */
  call(procedure: string, args?: unknown[], kwargs?: Dict, options: Dict = {}, request = this.nextRequest()): number {
    const frame: unknown[] = [MessageCode.Call, request, options, procedure];
    if (args !== undefined || kwargs !== undefined) frame.push(args ?? []);
    if (kwargs !== undefined) frame.push(kwargs);
    this.send(frame);
    return request;
  }

  /** CALL and its RESULT; resolves to the RESULT frame, fails on anything else. */
  async callResult(procedure: string, args?: unknown[], kwargs?: Dict, options: Dict = {}): Promise<unknown[]> {
    const request = this.call(procedure, args, kwargs, options);
    const reply = await this.next();
    if (reply[0] !== MessageCode.Result || reply[1] !== request) throw new Error(`expected RESULT for ${procedure} (request ${request}), got ${show(reply)}`);
    return reply;
  }

  /** CALL that must fail; resolves to the ERROR frame. */
  async callError(procedure: string, args?: unknown[], kwargs?: Dict, options: Dict = {}): Promise<unknown[]> {
    const request = this.call(procedure, args, kwargs, options);
    const reply = await this.next();
    if (reply[0] !== MessageCode.Error || reply[1] !== MessageCode.Call || reply[2] !== request) {
      throw new Error(`expected ERROR for ${procedure} (request ${request}), got ${show(reply)}`);
    }
    return reply;
  }

  /** A router procedure's single positional result. */
  async meta(procedure: string, args: unknown[] = [], kwargs?: Dict): Promise<unknown> {
    const reply = await this.callResult(procedure, args, kwargs);
    return asList(reply[3] ?? [], `${procedure} RESULT.Arguments`)[0];
  }

  /** The URI a router procedure fails with. */
  async metaError(procedure: string, args: unknown[] = [], kwargs?: Dict): Promise<string> {
    return String((await this.callError(procedure, args, kwargs))[4]);
  }

  /** The next frame must be INVOCATION; resolves to it. */
  async invocation(
    ms?: number,
  ): Promise<{ request: number; registration: number; details: Dict; args: unknown[] | undefined; kwargs: Dict | undefined; frame: unknown[] }> {
    const frame = await this.expect(MessageCode.Invocation, ms);
    return {
      request: asNumber(frame[1], 'INVOCATION.Request'),
      registration: asNumber(frame[2], 'INVOCATION.Registration'),
      details: asDict(frame[3], 'INVOCATION.Details'),
      args: frame[4] === undefined ? undefined : asList(frame[4]),
      kwargs: frame[5] === undefined ? undefined : asDict(frame[5]),
      frame,
    };
  }

  /** The next frame must be EVENT; resolves to it. */
  async event(
    ms?: number,
  ): Promise<{ subscription: number; publication: number; details: Dict; args: unknown[] | undefined; kwargs: Dict | undefined; frame: unknown[] }> {
    const frame = await this.expect(MessageCode.Event, ms);
    return {
      subscription: asNumber(frame[1], 'EVENT.Subscription'),
      publication: asNumber(frame[2], 'EVENT.Publication'),
      details: asDict(frame[3], 'EVENT.Details'),
      args: frame[4] === undefined ? undefined : asList(frame[4]),
      kwargs: frame[5] === undefined ? undefined : asDict(frame[5]),
      frame,
    };
  }

  yield(invocationRequest: number, args?: unknown[], options: Dict = {}): void {
    this.send(args === undefined ? [MessageCode.Yield, invocationRequest, options] : [MessageCode.Yield, invocationRequest, options, args]);
  }

  /** ERROR in answer to an INVOCATION. */
  fail(invocationRequest: number, error: string, args?: unknown[]): void {
    const frame: unknown[] = [MessageCode.Error, MessageCode.Invocation, invocationRequest, {}, error];
    if (args !== undefined) frame.push(args);
    this.send(frame);
  }

  cancel(callRequest: number, options: Dict = {}): void {
    this.send([MessageCode.Cancel, callRequest, options]);
  }

  /** GOODBYE, the router's GOODBYE reply, then close the socket. */
  async leave(): Promise<void> {
    this.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect(await this.next()).toEqual([MessageCode.Goodbye, {}, 'wamp.close.goodbye_and_out']);
    this.peer.close();
    await this.peer.waitClosed();
  }

  /** The next frame must be ABORT with this reason; then the router closes the connection. */
  async expectAbort(reason: string = ErrorUri.ProtocolViolation, ms?: number): Promise<unknown[]> {
    const frame = await this.expect(MessageCode.Abort, ms);
    expect(frame[2]).toBe(reason);
    await this.peer.waitClosed();
    return frame;
  }
}

/** Waits until the wall clock has moved past `ms` (so consecutive events get distinct millisecond timestamps). */
export async function tick(ms = Date.now()): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** Feature sets used across the files. */
export const CANCELING_CALLEE: Features = { callee: ['call_canceling'] };
export const PROGRESSIVE_CALLEE: Features = { callee: ['progressive_call_results', 'call_canceling'] };
