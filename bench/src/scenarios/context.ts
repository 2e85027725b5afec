/** What every scenario gets from the orchestrator, and the start-measure-stop wrapper they share. */
import type { BenchOptions, PayloadVariant } from '../options.js';
import { variantLabel } from '../options.js';
import type { Metric, Result, ScenarioName } from '../results.js';
import { startTarget } from '../targets.js';
import type { Target, TargetName, TargetOptions } from '../targets.js';
import type { LoadTiming } from './load.js';

export interface ScenarioContext {
  options: BenchOptions;
  benchDist: string;
  targetOptions: TargetOptions;
  /** Progress lines (stderr), so stdout keeps only the table. */
  log(line: string): void;
  /** False once the run's time budget is spent: remaining cases are skipped. */
  hasTime(): boolean;
}

export interface Measured {
  values: Partial<Record<Metric, number>>;
  notes?: string[];
  problems?: string[];
  rssDeltaSeries?: Result['rssDeltaSeries'];
}

export function timing(ctx: ScenarioContext, overrides?: Partial<LoadTiming>): LoadTiming {
  return {
    warmupMs: ctx.options.warmupMs,
    measureMs: ctx.options.measureMs,
    drainMs: 500,
    setupTimeoutMs: 60_000,
    ...overrides,
  };
}

/**
 * Starts `targetName` (fresh process, fresh port), runs `measure` against it, stops it. A failure
 * becomes a Result with `error`, so one broken case does not end the run.
 */
export async function measureOn(
  ctx: ScenarioContext,
  scenario: ScenarioName,
  caseName: string,
  targetName: TargetName,
  extra: Partial<TargetOptions>,
  measure: (target: Target) => Promise<Measured>,
): Promise<Result> {
  const result: Result = { scenario, case: caseName, target: targetName, values: {}, ratios: {}, notes: [], problems: [] };
  if (!ctx.hasTime()) {
    result.error = 'skipped: time budget spent';
    return result;
  }
  ctx.log(`${scenario} ${caseName} on ${targetName} …`);
  let target: Target | undefined;
  try {
    target = await startTarget(targetName, { ...ctx.targetOptions, ...extra });
    const measured = await measure(target);
    result.values = measured.values;
    result.notes.push(...(measured.notes ?? []));
    result.problems.push(...(measured.problems ?? []));
    if (measured.rssDeltaSeries !== undefined) result.rssDeltaSeries = measured.rssDeltaSeries;
    // Targets run quiet (the router at --log-level warn), so anything printed is worth reading.
    const printed = target.output().trim();
    if (printed !== '') result.problems.push(`target printed: ${printed.slice(-600)}`);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    const output = target?.output().trim();
    if (output) result.problems.push(`target output: ${output.slice(-1000)}`);
    ctx.log(`  failed: ${result.error}`);
  } finally {
    await target?.stop();
  }
  return result;
}

/**
 * measureOn for one payload variant: the row carries its group (the case without the variant),
 * size and serializer for the growth summary; fox speaks JSON only and skips other serializers.
 */
export async function measureVariant(
  ctx: ScenarioContext,
  scenario: ScenarioName,
  group: string,
  v: PayloadVariant,
  targetName: TargetName,
  measure: (target: Target) => Promise<Measured>,
): Promise<Result> {
  const caseName = `${group}${variantLabel(ctx.options, v)}`;
  const tag = { group, payloadBytes: v.payloadBytes, serializer: v.serializer };
  if (targetName === 'fox' && v.serializer !== 'json') {
    return {
      scenario,
      case: caseName,
      target: targetName,
      ...tag,
      error: 'skipped: fox-wamp speaks JSON only',
      values: {},
      ratios: {},
      notes: [],
      problems: [],
    };
  }
  return { ...(await measureOn(ctx, scenario, caseName, targetName, {}, measure)), ...tag };
}
