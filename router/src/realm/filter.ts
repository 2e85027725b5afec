/**
 * The recipient filter of PUBLISH.Options (exclude_me, exclude/eligible by session, authid and
 * authrole) [ap_pubsub_subscriber_blackwhite_listing], read and checked: a malformed list refuses
 * the publication, naming the option.
 */
import type { Dict } from '@switchboard/schemas';
import { ErrorUri } from '@switchboard/schemas';
import { NO_FILTER } from '../broker/broker.js';
import type { RecipientFilter } from '../broker/broker.js';
import { refusal } from '../core/outcome.js';
import type { Outcome } from '../core/outcome.js';

const isNumber = (v: unknown): v is number => typeof v === 'number';
const isString = (v: unknown): v is string => typeof v === 'string';
const SESSION_IDS = 'exclude and eligible must be lists of session IDs';
const AUTHIDS = 'exclude_authid and eligible_authid must be lists of strings';
const AUTHROLES = 'exclude_authrole and eligible_authrole must be lists of strings';

/** A list option of PUBLISH.Options as a set (undefined when absent), or the refusal `message` when it is no such list. */
function setOption<T>(options: Dict, key: string, is: (v: unknown) => v is T, message: string): Outcome<{ set: ReadonlySet<T> | undefined }> {
  const value = options[key];
  if (value === undefined) return { ok: true, set: undefined };
  if (!Array.isArray(value) || !value.every(is)) return refusal(ErrorUri.InvalidArgument, message);
  return { ok: true, set: new Set(value) };
}

/** The two filters without lists, answered without allocating (every plain PUBLISH). */
const NO_FILTER_OUTCOME = { ok: true, filter: NO_FILTER } as const;
const INCLUDE_ME_OUTCOME = { ok: true, filter: { excludeMe: false } } as const;

/** The recipient filter of PUBLISH.Options, or a refusal saying which option is malformed. */
export function recipientFilter(options: Dict): Outcome<{ filter: RecipientFilter }> {
  const excludeMe = options['exclude_me'] !== false;
  if (
    options['exclude'] === undefined &&
    options['eligible'] === undefined &&
    options['exclude_authid'] === undefined &&
    options['eligible_authid'] === undefined &&
    options['exclude_authrole'] === undefined &&
    options['eligible_authrole'] === undefined
  ) {
    return excludeMe ? NO_FILTER_OUTCOME : INCLUDE_ME_OUTCOME;
  }
  const exclude = setOption(options, 'exclude', isNumber, SESSION_IDS);
  if (!exclude.ok) return exclude;
  const eligible = setOption(options, 'eligible', isNumber, SESSION_IDS);
  if (!eligible.ok) return eligible;
  const excludeAuthid = setOption(options, 'exclude_authid', isString, AUTHIDS);
  if (!excludeAuthid.ok) return excludeAuthid;
  const eligibleAuthid = setOption(options, 'eligible_authid', isString, AUTHIDS);
  if (!eligibleAuthid.ok) return eligibleAuthid;
  const excludeAuthrole = setOption(options, 'exclude_authrole', isString, AUTHROLES);
  if (!excludeAuthrole.ok) return excludeAuthrole;
  const eligibleAuthrole = setOption(options, 'eligible_authrole', isString, AUTHROLES);
  if (!eligibleAuthrole.ok) return eligibleAuthrole;
  return {
    ok: true,
    filter: {
      excludeMe,
      exclude: exclude.set,
      eligible: eligible.set,
      excludeAuthid: excludeAuthid.set,
      eligibleAuthid: eligibleAuthid.set,
      excludeAuthrole: excludeAuthrole.set,
      eligibleAuthrole: eligibleAuthrole.set,
    },
  };
}
