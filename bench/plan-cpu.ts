/**
 * node dist/bench/plan-cpu.js [--hosts 10,100,300] [--reps 5]: the control machine's CPU cost of planning
 * (preflight and every task of each host's playbooks, with the whole fleet's facts, as the engine plans),
 * per host, at several fleet sizes. The fleet is synthetic (test/support/facts-builder.ts): N copies of
 * the tutorial's R630 balancer, all needing the same DPDK and DPVS build, so every host is in one
 * build-once group (the case where a per-host scan of the fleet costs most). No SSH, no lab.
 *
 * Each repetition is a fresh plan run (a new Fleet, as planFleet builds one per run); the table
 * gives the median of the repetitions: CPU time (user + system, process.cpuUsage) and wall time of the
 * whole plan per host, and the CPU time of the build-once decisions alone (DPDK build role and DPVS
 * provisioning of every host, the part that scanned the fleet per host). Prints a markdown table.
 */
import { performance } from 'node:perf_hooks';
import type { Facts } from '../src/facts/types.js';
import type { ResolvedHost } from '../src/inventory/types.js';
import { planHost } from '../src/plan/planner.js';
import { runPreflight } from '../src/preflight/index.js';
import { tasksForRoles } from '../src/run/playbooks.js';
import { hostFingerprint } from '../src/run/fingerprint.js';
import { buildDecision } from '../src/tasks/dpdk/build-role.js';
import { COMPILER_OUTPUT } from '../src/tasks/dpdk/stamp.js';
import { provisionOf, releaseOf } from '../src/tasks/dpvs/release.js';
import { inventoryOf, r630, r630Host } from '../test/support/facts-builder.js';
import { fleetOf } from '../src/plan/fleet.js';

const SHA = 'a'.repeat(64);

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function syntheticFleet(n: number): { hosts: ResolvedHost[]; facts: Facts[] } {
  const hosts: ResolvedHost[] = [];
  const facts: Facts[] = [];
  const base = r630().output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n').build();
  for (let i = 1; i <= n; i++) {
    hosts.push(
      r630Host({
        name: `lb${String(i).padStart(3, '0')}`,
        address: `10.0.${i >> 8}.${i & 255}`,
        dpvs: { version: '1.9.10', source: { url: 'http://mirror/dpvs-1.9.10.tar.gz', sha256: SHA } },
        dpdk: {
          version: '20.11.10',
          source: { url: 'http://mirror/dpdk-20.11.10.tar.xz', sha256: SHA },
          driver: 'uio_pci_generic',
        },
      }),
    );
    facts.push(structuredClone(base));
  }
  return { hosts, facts };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Run {
  cpuMs: number;
  wallMs: number;
  changes: number;
}

function planRun(hosts: ResolvedHost[], facts: Facts[]): Run {
  const inventory = inventoryOf(hosts);
  const byName = new Map(hosts.map((h, i) => [h.name, facts[i] as Facts]));
  const fleet = fleetOf(inventory, byName);
  const tasks = tasksForRoles(['balancer']);
  let changes = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  for (const h of hosts) {
    const p = planHost({
      host: h,
      inventory,
      facts: byName.get(h.name) as Facts,
      fleet,
      tasks,
      preflight: runPreflight,
      fingerprint: hostFingerprint,
    });
    changes += p.changes.length;
  }
  return { cpuMs: cpuMs() - c0, wallMs: performance.now() - t0, changes };
}

/** The build-once decisions of every host of one plan run, alone. */
function decisionsRun(hosts: ResolvedHost[], facts: Facts[]): number {
  const inventory = inventoryOf(hosts);
  const byName = new Map(hosts.map((h, i) => [h.name, facts[i] as Facts]));
  const fleet = fleetOf(inventory, byName);
  const releases = hosts.map((h) => releaseOf(h, inventory));
  const c0 = cpuMs();
  hosts.forEach((h, i) => {
    const f = byName.get(h.name) as Facts;
    buildDecision({ host: h, inventory, facts: f, fleet });
    provisionOf(h, fleet, f, releases[i] as ReturnType<typeof releaseOf>);
  });
  return cpuMs() - c0;
}

function main(): void {
  const sizes = arg('--hosts', '10,100,300').split(',').map(Number);
  const reps = Number(arg('--reps', '5'));
  const rows: string[] = [
    '| hosts | plan CPU ms per host | plan wall ms per host | build-once decisions CPU ms per host | changes per host |',
    '|---:|---:|---:|---:|---:|',
  ];
  // warm-up: JIT and module caches, so the first size is not charged for them
  const warm = syntheticFleet(10);
  planRun(warm.hosts, warm.facts);
  decisionsRun(warm.hosts, warm.facts);
  for (const n of sizes) {
    const { hosts, facts } = syntheticFleet(n);
    const runs: Run[] = [];
    const decisions: number[] = [];
    for (let r = 0; r < reps; r++) {
      runs.push(planRun(hosts, facts));
      decisions.push(decisionsRun(hosts, facts));
    }
    const per = (xs: number[]): string => (median(xs) / n).toFixed(3);
    rows.push(
      `| ${n} | ${per(runs.map((r) => r.cpuMs))} | ${per(runs.map((r) => r.wallMs))} | ${per(decisions)} | ` +
        `${((runs[0]?.changes ?? 0) / n).toFixed(1)} |`,
    );
  }
  process.stdout.write(
    `node ${process.version}, ${new Date().toISOString().slice(0, 10)}, median of ${reps} plan runs\n\n${rows.join('\n')}\n`,
  );
}

main();
