/**
 * node --expose-gc dist/bench/plan-memory.js INVENTORY [--forks N] [--snapshot FILE]: what the control
 * process keeps while it runs `plan`. It opens the session as `plan` does (src/cli/session.ts: load,
 * connect, probe every host), plans and renders, and prints one JSON line per stage with the process's
 * memory (process.memoryUsage, after a full GC when --expose-gc is given), the peak RSS so far
 * (resourceUsage().maxRSS). `--snapshot FILE`
 * writes a V8 heap snapshot after planning (open it in Chrome's DevTools, Memory tab). No lab needed:
 * any inventory whose hosts answer (bench/realkernel.ts --hold keeps its hosts up for this).
 */
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { openSession } from '../src/cli/session.js';
import { processIo } from '../src/cli/io.js';
import { renderHostPlan } from '../src/cli/views/plan.js';
import { makeStyle } from '../src/cli/views/style.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};

/** The largest values seen by a 100 ms sampler (no GC forced), MB. */
const peaks = { peakHeapTotalMb: 0, peakHeapUsedMb: 0, peakExternalMb: 0 };
setInterval(() => {
  const m = process.memoryUsage();
  peaks.peakHeapTotalMb = Math.max(peaks.peakHeapTotalMb, Math.round(m.heapTotal / 1048576));
  peaks.peakHeapUsedMb = Math.max(peaks.peakHeapUsedMb, Math.round(m.heapUsed / 1048576));
  peaks.peakExternalMb = Math.max(peaks.peakExternalMb, Math.round(m.external / 1048576));
}, 100).unref();

function stage(name: string, extra: Record<string, unknown> = {}): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  const peak = process.resourceUsage().maxRSS;
  gc?.();
  const m = process.memoryUsage();
  const mb = (x: number): number => Math.round((x / 1048576) * 10) / 10;
  process.stdout.write(
    JSON.stringify({
      stage: name,
      gc: !!gc,
      rssMb: mb(m.rss),
      heapUsedMb: mb(m.heapUsed),
      externalMb: mb(m.external),
      arrayBuffersMb: mb(m.arrayBuffers),
      peakRssMb: Math.round(peak / 1024),
      heapTotalMb: mb(m.heapTotal),
      ...peaks,
      ...extra,
    }) + '\n',
  );
}

async function main(): Promise<void> {
  const flags = arg('--v8-flags');
  if (flags) setFlagsFromString(flags);
  const file = process.argv[2];
  if (!file) throw new Error('usage: plan-memory INVENTORY [--forks N] [--snapshot FILE]');
  stage('start');
  const io = { ...processIo(false), err: () => undefined };
  const forks = Number(arg('--forks') ?? '50');
  const s = await openSession(file, 'plan', { forks }, io);
  stage('gathered', { hosts: s.hosts.length, facts: s.engine.facts.size });
  const plans = [...s.engine.plan().values()];
  const style = makeStyle(false);
  let chars = 0;
  for (const p of plans)
    chars += renderHostPlan(
      p,
      s.hosts.find((h) => h.name === p.host),
      { diffs: true, style },
    ).length;
  stage('planned', { plans: plans.length, renderedChars: chars });
  const snap = arg('--snapshot');
  if (snap) writeHeapSnapshot(snap);
  await s.engine.close();
  stage('closed');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
