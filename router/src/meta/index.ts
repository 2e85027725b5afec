/** The meta API of a realm: router-side procedures and meta events. */
import type { Realm } from '../realm.js';
import type { PluginScope } from '../realm-hooks.js';
import type { RealmPlugin } from '../realm-plugin.js';
import { installRouteMeta } from './routes.js';
import { installSessionMeta } from './sessions.js';
import { installTestaments } from './testament.js';

/**
 * Session, subscription, registration and testament meta API. Event history
 * (wamp.subscription.get_events) is its own plugin (history.ts): it owns the event store.
 */
export function installMetaApi(realm: Realm, scope: PluginScope = realm): void {
  installSessionMeta(realm, scope);
  installRouteMeta(realm, scope);
  installTestaments(realm, scope);
}

/** The meta API as a realm plugin (router.ts installs it first in every realm). */
export const metaPlugin: RealmPlugin = {
  name: 'meta',
  install(realm, context) {
    installMetaApi(realm, context);
  },
};

export { sessionDetails } from '../core/sessions.js';
export { catchUpReplay, historyPlugin, historySizeOf, widestRule } from './history.js';
export type { HistoryPluginOptions, HistoryTopic } from './history.js';
