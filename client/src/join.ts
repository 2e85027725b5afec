/**
 * Opening a WAMP session on a fresh transport: HELLO → [CHALLENGE → AUTHENTICATE]* → WELCOME,
 * or ABORT. The authentication methods themselves plug in through `AuthOptions.onChallenge`.
 */
import type { Dict, SessionId, WampMessage } from '@switchboard/schemas/core';
import { ErrorUri, MessageCode, messageName } from '@switchboard/schemas/core';
import { ProtocolViolationError, SessionAbortedError, UnreachableError, toError } from './errors.js';
import type { Transport } from './transport.js';

/** What `onChallenge` may answer: the signature, or the signature with AUTHENTICATE.Extra. */
export type ChallengeResponse = string | { signature: string; extra?: Dict };

export interface AuthOptions {
  /** HELLO.Details.authmethods, e.g. ['ticket'] or ['cryptosign', 'anonymous']. */
  authmethods: string[];
  authid?: string;
  authrole?: string;
  authextra?: Dict;
  /** Answers a CHALLENGE; throwing aborts the join with wamp.error.authentication_failed. */
  onChallenge?: (method: string, extra: Dict) => ChallengeResponse | Promise<ChallengeResponse>;
  /**
   * Called before every HELLO, for methods that keep state per join (SCRAM's nonces): what it
   * returns adds to `authextra`, takes over `onChallenge`, and may check the WELCOME.
   */
  attempt?: () => AuthAttempt;
}

/** One join's authentication state (see AuthOptions.attempt). */
export interface AuthAttempt {
  /** Merged over AuthOptions.authextra in this HELLO. */
  authextra?: Dict;
  onChallenge?: (method: string, extra: Dict) => ChallengeResponse | Promise<ChallengeResponse>;
  /** Checks WELCOME.Details (e.g. the router's SCRAM signature); throwing aborts the join with wamp.error.authentication_failed. */
  onWelcome?: (details: Dict) => void | Promise<void>;
}

export interface JoinOptions {
  url: string;
  realm: string;
  roles: Dict;
  agent: string;
  auth: AuthOptions | undefined;
  timeoutMs: number;
  /** More HELLO.Details (session resumption's `resumable`, `resume-session`, `resume-token`, `resume-answers`). */
  details?: Dict;
}

export interface Welcomed {
  session: SessionId;
  details: Dict;
  /**
   * Messages that followed WELCOME before the caller took the transport's handlers over (a resumed
   * session's resent answers come right after it, often in the same read): the caller handles
   * them first, in order.
   */
  early: WampMessage[];
}

/** Messages kept after WELCOME until the caller takes over: far above the answers a router resends at a resume. */
const MAX_EARLY = 100_000;

/** Joins `realm` on `transport`; on failure the transport is closed and the promise rejects. */
export function join(transport: Transport, options: JoinOptions): Promise<Welcomed> {
  return new Promise<Welcomed>((resolve, reject) => {
    let done = false;
    const early: WampMessage[] = [];
    let gotWelcome = false;
    const finish = (error: Error | undefined, welcomed?: Welcomed): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error !== undefined) {
        transport.close(1000, 'join failed');
        reject(error);
      } else resolve(welcomed!);
    };
    const violation = (detail: string): void => {
      transport.send({ code: MessageCode.Abort, details: { message: detail }, reason: ErrorUri.ProtocolViolation });
      finish(new ProtocolViolationError(detail));
    };
    const timer = setTimeout(() => finish(new UnreachableError(options.url, `no WELCOME within ${options.timeoutMs} ms`)), options.timeoutMs);
    const authFailed = (what: string, err: unknown): void => {
      const message = `${what} failed: ${toError(err).message}`;
      transport.send({ code: MessageCode.Abort, details: { message }, reason: ErrorUri.AuthenticationFailed });
      finish(new SessionAbortedError(ErrorUri.AuthenticationFailed, { message }));
    };
    let attempt: AuthAttempt | undefined;
    try {
      attempt = options.auth?.attempt?.();
    } catch (err) {
      return finish(toError(err));
    }

    transport.handlers = {
      message: (msg) => {
        if (gotWelcome) {
          // Kept for the caller (see Welcomed.early), bounded: a router flooding here loses its link.
          if (early.length < MAX_EARLY) early.push(msg);
          else transport.close(1008, 'too many messages right after WELCOME');
          return;
        }
        if (done) return;
        switch (msg.code) {
          case MessageCode.Welcome: {
            gotWelcome = true;
            const onWelcome = attempt?.onWelcome;
            if (onWelcome === undefined) return finish(undefined, { session: msg.session, details: msg.details, early });
            Promise.resolve()
              .then(() => onWelcome(msg.details))
              .then(
                () => finish(undefined, { session: msg.session, details: msg.details, early }),
                (err: unknown) => {
                  if (!done) authFailed('onWelcome', err);
                },
              );
            return;
          }
          case MessageCode.Abort:
            return finish(new SessionAbortedError(msg.reason, msg.details));
          case MessageCode.Challenge: {
            const onChallenge = attempt?.onChallenge ?? options.auth?.onChallenge;
            if (onChallenge === undefined) return violation(`CHALLENGE for '${msg.authMethod}' but no auth.onChallenge was given`);
            Promise.resolve()
              .then(() => onChallenge(msg.authMethod, msg.extra))
              .then(
                (response) => {
                  if (done) return;
                  const { signature, extra = {} } = typeof response === 'string' ? { signature: response } : response;
                  transport.send({ code: MessageCode.Authenticate, signature, extra });
                },
                (err: unknown) => {
                  if (!done) authFailed('onChallenge', err);
                },
              );
            return;
          }
          default:
            return violation(`received ${messageName(msg.code)} while joining (expected WELCOME, CHALLENGE or ABORT)`);
        }
      },
      badFrame: (reason) => violation(reason),
      close: ({ code, reason }) => finish(new UnreachableError(options.url, `connection closed while joining (code ${code}${reason ? `, ${reason}` : ''})`)),
    };

    const details: Dict = { roles: options.roles, agent: options.agent, ...options.details };
    const auth = options.auth;
    if (auth !== undefined) {
      details['authmethods'] = auth.authmethods;
      if (auth.authid !== undefined) details['authid'] = auth.authid;
      if (auth.authrole !== undefined) details['authrole'] = auth.authrole;
      if (auth.authextra !== undefined || attempt?.authextra !== undefined) details['authextra'] = { ...auth.authextra, ...attempt?.authextra };
    }
    try {
      transport.send({ code: MessageCode.Hello, realm: options.realm, details });
    } catch (err) {
      finish(toError(err));
    }
  });
}
