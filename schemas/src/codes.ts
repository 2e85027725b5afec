/**
 * WAMP v2 message type codes (Basic and Advanced Profile) and their names.
 * [bp_messages: "Message Codes and Direction"]
 */
export const MessageCode = {
  Hello: 1,
  Welcome: 2,
  Abort: 3,
  Challenge: 4,
  Authenticate: 5,
  Goodbye: 6,
  Error: 8,
  Publish: 16,
  Published: 17,
  Subscribe: 32,
  Subscribed: 33,
  Unsubscribe: 34,
  Unsubscribed: 35,
  Event: 36,
  Call: 48,
  Cancel: 49,
  Result: 50,
  Register: 64,
  Registered: 65,
  Unregister: 66,
  Unregistered: 67,
  Invocation: 68,
  Interrupt: 69,
  Yield: 70,
} as const;

export type MessageCode = (typeof MessageCode)[keyof typeof MessageCode];

const names: Record<number, string> = {};
for (const [name, code] of Object.entries(MessageCode)) names[code] = name.toUpperCase();

/** `PUBLISH` for 16; `#<code>` for a code that WAMP does not define. */
export function messageName(code: number): string {
  return names[code] ?? `#${code}`;
}

export function isMessageCode(code: unknown): code is MessageCode {
  return typeof code === 'number' && names[code] !== undefined;
}

/** Codes a client sends to a router. */
export const CLIENT_TO_ROUTER: ReadonlySet<MessageCode> = new Set<MessageCode>([
  MessageCode.Hello,
  MessageCode.Abort,
  MessageCode.Authenticate,
  MessageCode.Goodbye,
  MessageCode.Error,
  MessageCode.Publish,
  MessageCode.Subscribe,
  MessageCode.Unsubscribe,
  MessageCode.Call,
  MessageCode.Cancel,
  MessageCode.Register,
  MessageCode.Unregister,
  MessageCode.Yield,
]);

/** Codes a router sends to a client. */
export const ROUTER_TO_CLIENT: ReadonlySet<MessageCode> = new Set<MessageCode>([
  MessageCode.Welcome,
  MessageCode.Abort,
  MessageCode.Challenge,
  MessageCode.Goodbye,
  MessageCode.Error,
  MessageCode.Published,
  MessageCode.Subscribed,
  MessageCode.Unsubscribed,
  MessageCode.Event,
  MessageCode.Result,
  MessageCode.Registered,
  MessageCode.Unregistered,
  MessageCode.Invocation,
  MessageCode.Interrupt,
]);

/**
 * [ap_session_resumption] The messages a router sends in answer to a session's requests
 * (router-initiated revocations included): what a router keeps and numbers for a resumable
 * session, and what a client counts for HELLO.Details.resume-answers (a Switchboard extension).
 * EVENT, INVOCATION, INTERRUPT and the session's lifecycle messages are not answers.
 */
export const ANSWER_CODES: ReadonlySet<MessageCode> = new Set<MessageCode>([
  MessageCode.Result,
  MessageCode.Error,
  MessageCode.Published,
  MessageCode.Subscribed,
  MessageCode.Unsubscribed,
  MessageCode.Registered,
  MessageCode.Unregistered,
]);
