/**
 * `npm run fuzz [-- --frames N --seed S --layers a,b --minutes M --stall-ms T --out DIR]`: a
 * bounded campaign against a child-process router on loopback; prints the report and writes the
 * crashes (stack, candidate shots, reproducer) to DIR (default fuzz/findings/). Exit code 1 when
 * the router crashed, stalled or a witness failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CampaignReport } from './campaign.js';
import { runCampaign } from './campaign.js';
import { KNOWN_UNFIXED } from './known.js';
import type { LayerName } from './layers/shot.js';
import { LAYER_NAMES, isLayerName } from './layers/shot.js';
import { REPO_ROOT, killRouters } from './target.js';

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killRouters();
    process.exit(130);
  });
}

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    layers: { type: 'string', default: LAYER_NAMES.join(',') },
    minutes: { type: 'string', default: '15' },
    'stall-ms': { type: 'string', default: '100' },
    'skip-known': { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO_ROOT, 'fuzz/findings') },
  },
});

const layers = values.layers.split(',').filter((l): l is LayerName => {
  if (!isLayerName(l)) throw new Error(`unknown layer '${l}' (${LAYER_NAMES.join(', ')})`);
  return true;
});

const mb = (n: number | undefined): string => (n === undefined ? '?' : `${(n / 1024 / 1024).toFixed(1)} MiB`);

export function formatReport(r: CampaignReport): string {
  const stalls = r.probe.reduce((s, p) => s + p.stalls, 0);
  const worst = Math.max(0, ...r.probe.map((p) => p.worstLoopDelayMs));
  const health = Math.max(0, ...r.probe.map((p) => p.healthWorstMs));
  const healthP99 = Math.max(0, ...r.probe.map((p) => p.healthP99Ms));
  const witnessFailures = r.witnesses.flatMap((w) => w.failures);
  const lines = [
    `seed ${r.seed}: ${r.totalFrames} frames in ${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round((r.totalFrames * 1000) / r.elapsedMs)} frames/s)`,
    `frames per layer: ${Object.entries(r.framesSent)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}${r.disabledGenerators.length > 0 ? ` (generators off: ${r.disabledGenerators.join(', ')})` : ''}`,
    `router crashes: ${[...r.crashCounts.values()].reduce((a, b) => a + b, 0)} (${r.crashCounts.size} distinct)`,
    ...[...r.crashCounts].map(([sig, n]) => `  ${n}× ${sig}`),
    `event-loop stalls > threshold: ${stalls} (worst event-loop delay inside the router ${worst.toFixed(1)} ms; /health worst ${health.toFixed(1)} ms, p99 ${healthP99.toFixed(1)} ms)`,
    `witness sessions: ${witnessFailures.length === 0 ? 'ok' : 'FAILED'} (last run: ${r.witnesses.map((w) => `${w.eventsSeen}/${w.published} events, ${w.answers}/${w.calls} answers, ${w.hooksOk}/${w.hooks} webhook POSTs`).join('; ')})`,
    ...witnessFailures.map((f) => `  ${f}`),
    `router RSS: before ${mb(r.rssBeforeBytes)}, after ${mb(r.rssAfterBytes)}${r.crashes.length > 0 ? ' (after the last restart)' : ''}`,
  ];
  if (r.sinkCloses.size > 0) lines.push('sink sessions closed by the router:', ...[...r.sinkCloses].map(([why, n]) => `  ${n}× ${why}`));
  return lines.join('\n');
}

const report = await runCampaign({
  frames: Number(values.frames),
  seed: Number(values.seed),
  layers,
  timeLimitMs: Number(values.minutes) * 60_000,
  stallMs: Number(values['stall-ms']),
  disabledGenerators: values['skip-known'] ? KNOWN_UNFIXED.map((k) => k.generator) : [],
  minimize: true,
  log: (line) => process.stderr.write(`[fuzz] ${line}\n`),
});

console.log(formatReport(report));
if (report.crashes.length > 0) {
  mkdirSync(values.out, { recursive: true });
  report.crashes.forEach((c, i) => {
    const file = join(values.out, `crash-${report.seed}-${i + 1}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        {
          signature: c.signature,
          stderr: c.stderr,
          reproducer: c.reproducer?.dump(),
          reproducerText: c.reproducer?.describe(),
          candidates: c.candidates.map((s) => s.dump()),
        },
        null,
        1,
      ),
    );
    console.log(`crash ${i + 1}: ${c.signature}\n  reproducer: ${c.reproducer?.describe() ?? '(none found alone)'}\n  details: ${file}`);
  });
}
if (report.stalls.length > 0) {
  mkdirSync(values.out, { recursive: true });
  const file = join(values.out, `stalls-${report.seed}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      report.stalls.map((s) => ({
        ms: s.ms,
        culprits: s.culprits?.map((c) => ({ ms: c.ms, shot: c.shot.dump(), text: c.shot.describe() })),
        candidates: s.candidates.map((c) => c.describe()),
      })),
      null,
      1,
    ),
  );
  for (const c of report.stalls.flatMap((s) => s.culprits ?? [])) console.log(`stall ${c.ms.toFixed(0)} ms alone: ${c.shot.describe()}`);
  console.log(`stalls: the shots sent around each are in ${file}`);
}
const failed = report.crashes.length > 0 || report.probe.some((p) => p.stalls > 0) || report.witnesses.some((w) => w.failures.length > 0);
process.exitCode = failed ? 1 : 0;
