/** The JetStream history store's stream and subject names (cluster/names.ts; pure). */
import { describe, expect, it } from 'vitest';
import type { MatchPolicy } from '@switchboard/schemas';
import { ClusterNames, token, untoken } from '../../src/cluster/names.js';
import { topicMatcher } from '../../src/broker/subscription-index.js';

const names = new ClusterNames('sb');

describe('history names', () => {
  it('one stream per realm, one subject per topic, and back', () => {
    expect(names.historyStream('realm1')).toBe('sb-history-realm1');
    expect(names.historyStream('my realm')).toBe(`sb-history-${token('my realm')}`);
    expect(names.historySubjects('realm1')).toBe('sb.realm1.h.>');
    expect(names.history('realm1', 'app.chat.room-1')).toBe('sb.realm1.h.app.chat.room-1');
    for (const topic of ['app.chat.room-1', 'a.ü.c', 'x.*.>', 'com.example.a b', 'a.=41.b']) {
      const subject = names.history('my realm', topic);
      expect(subject.split('.').every((t) => t !== '*' && t !== '>' && t !== '' && !t.includes(' '))).toBe(true);
      expect(names.historyTopic('my realm', subject)).toBe(topic);
    }
    expect(untoken(token('=41'))).toBe('=41');
    expect(untoken('plain')).toBe('plain');
  });

  it("no realm's live event subject falls into another realm's history stream, whatever the realms are called", () => {
    // A realm called `history` (or `h`) next to a realm `e`: the live subjects of one must not match the other's stream.
    const realms = ['e', 'h', 'history', 'realm1', 'hb', 'n'];
    const matches = (filter: string, subject: string): boolean => {
      const f = filter.split('.');
      const t = subject.split('.');
      for (let i = 0; i < f.length; i++) {
        if (f[i] === '>') return t.length > i;
        if (i >= t.length || (f[i] !== '*' && f[i] !== t[i])) return false;
      }
      return f.length === t.length;
    };
    for (const a of realms) for (const b of realms) expect(matches(names.historySubjects(a), names.event(b, 'e.app.x')), `${a} / ${b}`).toBe(false);
  });

  it('the narrowest single filter covering a selection', () => {
    expect(names.historyFilter('realm1', 'a.b', 'exact')).toBe('sb.realm1.h.a.b');
    expect(names.historyFilter('realm1', 'a.b', 'prefix')).toBe('sb.realm1.h.a.>');
    expect(names.historyFilter('realm1', 'a.b.', 'prefix')).toBe('sb.realm1.h.a.b.>');
    expect(names.historyFilter('realm1', 'a', 'prefix')).toBe('sb.realm1.h.>');
    expect(names.historyFilter('realm1', 'a..c', 'wildcard')).toBe('sb.realm1.h.a.*.c');
    // The cluster's event subjects are unchanged.
    expect(names.interest('realm1', 'a..c', 'wildcard')).toBe('sb.realm1.e.a.*.c');
  });

  it("matches a topic as the broker does: prefix is a string prefix, a wildcard's empty component one component", () => {
    const matches = (match: MatchPolicy, pattern: string, topic: string): boolean => topicMatcher(match, pattern)(topic);
    expect(matches('exact', 'a.b', 'a.b')).toBe(true);
    expect(matches('exact', 'a.b', 'a.bc')).toBe(false);
    expect(matches('prefix', 'a.b', 'a.bc')).toBe(true);
    expect(matches('prefix', 'a.b', 'a.b.c')).toBe(true);
    expect(matches('prefix', 'a.b', 'a.x')).toBe(false);
    expect(matches('wildcard', 'a..c', 'a.b.c')).toBe(true);
    expect(matches('wildcard', 'a..c', 'a.b.d')).toBe(false);
    expect(matches('wildcard', 'a..c', 'a.b.x.c')).toBe(false);
    expect(matches('wildcard', '.b', 'a.b')).toBe(true);
  });
});
