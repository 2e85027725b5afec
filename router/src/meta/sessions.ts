/**
 * Session meta API. [ap_session_meta_api]
 * Procedures: wamp.session.count, list, get, kill, kill_by_authid, kill_by_authrole, kill_all.
 * Events: wamp.session.on_join [details], wamp.session.on_leave [session, authid, authrole].
 * Session resumption's events [ap_session_resumption]: wamp.session.on_attach [details + resumed]
 * (a new session, before on_join; each resume) and wamp.session.on_detach [details] (each detach;
 * a closing attached session, before on_leave). The spec's heading spells the second `on_detatch`:
 * the topic is wamp.session.on_detach, as in the spec's text and the feature's issue.
 */
import type { Dict } from '@switchboard/schemas';
import { CloseUri, ErrorUri, WampError, isValidUri } from '@switchboard/schemas';
import type { Realm } from '../realm.js';
import type { Endpoint } from '../core/endpoint.js';
import type { PluginScope } from '../realm-hooks.js';
import { isListed, sessionDetails } from '../core/sessions.js';
import { idArg, optionalStringList, stringArg } from './args.js';

/** kwargs `reason` (a URI, sent as GOODBYE.Reason; default wamp.close.normal) and `message`. */
function killOptions(kwargs: Dict): { reason: string; message: string } {
  const reason = kwargs['reason'] ?? CloseUri.Normal;
  if (typeof reason !== 'string' || !isValidUri(reason)) throw new WampError(ErrorUri.InvalidUri, [`reason must be a URI, got ${JSON.stringify(reason)}`]);
  const message = kwargs['message'] ?? '';
  if (typeof message !== 'string') throw new WampError(ErrorUri.InvalidArgument, ['message must be a string']);
  return { reason, message };
}

function kill(session: Endpoint, reason: string, message: string, silent = false, resumable = false): void {
  session.goodbye(reason, message, () => undefined, { silent, resumable });
}

/**
 * wamp.session.kill's kwarg `resumable` (a Switchboard extension): true pauses a resumable target
 * (GOODBYE {resumable: true}, it detaches) instead of ending it. [ap_session_resumption]
 */
function resumableOption(kwargs: Dict): boolean {
  const resumable = kwargs['resumable'] ?? false;
  if (typeof resumable !== 'boolean') throw new WampError(ErrorUri.InvalidArgument, ['resumable must be a boolean']);
  return resumable;
}

export function installSessionMeta(realm: Realm, scope: PluginScope = realm): void {
  const all = (): Endpoint[] => [...realm.sessions.values()].filter(isListed);
  const others = (caller: Endpoint): Endpoint[] => all().filter((s) => s !== caller);
  const filtered = (args: unknown[]): Endpoint[] => {
    const roles = optionalStringList(args, 0, 'filter_authroles');
    const sessions = all();
    return roles === undefined ? sessions : sessions.filter((s) => s.identity !== undefined && roles.includes(s.identity.authrole));
  };

  // On a cluster node, sessions on the other nodes count too (the cluster's session registry).
  const remote = (args: unknown[]): Dict[] => {
    const sessions = realm.hooks.remoteSessions();
    const roles = optionalStringList(args, 0, 'filter_authroles');
    return roles === undefined ? sessions : sessions.filter((d) => typeof d['authrole'] === 'string' && roles.includes(d['authrole']));
  };
  /** On a cluster node: closes the matching sessions of the other nodes; how many. */
  const killRemote = (match: (details: Dict) => boolean, reason: string, message: string, silent = false): number => {
    let count = 0;
    for (const details of realm.hooks.remoteSessions()) {
      if (match(details) && realm.hooks.killRemote(details['session'] as number, reason, message, silent)) count++;
    }
    return count;
  };
  scope.procedure('wamp.session.count', (_caller, args) => ({ args: [filtered(args).length + remote(args).length] }));
  scope.procedure('wamp.session.list', (_caller, args) => ({ args: [[...filtered(args).map((s) => s.id), ...remote(args).map((d) => d['session'])]] }));
  scope.procedure('wamp.session.get', (_caller, args) => {
    const id = idArg(args, 0, 'session');
    const session = realm.sessions.get(id as Endpoint['id']);
    if (session === undefined || !isListed(session)) {
      const remote = realm.hooks.remoteSession(id);
      if (remote !== undefined) return { args: [remote] };
      throw new WampError(ErrorUri.NoSuchSession, [`no session ${id} in this realm`]);
    }
    return { args: [sessionDetails(session)] };
  });
  scope.procedure('wamp.session.kill', (caller, args, kwargs) => {
    const id = idArg(args, 0, 'session');
    const session = realm.sessions.get(id as Endpoint['id']);
    if (session === undefined || !isListed(session)) {
      // A session on another cluster node is closed by its node.
      const { reason, message } = killOptions(kwargs);
      if (realm.hooks.killRemote(id, reason, message)) return undefined;
      throw new WampError(ErrorUri.NoSuchSession, [`no session ${id} in this realm`]);
    }
    // [ap_session_meta_api] the caller's own ID is treated like an unknown one.
    if (session === caller) throw new WampError(ErrorUri.NoSuchSession, ['a session cannot kill itself: leave instead']);
    const { reason, message } = killOptions(kwargs);
    kill(session, reason, message, false, resumableOption(kwargs));
    return undefined;
  });
  scope.procedure('wamp.session.kill_by_authid', (caller, args, kwargs) => {
    const authid = stringArg(args, 0, 'authid');
    const { reason, message } = killOptions(kwargs);
    const killed = others(caller).filter((s) => s.identity?.authid === authid);
    for (const s of killed) kill(s, reason, message);
    return { args: [killed.length + killRemote((d) => d['authid'] === authid, reason, message)] };
  });
  scope.procedure('wamp.session.kill_by_authrole', (caller, args, kwargs) => {
    const authrole = stringArg(args, 0, 'authrole');
    const { reason, message } = killOptions(kwargs);
    const killed = others(caller).filter((s) => s.identity?.authrole === authrole);
    for (const s of killed) kill(s, reason, message);
    return { args: [killed.length + killRemote((d) => d['authrole'] === authrole, reason, message)] };
  });
  scope.procedure('wamp.session.kill_all', (caller, _args, kwargs) => {
    const { reason, message } = killOptions(kwargs);
    const killed = others(caller);
    // [ap_session_meta_api] kill_all "will not generate session meta events or testament events".
    for (const s of killed) kill(s, reason, message, true);
    return { args: [killed.length + killRemote(() => true, reason, message, true)] };
  });

  scope.observe({
    onAttach(session, resumed) {
      if (isListed(session) && realm.pubsub.wantsEvent('wamp.session.on_attach'))
        realm.pubsub.publishFromRouter('wamp.session.on_attach', [{ ...sessionDetails(session), resumed }]);
    },
    onDetach(session) {
      if (!isListed(session) || !realm.pubsub.wantsEvent('wamp.session.on_detach')) return;
      const details = sessionDetails(session);
      // A resumable session closing detaches too: the event says it has no transport now.
      if (details['attached'] !== undefined) details['attached'] = false;
      realm.pubsub.publishFromRouter('wamp.session.on_detach', [details]);
    },
    onJoin(session) {
      if (isListed(session) && realm.pubsub.wantsEvent('wamp.session.on_join'))
        realm.pubsub.publishFromRouter('wamp.session.on_join', [sessionDetails(session)]);
    },
    onLeave(session, silent) {
      if (!silent && isListed(session) && realm.pubsub.wantsEvent('wamp.session.on_leave')) {
        realm.pubsub.publishFromRouter('wamp.session.on_leave', [session.id, session.identity?.authid, session.identity?.authrole]);
      }
    },
  });
}
