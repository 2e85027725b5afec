/** What a peer announced in HELLO.Details.roles, read one way for every kind of Endpoint. */
import type { Dict } from '@switchboard/schemas';
import type { PeerRole } from './endpoint.js';

/** Whether the announced roles grant `feature` for `role` (both spellings of cancel(l)ing). */
export function rolesSupport(roles: Dict, role: PeerRole, feature: string): boolean {
  const r = roles[role];
  if (typeof r !== 'object' || r === null) return false;
  const features = (r as Dict)['features'];
  if (typeof features !== 'object' || features === null) return false;
  const f = features as Dict;
  if (f[feature] === true) return true;
  return feature === 'call_canceling' && f['call_cancelling'] === true;
}
