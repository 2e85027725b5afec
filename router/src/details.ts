/**
 * What EVENT and INVOCATION details carry beyond the payload, shared by pub/sub and RPC:
 * publisher/caller disclosure and payload passthru options.
 */
import type { Dict } from '@switchboard/schemas';
import type { RouterSession } from './session.js';

/** [ap_payload_passthru_mode] These options travel from PUBLISH/CALL/YIELD to EVENT/INVOCATION/RESULT untouched. */
const PPT_KEYS = ['ppt_scheme', 'ppt_serializer', 'ppt_cipher', 'ppt_keyid'] as const;

/** Passthru is in use when ppt_scheme is present and non-empty. */
export function hasPpt(options: Dict): boolean {
  const scheme = options['ppt_scheme'];
  return typeof scheme === 'string' && scheme.length > 0;
}

export function copyPpt(from: Dict, to: Dict): void {
  for (const key of PPT_KEYS) if (from[key] !== undefined) to[key] = from[key];
}

/** [ap_pubsub_publisher_identification, ap_rpc_caller_identification] */
export function disclose(session: RouterSession, details: Dict, as: 'publisher' | 'caller'): void {
  details[as] = session.id;
  if (session.identity !== undefined) {
    details[`${as}_authid`] = session.identity.authid;
    details[`${as}_authrole`] = session.identity.authrole;
  }
}
