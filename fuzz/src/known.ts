/**
 * Generators that crash today's router, for findings that other branches of issue #14 fix. The CI
 * short form (router/test/security/fuzz.test.ts) and `npm run fuzz -- --skip-known` switch these
 * generators off; remove an entry once its fix is merged, and the test then holds the router to it.
 */
import type { GeneratorSwitch } from './values.js';

export interface KnownCrash {
  /** The generator switch in values.ts. */
  generator: GeneratorSwitch;
  /** What crashes, and where. */
  finding: string;
}

/**
 * Empty: every finding the fuzzer made while issue #14 was open is fixed and its generator runs
 * again (nul-prefix: in-process sessions no longer re-encode JSON; cbor-bignum: bounded decoding;
 * long-uri: maxUriLength; deep-nesting: maxNestingDepth, and the bridge answers 400).
 */
export const KNOWN_UNFIXED: readonly KnownCrash[] = [];
