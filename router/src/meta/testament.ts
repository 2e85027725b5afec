/**
 * Testaments: events a session leaves to be published when it goes away, for any reason
 * (GOODBYE, ABORT, a dropped connection, a kill). [ap_pubsub_testament]
 * wamp.session.add_testament(topic, args, kwargs, options {publish_options, scope})
 * wamp.session.flush_testaments(options {scope}): clears that scope's testaments
 */
import type { Args, Dict, Kwargs } from '@switchboard/schemas';
import { isDict, isValidUri } from '@switchboard/schemas';
import type { Realm } from '../realm.js';
import type { RouterSession } from '../session.js';
import { invalid, optionalDict, stringArg } from './args.js';

type Scope = 'destroyed' | 'detached';

interface Testament {
  topic: string;
  args: Args;
  kwargs: Kwargs;
  publishOptions: Dict;
}

function scopeOf(options: Dict): Scope {
  const scope = options['scope'] ?? 'destroyed';
  if (scope !== 'destroyed' && scope !== 'detached') throw invalid(`scope must be 'destroyed' or 'detached', not '${String(scope)}'`);
  return scope;
}

export function installTestaments(realm: Realm): void {
  const testaments = new Map<RouterSession, Record<Scope, Testament[]>>();

  realm.procedures.set('wamp.session.add_testament', (caller, args, kwargs) => {
    const topic = stringArg(args, 0, 'topic');
    if (!isValidUri(topic)) throw invalid(`invalid topic URI '${topic}'`);
    const eventArgs = args[1] ?? [];
    const eventKwargs = args[2] ?? {};
    if (!Array.isArray(eventArgs)) throw invalid('argument 2 (args) must be a list');
    if (!isDict(eventKwargs)) throw invalid('argument 3 (kwargs) must be a dict');
    const options = { ...optionalDict(args, 3, 'options'), ...kwargs };
    const publishOptions = options['publish_options'] ?? {};
    if (!isDict(publishOptions)) throw invalid('publish_options must be a dict');
    const scope = scopeOf(options);
    let mine = testaments.get(caller);
    if (mine === undefined) testaments.set(caller, (mine = { destroyed: [], detached: [] }));
    const max = realm.quotas.limits.maxTestamentsPerSession;
    if (mine.destroyed.length + mine.detached.length >= max) throw realm.quotas.overLimit({ limit: 'maxTestamentsPerSession', value: max });
    mine[scope].push({ topic, args: eventArgs, kwargs: eventKwargs, publishOptions });
    realm.cluster?.testaments?.(caller, [...mine.detached, ...mine.destroyed]);
    return undefined;
  });

  realm.procedures.set('wamp.session.flush_testaments', (caller, args, kwargs) => {
    const scope = scopeOf({ ...optionalDict(args, 0, 'options'), ...kwargs });
    const mine = testaments.get(caller);
    if (mine !== undefined) mine[scope] = [];
    if (mine !== undefined) realm.cluster?.testaments?.(caller, [...mine.detached, ...mine.destroyed]);
    return undefined;
  });

  realm.observe({
    onLeave(session, silent) {
      const mine = testaments.get(session);
      if (mine === undefined) return;
      testaments.delete(session);
      realm.cluster?.testaments?.(session, []);
      if (silent) return; // wamp.session.kill_all publishes no testaments
      // Without session resumption a session is detached and destroyed at once: both scopes fire.
      for (const t of [...mine.detached, ...mine.destroyed]) {
        const outcome = realm.publishAs(session, t.topic, t.args, t.kwargs, t.publishOptions);
        if (typeof outcome === 'object') realm.log.info({ session: session.id, topic: t.topic, error: outcome.message }, 'testament not published');
      }
    },
  });
}
