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

export const KNOWN_UNFIXED: readonly KnownCrash[] = [
  {
    generator: 'nul-prefix',
    finding:
      'a string starting with U+0000 in a payload that reaches an in-process bridge session (POST /publish, /call, /hook bodies; any PUBLISH to a topic an SSE stream reads): the local transport re-encodes JSON and decodes it as base64 binary, "invalid base64 character" thrown in transports/local.ts kills the process',
  },
  {
    generator: 'cbor-bignum',
    finding:
      'CBOR bignums (tags 2 and 3): cbor-x decodes them in quadratic time (32 KiB: 140 ms, 128 KiB: 2.8 s, under the default maxMessageBytes of 1 MiB); the decoder must restrict CBOR to the WAMP data model with bounded decode time (decoder hardening)',
  },
  {
    generator: 'long-uri',
    finding:
      'URIs are bounded only by maxMessageBytes: SUBSCRIBE with match "prefix" and a topic of 100 000 / 400 000 / 999 900 characters blocks the event loop 122 / 345 / 1073 ms (exact and wildcard: under 20 ms), from one anonymous message. Not on the issue\'s list: needs a URI length limit (config key, error URI, metric), perhaps with the URI branch',
  },
  {
    generator: 'deep-nesting',
    finding:
      'a well-formed payload nested about 2500+ levels deep (POST /publish {"topic":"t","args":[[[[…]]]]} with 5000 levels, or in options): the request gets no answer and the in-process bridge session it used is closed, which fails the requests of every bridge path sharing that identity (the next POST /hook answers 500 "the bridge session closed"). Not on the issue\'s list: check after the decoder-hardening and bridge branches are merged',
  },
];
