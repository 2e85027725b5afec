/** Error and close URIs predefined by WAMP. [bp_uris] */
export const ErrorUri = {
  InvalidUri: 'wamp.error.invalid_uri',
  NoSuchProcedure: 'wamp.error.no_such_procedure',
  ProcedureAlreadyExists: 'wamp.error.procedure_already_exists',
  NoSuchRegistration: 'wamp.error.no_such_registration',
  NoSuchSubscription: 'wamp.error.no_such_subscription',
  InvalidArgument: 'wamp.error.invalid_argument',
  ProtocolViolation: 'wamp.error.protocol_violation',
  NotAuthorized: 'wamp.error.not_authorized',
  AuthorizationFailed: 'wamp.error.authorization_failed',
  AuthenticationFailed: 'wamp.error.authentication_failed',
  NoAuthMethod: 'wamp.error.no_auth_method',
  NoSuchRealm: 'wamp.error.no_such_realm',
  NoSuchRole: 'wamp.error.no_such_role',
  NoSuchSession: 'wamp.error.no_such_session',
  /**
   * A call's callee is detached (it lost its transport and may resume): a single registration's
   * only callee, every callee of a shared one, or the callee serving an invocation when it
   * detached. [ap_session_resumption]
   */
  SessionUnattached: 'wamp.error.session_unattached',
  Canceled: 'wamp.error.canceled',
  Timeout: 'wamp.error.timeout',
  Unavailable: 'wamp.error.unavailable',
  NoAvailableCallee: 'wamp.error.no_available_callee',
  FeatureNotSupported: 'wamp.error.feature_not_supported',
  OptionNotAllowed: 'wamp.error.option_not_allowed',
  OptionDisallowedDiscloseMe: 'wamp.error.option_disallowed.disclose_me',
  ProcedureExistsWithDifferentInvocationPolicy: 'wamp.error.procedure_exists_with_different_invocation_policy',
  RuntimeError: 'wamp.error.runtime_error',
} as const;

export type ErrorUri = (typeof ErrorUri)[keyof typeof ErrorUri];

export const CloseUri = {
  SystemShutdown: 'wamp.close.system_shutdown',
  CloseRealm: 'wamp.close.close_realm',
  GoodbyeAndOut: 'wamp.close.goodbye_and_out',
  Killed: 'wamp.close.killed',
  // Also accepted on the wire as GOODBYE/ABORT reasons from other implementations.
  Normal: 'wamp.close.normal',
} as const;

export type CloseUri = (typeof CloseUri)[keyof typeof CloseUri];

/** An application or protocol error carried by ERROR, ABORT or GOODBYE. */
export class WampError extends Error {
  override name = 'WampError';

  constructor(
    readonly uri: string,
    readonly args: unknown[] = [],
    readonly kwargs: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(typeof args[0] === 'string' ? `${uri}: ${args[0]}` : uri, options);
  }
}
