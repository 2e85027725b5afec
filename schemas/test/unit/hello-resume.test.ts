/** HELLO with a null realm: a dedicated resume, and only that. [ap_session_resumption] */
import { describe, expect, it } from 'vitest';
import { DecodeError, MessageCode, parseMessage, toWire } from '../../src/index.js';

describe('HELLO of a dedicated resume', () => {
  it('parses a null realm with exactly resume-session and resume-token, and writes it back', () => {
    const frame = [1, null, { 'resume-session': 42, 'resume-token': 'AAAAAAAAAAAAAAAAAAAAAA==' }];
    const msg = parseMessage(frame);
    expect(msg).toEqual({ code: MessageCode.Hello, realm: null, details: frame[2] });
    expect(toWire(msg)).toEqual(frame);
  });

  it('refuses a null realm with another key, or without both resume keys', () => {
    for (const details of [{ 'resume-session': 42, 'resume-token': 'x', roles: { caller: {} } }, { 'resume-session': 42 }, { 'resume-token': 'x' }, {}]) {
      expect(() => parseMessage([1, null, details]), JSON.stringify(details)).toThrow(DecodeError);
    }
  });

  it('keeps a realm a URI otherwise', () => {
    expect(() => parseMessage([1, 7, { 'resume-session': 42, 'resume-token': 'x' }])).toThrow(DecodeError);
    expect(parseMessage([1, 'realm1', { roles: { caller: {} } }])).toMatchObject({ realm: 'realm1' });
  });
});
