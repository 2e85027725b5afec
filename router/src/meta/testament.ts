/**
 * Testaments: events a session leaves to be published when it goes away, for any reason
 * (GOODBYE, ABORT, a dropped connection, a kill). [ap_pubsub_testament] Scope `detached` fires when
 * the session loses its transport (realm onDetach: a resumable session detaching, or any session
 * closing), scope `destroyed` when it ends (onLeave: at once, or when a detached session expires).
 * wamp.session.add_testament(topic, args, kwargs, options {publish_options, scope})
 * wamp.session.flush_testaments(options {scope}): clears that scope's testaments
 *
 * A testament is a publication by its session, and is authorized as one: when it is added
 * (ERROR wamp.error.not_authorized), and again when it is published, for the role or the
 * authorizer's answer may have changed meanwhile (a refused testament is dropped and logged).
 */
import type { Args, Dict, Kwargs } from '@switchboard/schemas';
import { ErrorUri, WampError, isDict, isValidUri } from '@switchboard/schemas';
import type { Verdict } from '../auth/gate.js';
import { payloadBytes } from '../limits.js';
import type { Realm } from '../realm.js';
import type { Endpoint } from '../core/endpoint.js';
import type { PluginScope } from '../realm-hooks.js';
import { invalid, optionalDict, stringArg } from './args.js';

type Scope = 'destroyed' | 'detached';

export interface Testament {
  topic: string;
  args: Args;
  kwargs: Kwargs;
  publishOptions: Dict;
}

/** What one testament holds, estimated as the realm's byte budgets estimate payloads. */
function testamentBytes(t: Testament): number {
  return t.topic.length + payloadBytes(t.args, t.kwargs, t.publishOptions);
}

function scopeOf(options: Dict): Scope {
  const scope = options['scope'] ?? 'destroyed';
  if (scope !== 'destroyed' && scope !== 'detached') throw invalid(`scope must be 'destroyed' or 'detached', not '${String(scope)}'`);
  return scope;
}

/**
 * Publishes a testament of `session` (which left) if the gate still lets it publish there, with
 * the disclosure the authorizer asks for; otherwise drops it, logged (a failing authorizer is
 * logged by the gate). A cluster node publishes a dead node's testaments through here too. A
 * promise while the authorizer has not answered: the next testament waits for it (order).
 */
export function publishTestament(realm: Realm, session: Endpoint, t: Testament): Promise<void> | undefined {
  const publish = (verdict: Verdict): void => {
    if (!verdict.ok) {
      realm.log.info({ realm: realm.name, session: session.id, topic: t.topic, error: verdict.error }, 'testament dropped: the session may not publish it');
      return;
    }
    const outcome = realm.pubsub.publishAs(session, verdict, t.topic, t, t.publishOptions);
    if (!outcome.ok) realm.log.info({ session: session.id, topic: t.topic, error: outcome.message }, 'testament not published');
  };
  // The session has left: a decision that arrives later is still acted on (the gate keeps it).
  const judgement = realm.gate.judge(session, { uri: t.topic, action: 'publish', options: t.publishOptions });
  if (judgement.ok === 'pending') return judgement.settle(publish);
  publish(judgement);
  return undefined;
}

export function installTestaments(realm: Realm, scope: PluginScope = realm): void {
  const testaments = new Map<Endpoint, Record<Scope, Testament[]>>();

  scope.procedure('wamp.session.add_testament', async (caller, args, kwargs) => {
    const topic = stringArg(args, 0, 'topic');
    realm.quotas.checkUri(topic);
    if (!isValidUri(topic)) throw invalid(`invalid topic URI '${topic}'`);
    const eventArgs = args[1] ?? [];
    const eventKwargs = args[2] ?? {};
    if (!Array.isArray(eventArgs)) throw invalid('argument 2 (args) must be a list');
    if (!isDict(eventKwargs)) throw invalid('argument 3 (kwargs) must be a dict');
    const options = { ...optionalDict(args, 3, 'options'), ...kwargs };
    const publishOptions = options['publish_options'] ?? {};
    if (!isDict(publishOptions)) throw invalid('publish_options must be a dict');
    const scope = scopeOf(options);
    const verdict = await realm.gate.verdict(caller, { uri: topic, action: 'publish', options: publishOptions });
    // The session left while the authorizer was asked (the gate dropped the verdict): the
    // connection may carry another session now, which must not inherit the testament.
    if (verdict === undefined || !caller.live) return undefined;
    if (!verdict.ok) {
      if (verdict.error === ErrorUri.NotAuthorized) throw new WampError(ErrorUri.NotAuthorized, [`session is not authorized to publish to '${topic}'`]);
      throw new WampError(verdict.error, [verdict.message]);
    }
    let mine = testaments.get(caller);
    if (mine === undefined) testaments.set(caller, (mine = { destroyed: [], detached: [] }));
    const max = realm.quotas.limits.maxTestamentsPerSession;
    if (mine.destroyed.length + mine.detached.length >= max) throw realm.quotas.overLimit({ limit: 'maxTestamentsPerSession', value: max });
    // A testament is kept for as long as its session lives: its bytes count, not only their number.
    const testament: Testament = { topic, args: eventArgs, kwargs: eventKwargs, publishOptions };
    const maxBytes = realm.quotas.limits.maxTestamentBytesPerSession;
    if (testamentBytes(testament) + [...mine.destroyed, ...mine.detached].reduce((sum, t) => sum + testamentBytes(t), 0) > maxBytes) {
      throw realm.quotas.overLimit({ limit: 'maxTestamentBytesPerSession', value: maxBytes });
    }
    mine[scope].push(testament);
    realm.hooks.testaments(caller, [...mine.detached, ...mine.destroyed]);
    return undefined;
  });

  scope.procedure('wamp.session.flush_testaments', (caller, args, kwargs) => {
    const scope = scopeOf({ ...optionalDict(args, 0, 'options'), ...kwargs });
    const mine = testaments.get(caller);
    if (mine !== undefined) mine[scope] = [];
    if (mine !== undefined) realm.hooks.testaments(caller, [...mine.detached, ...mine.destroyed]);
    return undefined;
  });

  /**
   * Publishes testaments in order (each waits for the one before when an authorizer answers
   * later); `after`: a chain still running that they must follow.
   */
  const publishAll = (session: Endpoint, list: readonly Testament[], after?: Promise<void>): Promise<void> | undefined => {
    let chain = after;
    for (const t of list) chain = chain === undefined ? publishTestament(realm, session, t) : chain.then(() => publishTestament(realm, session, t));
    return chain;
  };
  /** Per session: detached testaments still being published (an authorizer not yet answered), for the destroyed ones to follow. */
  const pending = new Map<Endpoint, Promise<void>>();

  // A session moving between cluster nodes takes its testaments of scope `destroyed` along
  // (resumption.ts: handOver asks after the detach, which fired and cleared the `detached` ones).
  scope.observe({
    testamentsOf: (session) => testaments.get(session)?.destroyed,
    adoptTestaments: (session, list) => {
      testaments.set(session, { destroyed: list.map((t) => ({ ...t })), detached: [] });
      realm.hooks.testaments(session, list);
    },
  });

  scope.observe({
    // The session lost its transport: detaching (it may resume) or closing (onLeave follows, unless
    // silent, which never reaches here). Testaments of scope `detached` fire now, once, and are
    // cleared: a session that resumes adds them again if it wants them. [ap_pubsub_testament]
    onDetach(session) {
      const mine = testaments.get(session);
      if (mine === undefined || mine.detached.length === 0) return;
      const detached = mine.detached;
      mine.detached = [];
      realm.hooks.testaments(session, [...mine.destroyed]);
      const chain = publishAll(session, detached);
      if (chain === undefined) return;
      pending.set(session, chain);
      void chain.then(() => {
        if (pending.get(session) === chain) pending.delete(session);
      });
    },
    // The session ends: testaments of scope `destroyed` fire (after the detached ones, when those
    // wait). Detached ones still here never saw an onDetach (a session ended at once when it lost
    // its transport, as past a resumption limit): they fire first, so each fires exactly once.
    onLeave(session, silent) {
      const before = pending.get(session);
      pending.delete(session);
      const mine = testaments.get(session);
      if (mine === undefined) return;
      testaments.delete(session);
      realm.hooks.testaments(session, []);
      if (silent) return; // wamp.session.kill_all publishes no testaments
      publishAll(session, [...mine.detached, ...mine.destroyed], before);
    },
  });
}
