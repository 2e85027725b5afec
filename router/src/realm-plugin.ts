/**
 * The seam through which a realm gets what is not routing: the meta API, event history, the
 * cluster link, an HTTP bridge, an embedder's own additions. A plugin is installed once per realm
 * when the router starts; what `install` returns is run when the router stops (in reverse order).
 */
import type { Logger } from './log.js';
import type { Realm } from './realm.js';

/** What a plugin gets besides its realm. */
export interface PluginContext {
  /** A logger for the plugin, bound to its name. */
  readonly log: Logger;
}

/** Undoes an installation: timers, subscriptions, connections the plugin made. */
export type PluginTeardown = () => void | Promise<void>;

export interface RealmPlugin {
  /** For logs and errors, e.g. `meta`, `history`, `cluster`. */
  readonly name: string;
  install(realm: Realm, context: PluginContext): void | PluginTeardown | Promise<void | PluginTeardown>;
}
