/**
 * node dist/bench/phases.js INVENTORY [--forks N] [--dump-facts FILE]: where a no-op `plan` spends its time. Runs what
 * `plan` runs (src/cli/session.ts, src/cli/commands.ts) with a clock and a CPU meter around each
 * phase: inventory load, SSH connect (TCP + handshake + auth), probe exec (round trip; the probe's own
 * time on the host is measured by the probe itself), parsing, planning (preflight + tasks), rendering.
 * Connect and probe overlap across hosts (forks wide), so they are reported as wall time of the phase
 * over all hosts plus per-host medians; parse, plan and render are synchronous and measured exactly.
 * Prints one JSON document.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseProbeOutput, mergeRequests, probeScript } from '../src/facts/probe.js';
import type { Facts } from '../src/facts/types.js';
import { loadInventory } from '../src/inventory/load.js';
import { planHost } from '../src/plan/planner.js';
import { preflightProbe, runPreflight } from '../src/preflight/index.js';
import { mapLimit } from '../src/run/pool.js';
import { hostFingerprint } from '../src/run/fingerprint.js';
import { tasksForRoles } from '../src/run/playbooks.js';
import { makeStyle } from '../src/cli/views/style.js';
import { renderHostPlan, renderPlanSummary } from '../src/cli/views/plan.js';
import { connectHost } from '../src/transport/connect.js';
import type { Transport } from '../src/transport/types.js';
import { median } from './measure.js';
import { fleetOf } from '../src/plan/fleet.js';

export interface Phases {
  hosts: number;
  forks: number;
  loadMs: number;
  /** first connect started → last host connected */
  connectWallMs: number;
  connectMedianMs: number;
  /** CPU of this process (user + system) while connecting */
  connectCpuMs: number;
  /** last host connected → last probe output received (hosts probe as soon as each is connected) */
  probeWallMs: number;
  probeRoundTripMedianMs: number;
  /** the probe script's own run time on the host (probe_ns), median over hosts */
  probeOnHostMedianMs: number;
  /** connect start → all probed */
  networkWallMs: number;
  networkCpuMs: number;
  parseMs: number;
  planMs: number;
  renderMs: number;
  closeMs: number;
  totalMs: number;
  changes: number;
  errors: number;
}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: phases INVENTORY [--forks N]');
  const fi = process.argv.indexOf('--forks');
  const t0 = performance.now();
  const inv = await loadInventory(file);
  const forks = fi > 0 ? Number(process.argv[fi + 1]) : inv.hosts.length;
  const tLoad = performance.now();
  const scripts = new Map(
    inv.hosts.map((h) => {
      const tasks = tasksForRoles(h.roles);
      const req = mergeRequests([preflightProbe(h, inv), ...tasks.map((t) => t.probe?.(h, inv) ?? {})]);
      return [h.name, probeScript(req)];
    }),
  );
  const connectMs: number[] = [];
  const probeMs: number[] = [];
  const outputs = new Map<string, string>();
  const transports = new Map<string, Transport>();
  let lastConnected = 0;
  let cpuAtLastConnect: NodeJS.CpuUsage = process.cpuUsage();
  const cpu0 = process.cpuUsage();
  const tNet = performance.now();
  let errors = 0;
  await mapLimit(inv.hosts, forks, async (h) => {
    try {
      const a = performance.now();
      const t = await connectHost(h, { inventoryDir: inv.dir });
      transports.set(h.name, t);
      const b = performance.now();
      connectMs.push(b - a);
      if (b > lastConnected) {
        lastConnected = b;
        cpuAtLastConnect = process.cpuUsage();
      }
      const r = await t.exec('sh -s', { stdin: scripts.get(h.name) ?? '', timeoutMs: 300_000 });
      probeMs.push(performance.now() - b);
      outputs.set(h.name, r.stdout);
    } catch (e) {
      errors++;
      process.stderr.write(`${h.name}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  });
  const tProbed = performance.now();
  const netCpu = cpuMs(process.cpuUsage(cpu0));
  const connectCpu = cpuMs(process.cpuUsage(cpu0)) - cpuMs(process.cpuUsage(cpuAtLastConnect));

  const facts = new Map<string, Facts>();
  for (const [h, out] of outputs) facts.set(h, parseProbeOutput(out));
  const tParsed = performance.now();

  const fleet = fleetOf(inv, facts);
  const plans = inv.hosts
    .filter((h) => facts.has(h.name))
    .map((h) =>
      planHost({
        host: h,
        inventory: inv,
        facts: facts.get(h.name) as Facts,
        fleet,
        tasks: tasksForRoles(h.roles),
        preflight: runPreflight,
        fingerprint: hostFingerprint,
      }),
    );
  const tPlanned = performance.now();
  const style = makeStyle(false);
  const text = plans
    .map((p) =>
      renderHostPlan(
        p,
        inv.hosts.find((h) => h.name === p.host),
        { diffs: true, style },
      ),
    )
    .join('\n');
  const summary = renderPlanSummary(plans, style);
  const tRendered = performance.now();
  await Promise.all([...transports.values()].map((t) => t.close()));
  const tClosed = performance.now();

  const onHost = [...facts.values()].map((f) => f.probeMs);
  const result: Phases = {
    hosts: inv.hosts.length,
    forks,
    loadMs: tLoad - t0,
    connectWallMs: lastConnected - tNet,
    connectMedianMs: median(connectMs),
    connectCpuMs: connectCpu,
    probeWallMs: tProbed - lastConnected,
    probeRoundTripMedianMs: median(probeMs),
    probeOnHostMedianMs: median(onHost),
    networkWallMs: tProbed - tNet,
    networkCpuMs: netCpu,
    parseMs: tParsed - tProbed,
    planMs: tPlanned - tParsed,
    renderMs: tRendered - tPlanned,
    closeMs: tClosed - tRendered,
    totalMs: tClosed - t0,
    changes: plans.reduce((s, p) => s + p.changes.length, 0),
    errors,
  };
  // keep the rendered text alive so rendering is not optimized away; its size is a useful number too
  process.stderr.write(`rendered ${text.length + summary.length} characters\n`);
  const di = process.argv.indexOf('--dump-facts');
  const dump = di > 0 ? process.argv[di + 1] : undefined;
  if (dump) writeFileSync(dump, JSON.stringify(Object.fromEntries(facts)) + '\n');
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
