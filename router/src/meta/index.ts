/** The meta API of a realm: router-side procedures and meta events. */
import type { Realm } from '../realm.js';
import { installHistory } from './history.js';
import { installRouteMeta } from './routes.js';
import { installSessionMeta } from './sessions.js';
import { installTestaments } from './testament.js';

export function installMetaApi(realm: Realm): void {
  installSessionMeta(realm);
  installRouteMeta(realm);
  installTestaments(realm);
  installHistory(realm);
}

export { sessionDetails } from './sessions.js';
