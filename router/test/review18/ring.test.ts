/** Review #18, pure: the AnswerRing (resumption.ts). */
import { describe, expect, it } from 'vitest';
import type { RequestId, WampMessage } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';
import { DEFAULT_REALM_LIMITS } from '../../src/limits.js';
import { AnswerRing } from '../../src/resumption.js';

const published = (request: number): WampMessage => ({ code: MessageCode.Published, request: request as RequestId, publication: 1 as never });

describe('review #18: AnswerRing', () => {
  it('F13: once a resume acknowledged every answer, a lost one no longer refuses later resumes', () => {
    const ring = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeAnswers: 1 });
    // Two answers written to a transport already closed: the first is let go by the bound (lost).
    ring.keep(published(1), false, false);
    ring.keep(published(2), false, false);
    expect(ring.resumable(undefined)).toBe(false);
    // A resume says the client received both: nothing is missing any more.
    expect(ring.resumable(2)).toBe(true);
    ring.toResend(2);
    // Today `lost` stays set for the session's whole life: a later dedicated resume is refused.
    expect(ring.resumable(undefined)).toBe(true);
  });
});
