/**
 * The seams of authentication and authorization. Authenticators (one module per method) decide
 * who a session is; an authorizer decides what it may do. Both may answer synchronously (static
 * configuration) or asynchronously (a dynamic authenticator or authorizer); the session keeps
 * message order either way.
 */
import type { Dict, MatchPolicy, SessionId } from '@switchboard/schemas';
import type { TransportDetails } from '../transports/peer.js';

/** What a HELLO says about who is connecting, as an authenticator sees it. */
export interface HelloInfo {
  realm: string;
  /** HELLO.Details.authid, if the client gave one. */
  authid: string | undefined;
  /** HELLO.Details.authmethods, or ['anonymous'] when absent. */
  authmethods: string[];
  /** HELLO.Details.authextra ({} when absent). */
  authextra: Dict;
  /** The full HELLO.Details. */
  details: Dict;
  /** The session ID the router will give this session. */
  session: SessionId;
  transport: TransportDetails;
}

/** Who a session turned out to be. */
export interface Principal {
  authid: string;
  authrole: string;
  /** The authenticator may move the session to another realm (Crossbar's dynamic authenticators can). */
  realm?: string;
  /** e.g. 'static', 'dynamic'. */
  authprovider: string;
  /** Sent in WELCOME.Details.authextra. */
  authextra?: Dict;
}

export type AuthResult =
  | { kind: 'accept'; principal: Principal }
  | {
      kind: 'challenge';
      /** CHALLENGE.Extra */
      extra: Dict;
      /** Checks the AUTHENTICATE that answers the challenge. */
      respond(signature: string, extra: Dict): AuthResult | Promise<AuthResult>;
      /**
       * The challenge was never answered (the client hung up, broke the protocol or ran out of
       * time): a probe that reads CHALLENGEs to learn about authids, counted like a failure.
       */
      abandoned?(): void;
    }
  | {
      kind: 'deny';
      /** ABORT reason: wamp.error.authentication_failed, no_such_role, not_authorized, … */
      reason: string;
      /** ABORT.Details.message; never says whether the authid exists. */
      message: string;
    };

export interface Authenticator {
  /** The authmethod this module implements: anonymous, ticket, wampcra, cryptosign, scram, tls, cookie. */
  readonly method: string;
  authenticate(hello: HelloInfo): AuthResult | Promise<AuthResult>;
  /**
   * Whether the method applies to this connection at all (tls: a verified client certificate;
   * cookie: a tracking cookie logged in to `realm`). False: the session tries the client's next
   * authmethod, and ABORTs wamp.error.authentication_failed when none is left. Absent: always.
   */
  available?(transport: TransportDetails, realm: string): boolean;
  /**
   * A resume on this listener was refused (session resumption): it counts as a failed
   * authentication of the transport's address where the listener limits failures (auth/limits.ts).
   * The authenticators of one listener share their limits: the connection tells one of them.
   */
  resumeRefused?(transport: TransportDetails): void;
}

export type Action = 'call' | 'register' | 'publish' | 'subscribe';

/** An authorizer's answer. [Crossbar: allow, disclose, cache] */
export interface Decision {
  allow: boolean;
  /** Disclose the caller/publisher to callees/subscribers whatever the client asked. */
  disclose?: boolean;
  /** The decision may be cached for this session (dynamic authorizers). */
  cache?: boolean;
}

/** What an authorizer knows of a session. */
export interface Subject {
  readonly id: SessionId;
  readonly authid: string | undefined;
  readonly authrole: string | undefined;
  /**
   * One object per WAMP session, a new one at every WELCOME: a connection may open another
   * session after GOODBYE, as someone else, and the session object lives on. Whatever an
   * authorizer keeps for a session is keyed by this, so it dies with that session.
   */
  readonly membership: object | undefined;
}

export interface Authorizer {
  /** Whether a role exists in this realm (WELCOME refuses unknown roles with wamp.error.no_such_role). */
  hasRole(role: string): boolean;
  /**
   * `match` is how `uri` is meant: a URI (exact; every CALL and PUBLISH) or a pattern of a
   * SUBSCRIBE or REGISTER (prefix, wildcard), which is allowed only when the session may act on
   * every URI the pattern can match. `options` are the message's (for dynamic authorizers, which
   * read the match policy there, as Crossbar's do).
   */
  authorize(subject: Subject, uri: string, action: Action, match: MatchPolicy, options: Dict): Decision | Promise<Decision>;
  /** Forget what was cached for a session that left. */
  forget?(subject: Subject): void;
}

export const ALLOW: Decision = { allow: true };
export const DENY: Decision = { allow: false };

/** A realm without roles: every session may do everything (the embedded default). */
export const allowAll: Authorizer = {
  hasRole: () => true,
  authorize: () => ALLOW,
};
