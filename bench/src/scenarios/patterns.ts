/**
 * Pattern-based subscriptions: what 10 000 pattern subscriptions in the realm cost the router per
 * delivered EVENT. Two runs on fresh Switchboard processes, same shape, same deliveries per
 * publish:
 *
 * - patterns: one extra generator session subscribes to the near misses (half prefix
 *   `bench.patterns.t.xNNNN`, half wildcard `bench..t.yNNNN`: both follow the published topic
 *   `bench.patterns.t.hot` part of the way, then miss), then six sessions subscribe to one
 *   matching pattern each (3 prefix, 3 wildcard);
 * - control: the same extra session holds as many exact subscriptions (on other topics), and the
 *   six sessions subscribe to the published topic exactly.
 *
 * The publisher is paced as in fan-out (a window of acknowledged PUBLISHes, at most 4 windows
 * ahead of the slowest of the six). The issue's requirement: CPU per delivered EVENT with the
 * patterns within 1.5× of the control's. Switchboard only: the bare ws baselines cannot match
 * patterns, so there is no ×base here.
 */
import { isValidPattern } from '@switchboard/schemas';
import type { Job, SubscriptionSpec } from '../ipc.js';
import { publishWindow } from '../options.js';
import type { Result } from '../results.js';
import { REALM } from '../targets.js';
import type { TargetName } from '../targets.js';
import type { Measured, ScenarioContext } from './context.js';
import { measureOn, timing } from './context.js';
import { fanOutValues } from './fanout.js';
import { runLoad, total } from './load.js';

/** The most patterns/exact may be for CPU per delivered EVENT. */
export const PATTERN_CPU_LIMIT = 1.5;
/** The only targets that can match patterns. */
export const PATTERN_TARGETS: readonly TargetName[] = ['switchboard'];

const TOPIC = 'bench.patterns.t.hot';
/** One subscriber session each; the first is the probe in the publisher's process. */
const MATCHING: readonly SubscriptionSpec[] = [
  { topic: 'bench.patterns.t.h', match: 'prefix' },
  { topic: 'bench.patterns.t.', match: 'prefix' },
  { topic: 'bench.', match: 'prefix' },
  { topic: 'bench..t.hot', match: 'wildcard' },
  { topic: 'bench.patterns..hot', match: 'wildcard' },
  { topic: 'bench...hot', match: 'wildcard' },
];
/** SUBSCRIBEs the extra session keeps awaiting SUBSCRIBED. */
const HOLDER_IN_FLIGHT = 256;

interface PatternCase {
  /** control: all exact; bare: the matching patterns alone; misses: with the near misses (the requirement). */
  role: 'control' | 'bare' | 'misses';
  name: string;
  /** What the extra generator session subscribes to (none: no such session). */
  held: SubscriptionSpec[];
  /** One per subscriber session. */
  matching: SubscriptionSpec[];
}

/** The match rules of the WAMP spec, written out independently of the router's tries. */
export function patternMatches(spec: SubscriptionSpec, topic: string): boolean {
  switch (spec.match) {
    case 'exact':
      return spec.topic === topic;
    case 'prefix':
      return topic.startsWith(spec.topic);
    case 'wildcard': {
      const pattern = spec.topic.split('.');
      const parts = topic.split('.');
      return pattern.length === parts.length && pattern.every((p, i) => p === '' || p === parts[i]);
    }
  }
}

/** `count` near misses, half prefix and half wildcard (or, for the control, exact topics). */
function nearMisses(count: number, patterns: boolean): SubscriptionSpec[] {
  const prefixes = Math.ceil(count / 2);
  const width = Math.max(4, String(prefixes).length);
  const out: SubscriptionSpec[] = [];
  for (let i = 0; i < count; i++) {
    const n = String(Math.floor(i / 2)).padStart(width, '0');
    if (!patterns) out.push({ topic: `bench.patterns.t.${i % 2 === 0 ? 'x' : 'y'}${n}`, match: 'exact' });
    else if (i % 2 === 0) out.push({ topic: `bench.patterns.t.x${n}`, match: 'prefix' });
    else out.push({ topic: `bench..t.y${n}`, match: 'wildcard' });
  }
  return out;
}

/** Fails before anything starts if the subscriptions are not what the scenario claims. */
function check(held: readonly SubscriptionSpec[], matching: readonly SubscriptionSpec[]): void {
  const seen = new Set<string>();
  for (const spec of [...held, ...matching]) {
    const key = `${spec.match} ${spec.topic}`;
    if (seen.has(key)) throw new Error(`patterns: duplicate subscription ${key}`);
    seen.add(key);
    if (!isValidPattern(spec.topic, spec.match, 'strict')) throw new Error(`patterns: invalid ${spec.match} pattern '${spec.topic}'`);
  }
  const hits = held.filter((s) => patternMatches(s, TOPIC));
  if (hits.length > 0) throw new Error(`patterns: ${hits.length} held subscriptions match ${TOPIC}, e.g. ${hits[0]!.match} '${hits[0]!.topic}'`);
  const misses = matching.filter((s) => !patternMatches(s, TOPIC));
  if (misses.length > 0) throw new Error(`patterns: ${misses[0]!.match} '${misses[0]!.topic}' does not match ${TOPIC}`);
}

export async function patterns(ctx: ScenarioContext): Promise<Result[]> {
  const o = ctx.options;
  const skipped = o.targets.filter((t) => !PATTERN_TARGETS.includes(t));
  const targets = o.targets.filter((t) => PATTERN_TARGETS.includes(t));
  if (skipped.length > 0) ctx.log(`patterns: runs on ${PATTERN_TARGETS.join(', ')} only, not ${skipped.join(', ')} (no pattern matching there)`);
  const misses = o.patternMisses;
  const exact = MATCHING.map((): SubscriptionSpec => ({ topic: TOPIC, match: 'exact' }));
  const cases: PatternCase[] = [
    { role: 'control', name: `exact ×${MATCHING.length} (control)`, held: nearMisses(misses, false), matching: exact },
    { role: 'bare', name: `patterns ×${MATCHING.length}, no misses`, held: [], matching: [...MATCHING] },
    { role: 'misses', name: `patterns ×${MATCHING.length} + ${misses} misses`, held: nearMisses(misses, true), matching: [...MATCHING] },
  ];
  for (const c of cases)
    check(
      c.held,
      c.matching.filter((s) => s.match !== 'exact'),
    );
  const n = MATCHING.length;
  const { window, maxLead } = publishWindow(o, n);

  const results: Result[] = [];
  for (const targetName of targets) {
    const pair: Result[] = [];
    for (const c of cases) {
      pair.push(
        await measureOn(ctx, 'patterns', c.name, targetName, {}, async (target): Promise<Measured> => {
          const endpoint = { url: target.url, realm: REALM, deflate: target.deflate };
          const [probe, ...rest] = c.matching;
          const holder: Job = { kind: 'holder', endpoint, subscriptions: c.held, inFlight: HOLDER_IN_FLIGHT };
          const subscribers: Job = {
            kind: 'subscribers',
            endpoint,
            topic: TOPIC,
            sessions: rest.length,
            pause: false,
            reportProgress: true,
            connectConcurrency: rest.length,
            patterns: rest,
          };
          const publisher: Job = {
            kind: 'publisher',
            endpoint,
            topic: TOPIC,
            mode: { kind: 'window', window, maxLead },
            payloadBytes: o.payloadBytes,
            probe: true,
            pacedByProgress: true,
            ...(probe === undefined ? {} : { probeSubscription: probe }),
          };
          const phases = c.held.length > 0 ? [[holder], [subscribers], [publisher]] : [[subscribers], [publisher]];
          const run = await runLoad(ctx.benchDist, target, phases, timing(ctx));
          const setupMs = run.reports.find((r) => r.kind === 'holder')?.connectMs ?? Number.NaN;
          const stray = total(run.reports, 'holder', 'received');
          const wrongTopic = total(run.reports, 'subscribers', 'errors');
          const problems = [...run.problems];
          if (stray > 0) problems.push(`the session holding the ${c.held.length} non-matching subscriptions got ${stray} EVENTs`);
          if (wrongTopic > 0)
            problems.push(`${wrongTopic} EVENTs with a missing or wrong Details.topic (expected ${TOPIC} for pattern subscriptions, none for exact)`);
          return {
            values: {
              ...fanOutValues(run, n, wrongTopic + total(run.reports, 'publisher', 'errors')),
              heldSubscriptions: c.held.length,
              subscribesPerSec: setupMs > 0 ? (1000 * c.held.length) / setupMs : Number.NaN,
              strayEvents: stray,
              sessionsLost:
                total(run.reports, 'subscribers', 'sessionsLost') +
                total(run.reports, 'publisher', 'sessionsLost') +
                total(run.reports, 'holder', 'sessionsLost'),
            },
            notes: [
              `published topic ${TOPIC}; ${n} subscriber sessions, one subscription each: ${c.matching.map((s) => `${s.match} '${s.topic}'`).join(', ')}`,
              c.held.length === 0
                ? 'no other subscriptions'
                : `one more session holds ${c.held.length} non-matching subscriptions, e.g. ${c.held
                    .slice(0, 2)
                    .map((s) => `${s.match} '${s.topic}'`)
                    .join(', ')}`,
              `window ${window} PUBLISHes, at most ${maxLead} ahead of the slowest subscriber`,
            ],
            problems,
          };
        }),
      );
    }
    // Ratios against the control of the same target and run; the verdict is on the misses case.
    const control = pair[cases.findIndex((c) => c.role === 'control')];
    const controlCpu = control?.error === undefined ? control?.values.cpuUsPerOp : undefined;
    const controlRate = control?.error === undefined ? control?.values.eventsPerSec : undefined;
    if (controlCpu !== undefined && controlRate !== undefined) {
      pair.forEach((r, i) => {
        const cpu = r.values.cpuUsPerOp;
        const rate = r.values.eventsPerSec;
        if (r.error !== undefined || cpu === undefined || rate === undefined) return;
        const ratio = cpu / controlCpu;
        r.values.cpuRatioVsExact = ratio;
        r.values.eventsRatioVsExact = rate / controlRate;
        if (cases[i]?.role !== 'misses' || !Number.isFinite(ratio)) return;
        r.values.cpuLimitMet = ratio <= PATTERN_CPU_LIMIT ? 1 : 0;
        if (ratio > PATTERN_CPU_LIMIT)
          r.problems.push(`CPU per delivered EVENT is ${ratio.toFixed(2)}× the exact control's, over the ${PATTERN_CPU_LIMIT}× limit`);
      });
    }
    results.push(...pair);
  }
  return results;
}
