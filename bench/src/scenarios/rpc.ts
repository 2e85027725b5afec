/**
 * RPC: K callers, each keeping a window of calls in flight, one callee (its own process) that
 * echoes the arguments. Measures calls per second, call → result latency and the target's CPU per
 * call (a call is 4 messages through the router: CALL, INVOCATION, YIELD, RESULT).
 */
import type { Job } from '../ipc.js';
import { payloadVariants, transportTargets } from '../options.js';
import type { Result } from '../results.js';
import { REALM } from '../targets.js';
import type { ScenarioContext } from './context.js';
import { measureVariant, timing } from './context.js';
import { runFigures, runLoad, split, total } from './load.js';

const PROCEDURE = 'bench.echo';
const CALLERS_PER_PROCESS = 25;
const MAX_PROCESSES = 2;

export async function rpc(ctx: ScenarioContext): Promise<Result[]> {
  const results: Result[] = [];
  const o = ctx.options;
  for (const k of o.rpcCallers) {
    for (const v of payloadVariants(o)) {
      for (const targetName of transportTargets(o)) {
        results.push(
          await measureVariant(ctx, 'rpc', `K=${k}`, v, targetName, async (target) => {
            const endpoint = { url: target.url, realm: REALM, deflate: target.deflate, serializer: v.serializer };
            const callee: Job = { kind: 'callee', endpoint, procedure: PROCEDURE };
            const callers: Job[] = split(k, Math.min(MAX_PROCESSES, Math.ceil(k / CALLERS_PER_PROCESS))).map((count) => ({
              kind: 'callers',
              endpoint,
              procedure: PROCEDURE,
              callers: count,
              window: o.rpcWindow,
              payloadBytes: v.payloadBytes,
              payloadKind: o.payloadKind,
            }));
            const run = await runLoad(ctx.benchDist, target, [[callee], callers], timing(ctx));
            const callsPerSec = total(run.reports, 'callers', 'receivedInWindow') / run.windowS;
            return {
              values: {
                callsPerSec,
                ...runFigures(run, 'callers', callsPerSec),
                sessionsLost: total(run.reports, 'callers', 'sessionsLost') + total(run.reports, 'callee', 'sessionsLost'),
                errors: total(run.reports, 'callers', 'errors'),
              },
              notes: [`${o.rpcWindow} calls in flight per caller`],
              problems: run.problems,
            };
          }),
        );
      }
    }
  }
  return results;
}
