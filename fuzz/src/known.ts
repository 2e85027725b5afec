/**
 * Generators that crash today's router, for findings other branches of issue #14 fix. The CI
 * short form (router/test/security/fuzz.test.ts) skips shots these match; remove an entry once
 * its fix is merged, and the test then holds the router to it.
 */
import type { KnownCrash } from './campaign.js';

export const KNOWN_UNFIXED: readonly KnownCrash[] = [];
