/**
 * What EVENT and INVOCATION details carry beyond the payload, shared by pub/sub and RPC:
 * publisher/caller disclosure and payload passthru options.
 */
import type { Dict } from '@switchboard/schemas';
import { isTransparent } from '@switchboard/schemas';
import type { Endpoint } from './core/endpoint.js';

/**
 * [ap_payload_passthru_mode] These options travel from PUBLISH/CALL/YIELD/ERROR to
 * EVENT/INVOCATION/RESULT/ERROR untouched: the ppt_* of the spec, and the enc_* of payload
 * transparency as autobahn-python's end-to-end encryption (cryptobox) writes it, whose payload is
 * one binary in place of Arguments (wire.ts).
 */
const PPT_KEYS = ['ppt_scheme', 'ppt_serializer', 'ppt_cipher', 'ppt_keyid', 'enc_algo', 'enc_key', 'enc_serializer'] as const;

/** Passthru is in use when ppt_scheme, or autobahn-python's enc_algo, is present and non-empty. */
export function hasPpt(options: Dict): boolean {
  const scheme = options['ppt_scheme'];
  return (typeof scheme === 'string' && scheme.length > 0) || isTransparent(options);
}

export function copyPpt(from: Dict, to: Dict): void {
  for (const key of PPT_KEYS) if (from[key] !== undefined) to[key] = from[key];
}

/**
 * A peer announces passthru as the spec names it (`payload_passthru_mode`) or as autobahn-python
 * and Crossbar do (`payload_transparency`); either covers both wire forms.
 */
export function supportsPpt(session: Pick<Endpoint, 'supports'>, role: 'publisher' | 'subscriber' | 'caller' | 'callee'): boolean {
  return session.supports(role, 'payload_passthru_mode') || session.supports(role, 'payload_transparency');
}

/** [ap_pubsub_publisher_identification, ap_rpc_caller_identification] */
export function disclose(session: Pick<Endpoint, 'id' | 'identity'>, details: Dict, as: 'publisher' | 'caller'): void {
  details[as] = session.id;
  details[`${as}_authid`] = session.identity.authid;
  details[`${as}_authrole`] = session.identity.authrole;
}
