/**
 * Raw-frame helpers for the session resumption tests [ap_session_resumption]: a peer that joins
 * with HELLO.Details.resumable, resumes in the dedicated or the opportunistic form, and reads the
 * WELCOME's resume keys.
 */
import { expect } from 'vitest';
import type WebSocket from 'ws';
import { MessageCode } from '@switchboard/schemas';
import type { Router } from '@switchboard/router';
import { RawPeer, until } from '../helpers.js';

export const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

export type Peer = RawPeer & { session: number; welcome: unknown[] };

/** The WELCOME's details. */
export function details(welcome: unknown[]): Record<string, unknown> {
  return welcome[2] as Record<string, unknown>;
}

/** Sends HELLO with `extra` details (roles included) and answers the next message (WELCOME or ABORT). */
export async function hello(peer: RawPeer, extra: Record<string, unknown> = {}, realm: string | null = 'realm1'): Promise<unknown[]> {
  peer.send([MessageCode.Hello, realm, realm === null ? extra : { roles: ROLES, ...extra }]);
  return peer.next();
}

/** A peer joined with resumable: true; its WELCOME must grant it. */
export async function joinResumable(
  url: string,
  extra: Record<string, unknown> = {},
  options?: WebSocket.ClientOptions,
  realm = 'realm1',
): Promise<Peer & { token: string }> {
  const peer = await RawPeer.connect(url, 'json', undefined, options);
  const welcome = await hello(peer, { resumable: true, ...extra }, realm);
  expect(welcome[0], JSON.stringify(welcome)).toBe(MessageCode.Welcome);
  expect(details(welcome)).toMatchObject({ resumable: true, resumed: false });
  return Object.assign(peer, { session: welcome[1] as number, welcome, token: details(welcome)['resume-token'] as string });
}

/** A dedicated resume on a new connection: the answer (WELCOME or ABORT). */
export async function dedicated(url: string, session: number, token: string, options?: WebSocket.ClientOptions): Promise<{ peer: RawPeer; answer: unknown[] }> {
  const peer = await RawPeer.connect(url, 'json', undefined, options);
  const answer = await hello(peer, { 'resume-session': session, 'resume-token': token }, null);
  return { peer, answer };
}

/** An opportunistic resume on a new connection: the answer. */
export async function opportunistic(
  url: string,
  session: number,
  token: string,
  extra: Record<string, unknown> = {},
  realm = 'realm1',
): Promise<{ peer: RawPeer; answer: unknown[] }> {
  const peer = await RawPeer.connect(url);
  const answer = await hello(peer, { resumable: true, 'resume-session': session, 'resume-token': token, ...extra }, realm);
  return { peer, answer };
}

/** Expects the ABORT of a refused dedicated resume. */
export function expectRefused(answer: unknown[]): void {
  expect(answer).toEqual([MessageCode.Abort, { message: 'no resumable session matches' }, 'wamp.error.no_such_session']);
}

/** Expects a resumed WELCOME of `session`. */
export function expectResumed(answer: unknown[], session: number): Record<string, unknown> {
  expect(answer[0], JSON.stringify(answer)).toBe(MessageCode.Welcome);
  expect(answer[1]).toBe(session);
  const d = details(answer);
  expect(d).toMatchObject({ resumable: true, resumed: true });
  expect(typeof d['resume-token']).toBe('string');
  return d;
}

/** Closes the peer's TCP connection under it (no GOODBYE) and waits until the router has detached the session. */
export async function cut(router: Router, peer: Peer, realm = 'realm1'): Promise<void> {
  peer.ws.terminate();
  await until(() => router.realm(realm)!.sessions.get(peer.session as never)?.attached === false, 3000, 'the session to detach');
}

/** The counters of /metrics that resumption keeps. */
export function metric(router: Router, key: 'sessionsDetached' | 'resumed' | 'resumeRefused' | 'resumeAnswersResent'): number {
  return router.stats[key];
}

/** Sends a request and waits for its answer (or ERROR), skipping EVENTs and INVOCATIONs. */
export async function request(peer: RawPeer, message: unknown[]): Promise<unknown[]> {
  peer.send(message);
  const id = message[1];
  return peer.next(
    (m) => (m[0] !== MessageCode.Event && m[0] !== MessageCode.Invocation && m[1] === id) || (m[0] === MessageCode.Error && m[2] === id),
    10_000,
  );
}

/** Cuts a connection under its session (no GOODBYE, no close frame) and waits for the close. */
export async function drop(peer: RawPeer): Promise<void> {
  peer.ws.terminate();
  await peer.waitClosed();
}

/** The session as a router's realm holds it (undefined: not held there). */
export const held = (router: Router, id: number, realm = 'realm1'): { attached?: boolean } | undefined =>
  router.realm(realm)?.sessions.get(id as never) as { attached?: boolean } | undefined;
