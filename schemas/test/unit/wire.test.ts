import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, MAX_ID, MessageCode, messageName, parseMessage, toWire } from '../../src/index.js';
import type { RequestId } from '../../src/index.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: every message's element kinds and names, as wire.ts names them in its errors.

/** What an element must be. `idOrZero` is UNSUBSCRIBED/UNREGISTERED.Request beside Details. */
type Kind = 'id' | 'idOrZero' | 'dict' | 'uri' | 'string' | 'type' | 'args' | 'kwargs';

interface Shape {
  readonly code: MessageCode;
  /** [kind, element name] after the code. */
  readonly elements: readonly (readonly [Kind, string])[];
  /** How many trailing elements may be left off (Arguments, ArgumentsKw). */
  readonly optional: number;
}

const ARGS = [
  ['args', 'Arguments'],
  ['kwargs', 'ArgumentsKw'],
] as const;

const SHAPES: readonly Shape[] = [
  {
    code: MessageCode.Hello,
    elements: [
      ['uri', 'Realm'],
      ['dict', 'Details'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Welcome,
    elements: [
      ['id', 'Session'],
      ['dict', 'Details'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Abort,
    elements: [
      ['dict', 'Details'],
      ['uri', 'Reason'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Challenge,
    elements: [
      ['string', 'AuthMethod'],
      ['dict', 'Extra'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Authenticate,
    elements: [
      ['string', 'Signature'],
      ['dict', 'Extra'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Goodbye,
    elements: [
      ['dict', 'Details'],
      ['uri', 'Reason'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Error,
    elements: [['type', 'REQUEST.Type'], ['id', 'REQUEST.Request'], ['dict', 'Details'], ['uri', 'Error'], ...ARGS],
    optional: 2,
  },
  { code: MessageCode.Publish, elements: [['id', 'Request'], ['dict', 'Options'], ['uri', 'Topic'], ...ARGS], optional: 2 },
  {
    code: MessageCode.Published,
    elements: [
      ['id', 'PUBLISH.Request'],
      ['id', 'Publication'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Subscribe,
    elements: [
      ['id', 'Request'],
      ['dict', 'Options'],
      ['uri', 'Topic'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Subscribed,
    elements: [
      ['id', 'SUBSCRIBE.Request'],
      ['id', 'Subscription'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Unsubscribe,
    elements: [
      ['id', 'Request'],
      ['id', 'SUBSCRIBED.Subscription'],
    ],
    optional: 0,
  },
  { code: MessageCode.Unsubscribed, elements: [['id', 'Request']], optional: 0 },
  {
    code: MessageCode.Unsubscribed,
    elements: [
      ['idOrZero', 'Request'],
      ['dict', 'Details'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Event,
    elements: [['id', 'SUBSCRIBED.Subscription'], ['id', 'PUBLISHED.Publication'], ['dict', 'Details'], ...ARGS],
    optional: 2,
  },
  { code: MessageCode.Call, elements: [['id', 'Request'], ['dict', 'Options'], ['uri', 'Procedure'], ...ARGS], optional: 2 },
  {
    code: MessageCode.Cancel,
    elements: [
      ['id', 'CALL.Request'],
      ['dict', 'Options'],
    ],
    optional: 0,
  },
  { code: MessageCode.Result, elements: [['id', 'CALL.Request'], ['dict', 'Details'], ...ARGS], optional: 2 },
  {
    code: MessageCode.Register,
    elements: [
      ['id', 'Request'],
      ['dict', 'Options'],
      ['uri', 'Procedure'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Registered,
    elements: [
      ['id', 'REGISTER.Request'],
      ['id', 'Registration'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Unregister,
    elements: [
      ['id', 'Request'],
      ['id', 'REGISTERED.Registration'],
    ],
    optional: 0,
  },
  { code: MessageCode.Unregistered, elements: [['id', 'Request']], optional: 0 },
  {
    code: MessageCode.Unregistered,
    elements: [
      ['idOrZero', 'Request'],
      ['dict', 'Details'],
    ],
    optional: 0,
  },
  {
    code: MessageCode.Invocation,
    elements: [['id', 'Request'], ['id', 'REGISTERED.Registration'], ['dict', 'Details'], ...ARGS],
    optional: 2,
  },
  {
    code: MessageCode.Interrupt,
    elements: [
      ['id', 'INVOCATION.Request'],
      ['dict', 'Options'],
    ],
    optional: 0,
  },
  { code: MessageCode.Yield, elements: [['id', 'INVOCATION.Request'], ['dict', 'Options'], ...ARGS], optional: 2 },
];

const ALL_CODES: readonly MessageCode[] = Object.values(MessageCode);

/** Frame lengths (code included) a shape allows. */
function lengths(shape: Shape): number[] {
  const out: number[] = [];
  for (let n = shape.elements.length - shape.optional; n <= shape.elements.length; n++) out.push(n + 1);
  return out;
}

const SAMPLE: Readonly<Record<Kind, unknown>> = {
  id: 7,
  idOrZero: 0,
  dict: { acknowledge: true },
  uri: 'com.example.topic',
  string: 'ticket',
  type: MessageCode.Call,
  args: [1, 'two', { three: 3 }],
  kwargs: { key: 'value' },
};

function fullFrame(shape: Shape): unknown[] {
  return [shape.code, ...shape.elements.map(([kind]) => SAMPLE[kind])];
}

/** Wrong values for each kind, and the expectation the error must state. */
const WRONG: Readonly<Record<Kind, { expected: string; values: readonly unknown[] }>> = {
  // 2^53 + 1 is not a double (it rounds to 2^53), so 2^53 + 2 is the first number above the cap.
  id: {
    expected: 'an ID (integer in [1, 2^53])',
    values: [0, -1, 1.5, MAX_ID + 2, -0.5, '1', null, true, [], {}, Number.NaN, Number.POSITIVE_INFINITY],
  },
  idOrZero: { expected: 'an ID (integer in [1, 2^53])', values: [-1, 1.5, MAX_ID + 2, '0', null, [], {}] },
  dict: { expected: 'a dict', values: [[], null, 'x', 1, true, [{}], new Uint8Array(2)] },
  uri: { expected: 'a URI string', values: [1, null, {}, [], true] },
  string: { expected: 'a string', values: [1, null, {}, [], false] },
  type: { expected: 'a WAMP message type', values: [99, 0, 7, 1.5, '16', null, []] },
  args: { expected: 'a list', values: [{}, 'x', null, 1, { 0: 'a' }, new Uint8Array(1)] },
  kwargs: { expected: 'a dict', values: [[], 'x', null, 1, new Uint8Array(1)] },
};

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The DecodeError parseMessage throws for a frame; fails the test if it accepts it. */
function rejection(frame: unknown): DecodeError {
  try {
    parseMessage(frame);
  } catch (err) {
    if (err instanceof DecodeError) return err;
    throw err;
  }
  throw new Error(`parseMessage accepted ${JSON.stringify(frame)}`);
}

function accepts(frame: unknown): boolean {
  try {
    parseMessage(frame);
    return true;
  } catch (err) {
    if (err instanceof DecodeError) return false;
    throw err;
  }
}

function label(frame: unknown): string {
  return JSON.stringify(frame, (_key, value: unknown) => (value instanceof Uint8Array ? `<binary ${value.length}>` : value)) ?? String(frame);
}

// ---------------------------------------------------------------------------------------------
// Valid frames: one per shape and length, with the typed message each one parses to.

const VALID: readonly (readonly [frame: unknown[], message: Record<string, unknown>])[] = [
  [[1, 'realm1', { roles: { caller: {} } }], { code: 1, realm: 'realm1', details: { roles: { caller: {} } } }],
  [[2, MAX_ID, { authid: 'ada' }], { code: 2, session: MAX_ID, details: { authid: 'ada' } }],
  [[3, { message: 'no' }, 'wamp.error.no_such_realm'], { code: 3, details: { message: 'no' }, reason: 'wamp.error.no_such_realm' }],
  [[4, 'wampcra', { challenge: '{}' }], { code: 4, authMethod: 'wampcra', extra: { challenge: '{}' } }],
  [[5, 'c2lnbmF0dXJl', {}], { code: 5, signature: 'c2lnbmF0dXJl', extra: {} }],
  [[6, {}, 'wamp.close.close_realm'], { code: 6, details: {}, reason: 'wamp.close.close_realm' }],
  [[8, 48, 3, {}, 'wamp.error.no_such_procedure'], { code: 8, requestType: 48, request: 3, details: {}, error: 'wamp.error.no_such_procedure' }],
  [[8, 64, 3, {}, 'com.err', ['a']], { code: 8, requestType: 64, request: 3, details: {}, error: 'com.err', args: ['a'] }],
  [[8, 16, 3, {}, 'com.err', [], { k: 1 }], { code: 8, requestType: 16, request: 3, details: {}, error: 'com.err', args: [], kwargs: { k: 1 } }],
  [[16, 1, {}, 'com.topic'], { code: 16, request: 1, options: {}, topic: 'com.topic' }],
  [[16, 2, { acknowledge: true }, 'com.topic', [1]], { code: 16, request: 2, options: { acknowledge: true }, topic: 'com.topic', args: [1] }],
  [[16, 3, {}, 'com.topic', [], { a: 1 }], { code: 16, request: 3, options: {}, topic: 'com.topic', args: [], kwargs: { a: 1 } }],
  [[17, 1, MAX_ID], { code: 17, request: 1, publication: MAX_ID }],
  [[32, 1, { match: 'prefix' }, 'com.'], { code: 32, request: 1, options: { match: 'prefix' }, topic: 'com.' }],
  [[33, 1, 5], { code: 33, request: 1, subscription: 5 }],
  [[34, 2, 5], { code: 34, request: 2, subscription: 5 }],
  [[35, 2], { code: 35, request: 2 }],
  [[35, 0, { subscription: 5, reason: 'wamp.close.killed' }], { code: 35, request: 0, details: { subscription: 5, reason: 'wamp.close.killed' } }],
  [[35, 2, {}], { code: 35, request: 2, details: {} }],
  [[36, 5, 99, {}], { code: 36, subscription: 5, publication: 99, details: {} }],
  [[36, 5, 99, { publisher: 1 }, ['x']], { code: 36, subscription: 5, publication: 99, details: { publisher: 1 }, args: ['x'] }],
  [[36, 5, 99, {}, [], { k: null }], { code: 36, subscription: 5, publication: 99, details: {}, args: [], kwargs: { k: null } }],
  [[48, 1, {}, 'com.add'], { code: 48, request: 1, options: {}, procedure: 'com.add' }],
  [[48, 1, { timeout: 1000 }, 'com.add', [1, 2]], { code: 48, request: 1, options: { timeout: 1000 }, procedure: 'com.add', args: [1, 2] }],
  [[48, 1, {}, 'com.add', [], { a: 1 }], { code: 48, request: 1, options: {}, procedure: 'com.add', args: [], kwargs: { a: 1 } }],
  [[49, 1, { mode: 'kill' }], { code: 49, request: 1, options: { mode: 'kill' } }],
  [[50, 1, {}], { code: 50, request: 1, details: {} }],
  [[50, 1, { progress: true }, [3]], { code: 50, request: 1, details: { progress: true }, args: [3] }],
  [[50, 1, {}, [3], { x: 1 }], { code: 50, request: 1, details: {}, args: [3], kwargs: { x: 1 } }],
  [[64, 1, { invoke: 'roundrobin' }, 'com.add'], { code: 64, request: 1, options: { invoke: 'roundrobin' }, procedure: 'com.add' }],
  [[65, 1, 6], { code: 65, request: 1, registration: 6 }],
  [[66, 2, 6], { code: 66, request: 2, registration: 6 }],
  [[67, 2], { code: 67, request: 2 }],
  [[67, 0, { registration: 6 }], { code: 67, request: 0, details: { registration: 6 } }],
  [[67, 2, {}], { code: 67, request: 2, details: {} }],
  [[68, 10, 6, {}], { code: 68, request: 10, registration: 6, details: {} }],
  [[68, 10, 6, { caller: 1 }, [1, 2]], { code: 68, request: 10, registration: 6, details: { caller: 1 }, args: [1, 2] }],
  [[68, 10, 6, {}, [], { a: 1 }], { code: 68, request: 10, registration: 6, details: {}, args: [], kwargs: { a: 1 } }],
  [[69, 10, { mode: 'killnowait' }], { code: 69, request: 10, options: { mode: 'killnowait' } }],
  [[70, 10, {}], { code: 70, request: 10, options: {} }],
  [[70, 10, { progress: true }, [3]], { code: 70, request: 10, options: { progress: true }, args: [3] }],
  [[70, 10, {}, [], { r: 3 }], { code: 70, request: 10, options: {}, args: [], kwargs: { r: 3 } }],
];

describe('parseMessage: valid frames', () => {
  it('covers every message code and every allowed length', () => {
    expect(new Set(VALID.map(([frame]) => frame[0]))).toEqual(new Set(ALL_CODES));
    for (const shape of SHAPES) {
      for (const n of lengths(shape)) {
        const found = VALID.some(([frame]) => frame[0] === shape.code && frame.length === n);
        expect(found, `${messageName(shape.code)} with ${n} elements`).toBe(true);
      }
    }
  });

  it.each(VALID.map(([frame, message]) => [label(frame), frame, message] as const))('%s', (_title, frame, message) => {
    const msg = parseMessage(frame);
    expect(msg).toStrictEqual(message);
    expect(toWire(msg)).toStrictEqual(frame);
  });

  it('accepts the ID bounds 1 and 2^53', () => {
    expect(parseMessage([17, 1, MAX_ID])).toStrictEqual({ code: 17, request: 1, publication: MAX_ID });
    expect(MAX_ID).toBe(2 ** 53);
    // The next integer, 2^53 + 1, has no double: it is the same number as 2^53.
    expect(2 ** 53 + 1).toBe(MAX_ID);
  });

  it('accepts an ID that a decoder handed over as BigInt (a CBOR bignum), as a number', () => {
    expect(parseMessage([17, 1n, 9007199254740992n])).toStrictEqual({ code: 17, request: 1, publication: MAX_ID });
    expect(() => parseMessage([17, 1, 9007199254740993n])).toThrow(/PUBLISHED element 2 \(Publication\): expected an ID/);
    expect(() => parseMessage([17, 0n, 5])).toThrow(/element 1/);
  });

  it('keeps payloads by reference (no copy on the hot path)', () => {
    const args = [1];
    const kwargs = { a: 1 };
    const msg = parseMessage([16, 1, {}, 't', args, kwargs]);
    if (msg.code !== MessageCode.Publish) throw new Error('expected PUBLISH');
    expect(msg.args).toBe(args);
    expect(msg.kwargs).toBe(kwargs);
  });

  it('narrows the union on code', () => {
    const msg = parseMessage([48, 9, { receive_progress: true }, 'com.add', [1, 2]]);
    switch (msg.code) {
      case MessageCode.Call:
        expect([msg.request, msg.procedure, msg.options.receive_progress, msg.args]).toStrictEqual([9, 'com.add', true, [1, 2]]);
        break;
      default:
        throw new Error(`expected CALL, got ${messageName(msg.code)}`);
    }
  });

  it('accepts binary payloads and binary inside dicts (msgpack, CBOR)', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const frame = [36, 5, 99, { blob: bytes }, [bytes], { bytes }];
    expect(toWire(parseMessage(frame))).toStrictEqual(frame);
  });
});

describe('toWire', () => {
  it('writes an empty Arguments list before ArgumentsKw when only kwargs are set', () => {
    const frame = toWire({ code: MessageCode.Publish, request: 1 as RequestId, options: {}, topic: 't', kwargs: { a: 1 } });
    expect(frame).toStrictEqual([16, 1, {}, 't', [], { a: 1 }]);
  });

  it('leaves off empty trailing payload only when it was absent', () => {
    expect(toWire({ code: MessageCode.Yield, request: 4 as RequestId, options: {} })).toStrictEqual([70, 4, {}]);
    expect(toWire({ code: MessageCode.Yield, request: 4 as RequestId, options: {}, args: [] })).toStrictEqual([70, 4, {}, []]);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed frames.

interface Bad {
  readonly title: string;
  readonly frame: unknown;
  /** The whole message, exactly. */
  readonly message: string;
  readonly element?: number;
}

const FRAME_ERRORS: readonly Bad[] = [
  { title: 'a string', frame: 'hello', message: 'a WAMP message must be a list, got string "hello"' },
  { title: 'a dict', frame: { 0: 1 }, message: 'a WAMP message must be a list, got a dict' },
  { title: 'null', frame: null, message: 'a WAMP message must be a list, got null' },
  { title: 'a number', frame: 16, message: 'a WAMP message must be a list, got number 16' },
  { title: 'undefined', frame: undefined, message: 'a WAMP message must be a list, got undefined' },
  { title: 'binary', frame: new Uint8Array([0x91, 0x01]), message: 'a WAMP message must be a list, got binary' },
  { title: 'an empty list', frame: [], message: 'a WAMP message must not be an empty list' },
  { title: 'code as string', frame: ['16', 1, {}, 't'], message: 'element 0 (MessageType): expected an integer, got string "16"', element: 0 },
  { title: 'code 1.5', frame: [1.5, 'realm', {}], message: 'element 0 (MessageType): expected an integer, got number 1.5', element: 0 },
  { title: 'code null', frame: [null], message: 'element 0 (MessageType): expected an integer, got null', element: 0 },
  { title: 'code a list', frame: [[16]], message: 'element 0 (MessageType): expected an integer, got a list', element: 0 },
  { title: 'code NaN', frame: [Number.NaN], message: 'element 0 (MessageType): expected an integer, got number NaN', element: 0 },
  { title: 'unknown code 99', frame: [99, 1, {}], message: 'element 0 (MessageType): expected a known WAMP message type, got number 99', element: 0 },
  { title: 'unknown code 0', frame: [0], message: 'element 0 (MessageType): expected a known WAMP message type, got number 0', element: 0 },
  { title: 'unknown code 7 (a gap)', frame: [7, {}, 'x'], message: 'element 0 (MessageType): expected a known WAMP message type, got number 7', element: 0 },
  { title: 'unknown code -16', frame: [-16, 1, {}, 't'], message: 'element 0 (MessageType): expected a known WAMP message type, got number -16', element: 0 },
  // The brief's named cases, spelled out in full.
  { title: 'ID 0', frame: [17, 0, 5], message: 'PUBLISHED element 1 (PUBLISH.Request): expected an ID (integer in [1, 2^53]), got number 0', element: 1 },
  {
    title: 'ID 2^53 + 2 (2^53 + 1 is not a double)',
    frame: [2, MAX_ID + 2, {}],
    message: 'WELCOME element 1 (Session): expected an ID (integer in [1, 2^53]), got number 9007199254740994',
    element: 1,
  },
  {
    title: 'ID 1.5',
    frame: [36, 1.5, 2, {}],
    message: 'EVENT element 1 (SUBSCRIBED.Subscription): expected an ID (integer in [1, 2^53]), got number 1.5',
    element: 1,
  },
  {
    title: 'ID as string',
    frame: [34, 1, '5'],
    message: 'UNSUBSCRIBE element 2 (SUBSCRIBED.Subscription): expected an ID (integer in [1, 2^53]), got string "5"',
    element: 2,
  },
  { title: 'dict as list', frame: [1, 'realm1', []], message: 'HELLO element 2 (Details): expected a dict, got a list', element: 2 },
  { title: 'dict as null', frame: [48, 1, null, 'com.add'], message: 'CALL element 2 (Options): expected a dict, got null', element: 2 },
  { title: 'dict as binary', frame: [3, new Uint8Array(1), 'wamp.error.x'], message: 'ABORT element 1 (Details): expected a dict, got binary', element: 1 },
  { title: 'URI as number', frame: [32, 1, {}, 42], message: 'SUBSCRIBE element 3 (Topic): expected a URI string, got number 42', element: 3 },
  { title: 'kwargs without args', frame: [16, 1, {}, 't', { a: 1 }], message: 'PUBLISH element 4 (Arguments): expected a list, got a dict', element: 4 },
  { title: 'args as string', frame: [70, 1, {}, 'x'], message: 'YIELD element 3 (Arguments): expected a list, got string "x"', element: 3 },
  { title: 'kwargs as list', frame: [50, 1, {}, [], []], message: 'RESULT element 4 (ArgumentsKw): expected a dict, got a list', element: 4 },
  {
    title: 'ERROR for type 99',
    frame: [8, 99, 1, {}, 'e'],
    message: 'ERROR element 1 (REQUEST.Type): expected a WAMP message type, got number 99',
    element: 1,
  },
  {
    title: 'UNSUBSCRIBED 0 without Details',
    frame: [35, 0],
    message: 'UNSUBSCRIBED element 1 (Request): expected an ID (integer in [1, 2^53]), got number 0',
    element: 1,
  },
  {
    title: 'UNREGISTERED -1 with Details',
    frame: [67, -1, {}],
    message: 'UNREGISTERED element 1 (Request): expected an ID (integer in [1, 2^53]), got number -1',
    element: 1,
  },
  { title: 'too few: code only', frame: [16], message: 'PUBLISH: expected 4 to 6 elements, got 1' },
  { title: 'too many: 7 for PUBLISH', frame: [16, 1, {}, 't', [], {}, 'x'], message: 'PUBLISH: expected 4 to 6 elements, got 7' },
  { title: 'too many: HELLO with 4', frame: [1, 'realm1', {}, {}], message: 'HELLO: expected 3 elements, got 4' },
];

/** Frames one element short of the minimum and one past the maximum, for every code. */
function lengthErrors(): Bad[] {
  const out: Bad[] = [];
  for (const code of ALL_CODES) {
    const shapes = SHAPES.filter((s) => s.code === code);
    const all = shapes.flatMap(lengths);
    const min = Math.min(...all);
    const max = Math.max(...all);
    const want = min === max ? `${min}` : `${min} to ${max}`;
    const longest = shapes.find((s) => s.elements.length + 1 === max);
    if (longest === undefined) throw new Error(`no shape of length ${max}`);
    const full = fullFrame(longest);
    const name = messageName(code);
    out.push({ title: `${name} with ${min - 1}`, frame: full.slice(0, min - 1), message: `${name}: expected ${want} elements, got ${min - 1}` });
    out.push({ title: `${name} with ${max + 1}`, frame: [...full, {}], message: `${name}: expected ${want} elements, got ${max + 1}` });
  }
  return out;
}

/** Every element of every shape, replaced by each wrong value of its kind. */
function elementErrors(): (Bad & { readonly expected: string })[] {
  const out: (Bad & { readonly expected: string })[] = [];
  for (const shape of SHAPES) {
    const name = messageName(shape.code);
    shape.elements.forEach(([kind, elementName], at) => {
      const index = at + 1;
      for (const value of WRONG[kind].values) {
        const frame = fullFrame(shape);
        frame[index] = value;
        const message = `${name} element ${index} (${elementName}): expected ${WRONG[kind].expected}, got `;
        out.push({ title: label(frame), frame, message, element: index, expected: WRONG[kind].expected });
      }
    });
  }
  return out;
}

describe('parseMessage: malformed frames', () => {
  it.each(FRAME_ERRORS.map((bad) => [bad.title, bad] as const))('rejects %s', (_title, bad) => {
    const err = rejection(bad.frame);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('DecodeError');
    expect(err.message).toBe(bad.message);
    expect(err.element).toBe(bad.element);
  });

  it.each(lengthErrors().map((bad) => [bad.title, bad] as const))('rejects %s elements', (_title, bad) => {
    const err = rejection(bad.frame);
    expect(err.message).toBe(bad.message);
    expect(err.element).toBeUndefined();
  });

  it('rejects each wrong element type at each position, naming the element and the expectation', () => {
    const cases = elementErrors();
    expect(cases.length).toBeGreaterThan(200);
    for (const bad of cases) {
      const err = rejection(bad.frame);
      expect(err.message, bad.title).toMatch(new RegExp(`^${escape(bad.message)}\\S`));
      expect(err.element, bad.title).toBe(bad.element);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The JSON Schema says the same as parseMessage.

const schemaText = readFileSync(new URL('../../schema/messages.schema.json', import.meta.url), 'utf8');
const schema = JSON.parse(schemaText) as { definitions: Record<string, { enum?: unknown[] }> };
const warnings: unknown[][] = [];
const ajv = new Ajv({
  logger: { log: (...a: unknown[]) => warnings.push(a), warn: (...a: unknown[]) => warnings.push(a), error: (...a: unknown[]) => warnings.push(a) },
});
const validate = ajv.compile(schema);

/** No binary anywhere: the schema describes the JSON-shaped frame only. */
function jsonShaped(value: unknown): boolean {
  if (value instanceof Uint8Array) return false;
  if (Array.isArray(value)) return value.every(jsonShaped);
  if (typeof value === 'object' && value !== null) return Object.values(value).every(jsonShaped);
  return true;
}

// JSON-shaped arbitraries for whole frames.
const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
const jsonValue: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 2 });
const dictArb = fc.dictionary(key, jsonValue, { maxKeys: 4 });
const idArb = fc.oneof(
  fc.constantFrom(1, 2, MAX_ID - 1, MAX_ID),
  fc.integer({ min: 1, max: 0x7fffffff }),
  fc.bigInt({ min: 1n, max: BigInt(MAX_ID) }).map(Number),
);
const KIND_ARB: Readonly<Record<Kind, fc.Arbitrary<unknown>>> = {
  id: idArb,
  idOrZero: fc.oneof(fc.constant(0), idArb),
  dict: dictArb,
  uri: fc.string({ maxLength: 30 }),
  string: fc.string({ maxLength: 30 }),
  type: fc.constantFrom(...ALL_CODES),
  args: fc.array(jsonValue, { maxLength: 4 }),
  kwargs: dictArb,
};

const validFrame: fc.Arbitrary<unknown[]> = fc.oneof(
  ...SHAPES.flatMap((shape) =>
    lengths(shape).map((n) =>
      fc.tuple(fc.constant<unknown>(shape.code), ...shape.elements.slice(0, n - 1).map(([kind]) => KIND_ARB[kind])).map((t): unknown[] => t),
    ),
  ),
);

/** Values at the edges of what parseMessage accepts. */
const edgeValue = fc.constantFrom<unknown>(0, -0, 1, -1, 1.5, MAX_ID, MAX_ID + 2, 99, '1', '', null, true, [], {}, [[]], { 0: 1 });

/** A valid frame with one change: an element replaced, removed, inserted or appended, or another code. */
const mutatedFrame: fc.Arbitrary<unknown[]> = fc
  .tuple(validFrame, fc.nat(), fc.oneof(jsonValue, edgeValue), fc.constantFrom('replace', 'remove', 'insert', 'append', 'code'))
  .map(([frame, at, value, how]) => {
    const out = frame.slice();
    const i = at % out.length;
    if (how === 'replace') out[i] = value;
    else if (how === 'remove') out.splice(i, 1);
    else if (how === 'insert') out.splice(i, 0, value);
    else if (how === 'append') out.push(value);
    else out[0] = ALL_CODES[at % ALL_CODES.length];
    return out;
  });

describe('messages.schema.json agrees with parseMessage', () => {
  it('compiles with new Ajv() and strict mode stays silent', () => {
    expect(warnings).toStrictEqual([]);
  });

  it('names every message code in messageType and defines every message', () => {
    expect(schema.definitions['messageType']?.enum).toStrictEqual([...ALL_CODES]);
    for (const code of ALL_CODES) expect(schema.definitions[messageName(code)], messageName(code)).toBeDefined();
  });

  it('accepts every valid frame', () => {
    for (const [frame] of VALID) expect(validate(frame), label(frame)).toBe(true);
  });

  it('rejects every malformed JSON-shaped frame', () => {
    const frames = [...FRAME_ERRORS, ...lengthErrors(), ...elementErrors()].map((bad) => bad.frame).filter(jsonShaped);
    expect(frames.length).toBeGreaterThan(250);
    for (const frame of frames) expect(validate(frame), label(frame)).toBe(false);
  });

  it('accepts generated valid frames, which also round-trip through toWire', () => {
    fc.assert(
      fc.property(validFrame, (frame) => {
        expect(validate(frame)).toBe(true);
        expect(toWire(parseMessage(frame))).toStrictEqual(frame);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same verdict on generated mutated frames', () => {
    let rejected = 0;
    fc.assert(
      fc.property(mutatedFrame, (frame) => {
        const verdict = accepts(frame);
        if (!verdict) rejected++;
        expect(validate(frame), `${label(frame)}: parseMessage ${verdict ? 'accepts' : 'rejects'}`).toBe(verdict);
      }),
      { numRuns: 3000 },
    );
    // The mutations are not all harmless: most of them must break the frame.
    expect(rejected).toBeGreaterThan(1000);
  });
});
