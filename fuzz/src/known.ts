/**
 * Generators that crash today's router, for findings that other branches of issue #14 fix. The CI
 * short form (router/test/security/fuzz.test.ts) and `npm run fuzz -- --skip-known` switch these
 * generators off; remove an entry once its fix is merged, and the test then holds the router to it.
 */
export interface KnownCrash {
  /** The generator switch in values.ts. */
  generator: 'nul-prefix' | 'cbor-bignum';
  /** What crashes, and where. */
  finding: string;
}

export const KNOWN_UNFIXED: readonly KnownCrash[] = [
  {
    generator: 'nul-prefix',
    finding:
      'a string starting with U+0000 in a payload that reaches an in-process bridge session (POST /publish, /call, /hook bodies; any PUBLISH to a topic an SSE stream reads): the local transport re-encodes JSON and decodes it as base64 binary, "invalid base64 character" thrown in transports/local.ts kills the process',
  },
  {
    generator: 'cbor-bignum',
    finding: 'CBOR bignums (tags 2 and 3) and BigInts past 64 bits: the decoder must restrict CBOR and MessagePack to the WAMP data model (decoder hardening)',
  },
];
