/**
 * node dist/bench/plan-scale.js FACTS.json [--hosts 10,50,100,200]: the control side's own cost of a
 * plan at fleet sizes the lab cannot probe quickly. FACTS.json is the facts of a lab run
 * (bench/phases.ts --dump-facts, lbN → Facts). For each size it writes the bench inventory of that many
 * lab balancers, gives host i the facts of a probed host of the same lab variant (the lab cycles
 * balancers through two variants by index), and times planning (preflight + every task, with the whole
 * fleet's facts, as the engine does) and rendering. No SSH, no lab needed. Prints JSON lines.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Facts } from '../src/facts/types.js';
import { loadInventory } from '../src/inventory/load.js';
import { planHost } from '../src/plan/planner.js';
import { runPreflight } from '../src/preflight/index.js';
import { tasksForRoles } from '../src/run/playbooks.js';
import { hostFingerprint } from '../src/run/fingerprint.js';
import { makeStyle } from '../src/cli/views/style.js';
import { renderHostPlan, renderPlanSummary } from '../src/cli/views/plan.js';
import { labPaths } from '../test/lab/paths.js';
import { labProfiles } from '../test/lab/profiles.js';
import { writeBenchInventory } from './targets.js';
import { fleetOf } from '../src/plan/fleet.js';

export interface PlanScale {
  hosts: number;
  changes: number;
  loadMs: number;
  planMs: number;
  planPerHostMs: number;
  renderMs: number;
}

async function main(): Promise<void> {
  const factsFile = process.argv[2];
  if (!factsFile) throw new Error('usage: plan-scale FACTS.json [--hosts 10,50,100,200]');
  const hi = process.argv.indexOf('--hosts');
  const sizes = (hi > 0 ? (process.argv[hi + 1] ?? '') : '10,50,100,200').split(',').map(Number);
  const probed = JSON.parse(readFileSync(factsFile, 'utf8')) as Record<string, Facts>;
  const names = Object.keys(probed)
    .map((n) => Number(n.replace(/^lb/, '')))
    .sort((a, b) => a - b);
  const work = mkdtempSync(join(tmpdir(), 'dd-plan-scale-'));
  try {
    for (const n of sizes) {
      const inv = join(work, `inventory-${n}.yaml`);
      writeBenchInventory(inv, labProfiles({ balancers: n, realservers: 0 }), labPaths());
      const t0 = performance.now();
      const loaded = await loadInventory(inv);
      const t1 = performance.now();
      const fleet = new Map<string, Facts>();
      for (const [i, h] of loaded.hosts.entries()) {
        // same variant (index parity) as host i of the probed lab
        const src = names.find((k) => (k - 1) % 2 === i % 2);
        const f = src === undefined ? undefined : probed[`lb${src}`];
        if (f) fleet.set(h.name, f);
      }
      const t2 = performance.now();
      const shared = fleetOf(loaded, fleet);
      const plans = loaded.hosts
        .filter((h) => fleet.has(h.name))
        .map((h) =>
          planHost({
            host: h,
            inventory: loaded,
            facts: fleet.get(h.name) as Facts,
            fleet: shared,
            tasks: tasksForRoles(h.roles),
            preflight: runPreflight,
            fingerprint: hostFingerprint,
          }),
        );
      const t3 = performance.now();
      const style = makeStyle(false);
      let chars = 0;
      for (const p of plans)
        chars += renderHostPlan(
          p,
          loaded.hosts.find((h) => h.name === p.host),
          { diffs: true, style },
        ).length;
      chars += renderPlanSummary(plans, style).length;
      const t4 = performance.now();
      const r: PlanScale = {
        hosts: n,
        changes: plans.reduce((s, p) => s + p.changes.length, 0),
        loadMs: t1 - t0,
        planMs: t3 - t2,
        planPerHostMs: (t3 - t2) / n,
        renderMs: t4 - t3,
      };
      process.stderr.write(`rendered ${chars} characters\n`);
      process.stdout.write(JSON.stringify(r) + '\n');
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
