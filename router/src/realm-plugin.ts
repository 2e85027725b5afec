/**
 * The seam through which a realm gets what is not routing: the meta API, event history, the
 * cluster link, an embedder's own additions. The router installs one list of plugins — its
 * built-in ones first, then an embedder's — in every realm when it starts, in order, and tears
 * them down in reverse order when it stops. What a plugin registers through its context (router
 * procedures, hooks) is undone for it at teardown; what `install` returns runs before that.
 */
import type { Logger } from './log.js';
import type { Realm } from './realm.js';
import type { PluginScope } from './realm-hooks.js';

export type {
  CatchUpSource,
  PluginScope,
  RealmHooks,
  RealmObserver,
  PublicationOrigin,
  RemoteSubscription,
  TestamentRecord,
  ClaimOptions,
} from './realm-hooks.js';

/** What a plugin gets besides its realm. */
export interface PluginContext extends PluginScope {
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

interface Installed {
  readonly plugin: string;
  readonly realm: string;
  /** The plugin's own teardown, then the removal of what it registered (latest first). */
  readonly undo: PluginTeardown[];
}

/**
 * The plugins installed in a router's realms. `install` goes realm by realm, each realm's plugins
 * in list order, and waits for a plugin whose install is asynchronous before the next one; a
 * failing install throws (the router does not start) after what was installed is recorded for
 * teardown. `teardown` undoes every installation in reverse order, once; a failing teardown is
 * logged and the others still run.
 */
export class RealmPlugins {
  readonly #installed: Installed[] = [];
  #tornDown = false;

  constructor(private readonly logFor: (plugin: string) => Logger) {}

  async install(realms: Iterable<Realm>, plugins: readonly RealmPlugin[]): Promise<void> {
    for (const realm of realms) {
      for (const plugin of plugins) {
        const undo: PluginTeardown[] = [];
        this.#installed.push({ plugin: plugin.name, realm: realm.name, undo });
        const log = this.logFor(plugin.name);
        const context: PluginContext = {
          log,
          procedure: (uri, handler) => {
            const remove = realm.procedure(uri, handler);
            undo.push(remove);
            return remove;
          },
          observe: (hooks) => {
            // Named, so that a hook of this plugin that throws is logged as this plugin's fault (realm-hooks.ts).
            const remove = realm.hooks.add(hooks, { name: plugin.name, log });
            undo.push(remove);
            return remove;
          },
          catchUp: (source) => {
            const remove = realm.hooks.setCatchUp(source, { name: plugin.name, log });
            undo.push(remove);
            return remove;
          },
        };
        const teardown = await plugin.install(realm, context);
        if (teardown !== undefined) undo.push(teardown);
      }
    }
  }

  async teardown(): Promise<void> {
    if (this.#tornDown) return;
    this.#tornDown = true;
    for (const installed of this.#installed.reverse()) {
      for (const undo of installed.undo.reverse()) {
        try {
          await undo();
        } catch (err) {
          this.logFor(installed.plugin).warn({ realm: installed.realm, plugin: installed.plugin, err: (err as Error).message }, 'plugin teardown failed');
        }
      }
    }
    this.#installed.length = 0;
  }
}
