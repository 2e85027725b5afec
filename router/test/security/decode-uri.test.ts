/**
 * Issue #14, item 14: loose URIs must not carry control characters (C0, DEL, C1) or lone
 * surrogates. `com.\u0000x` subscribed before; every URI a session hands the router (topic,
 * procedure, pattern) is refused with wamp.error.invalid_uri, and valid URIs (non-ASCII included)
 * still work.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter } from '../helpers.js';

const CONTROL = ['com.\u0000x', 'com.x\u0001', '\u001fcom', 'com.a\u007fb', 'com.a\u0085b', 'com.a\u009fb', 'com.\ud800x', 'com.x\udc00'];

/** A test name that shows the invisible characters. */
function visible(uri: string): string {
  return uri.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

describe('URIs with control characters', () => {
  it.each(CONTROL.map((uri) => [visible(uri), uri]))('refuses %s to subscribe, register, publish and call', async (_name, uri) => {
    const router = await startTestRouter();
    // JSON: its escapes carry every one of these, lone surrogates included.
    const peer = await RawPeer.join(router.url, 'json');
    const attempts: [MessageCode, unknown[]][] = [
      [MessageCode.Subscribe, [{}, uri]],
      [MessageCode.Subscribe, [{ match: 'prefix' }, uri]],
      [MessageCode.Subscribe, [{ match: 'wildcard' }, uri]],
      [MessageCode.Register, [{}, uri]],
      [MessageCode.Register, [{ match: 'prefix' }, uri]],
      [MessageCode.Publish, [{ acknowledge: true }, uri]],
      [MessageCode.Call, [{}, uri]],
    ];
    for (const [code, rest] of attempts) {
      const request = peer.nextRequest();
      peer.send([code, request, ...rest]);
      const answer = await peer.next();
      expect(answer.slice(0, 3), `${code} ${JSON.stringify(rest)}`).toEqual([MessageCode.Error, code, request]);
      expect(answer[4]).toBe('wamp.error.invalid_uri');
    }
  });

  it('still accepts valid loose URIs, non-ASCII included', async () => {
    const router = await startTestRouter();
    const peer = await RawPeer.join(router.url, 'json');
    for (const uri of ['com.myapp.ü', 'com.myapp.😀', 'com.my-app.Topic', 'a.b@c.d:e']) {
      const request = peer.nextRequest();
      peer.send([MessageCode.Subscribe, request, {}, uri]);
      expect((await peer.next()).slice(0, 2)).toEqual([MessageCode.Subscribed, request]);
    }
  });
});
