/**
 * dpvs.conf layout checks: ports configured, and the worker/queue layout against upstream's rules
 * (src/dpvsconf/layout.ts solves `workers: auto`, src/dpvsconf/validate.ts checks upstream's rules).
 */
import { LayoutError, layoutFromInventory, type WorkerAssignment } from '../../dpvsconf/layout.js';
import { impliedQueues, validateLayout } from '../../dpvsconf/validate.js';
import type { PlanContext } from '../../plan/task.js';
import { cpuRanges, finding, type PreflightCheck, listText } from '../check.js';
import { matchNics, resolved } from '../../desired/nic-match.js';
import { configuredQueues, isBalancer, type PortQueues } from '../../desired/settings.js';

export const portsConfigured: PreflightCheck = {
  id: 'CONF-001',
  title: 'balancer has no DPDK ports',
  severity: 'error',
  howToFix: 'List the balancer’s DPDK ports under nics.',
  protects:
    'dpvs with no device blocks exits with "ports in DPDK RTE (n) != ports in dpvs.conf(0)" or "No dpdk ports found".',
  run({ host }) {
    if (!isBalancer(host) || (host.nics ?? []).length > 0) return null;
    return finding(
      'no nics in the inventory for this balancer',
      'at least one DPDK port in nics',
      'list the ports under nics: [{name: dpdk0, match: {pci: 0000:04:00.0}}] (defaults, a group or the host)',
    );
  },
};

interface LayoutPort extends PortQueues {
  numaNode: number;
}

function layoutPorts(ctx: PlanContext): LayoutPort[] {
  return matchNics(ctx.host.nics, ctx.facts).map((r) => {
    const nic = resolved(r);
    return { ...configuredQueues(r.nic), numaNode: nic ? nic.numaNode : -1 };
  });
}

/** The worker assignments the host will run, or why there are none. */
export function plannedLayout(ctx: PlanContext): { workers: WorkerAssignment[] } | { error: string } {
  const { host, facts } = ctx;
  const numa = (facts.numa.length ? facts.numa : [{ id: 0, cpus: facts.cpu.online }]).map((n) => ({
    id: n.id,
    cpus: n.cpus,
  }));
  try {
    return {
      workers: layoutFromInventory(host.workers ?? 'auto', layoutPorts(ctx), {
        numa,
        reservedCpus: host.reserved_cpus ?? [],
      }),
    };
  } catch (e) {
    if (e instanceof LayoutError) return { error: e.message };
    throw e;
  }
}

/**
 * Queue counts per port as dpvs.conf will have them: the inventory's, or (unset) what the layout gives
 * the port; 1 when the layout cannot be made.
 */
export function effectiveQueues(ctx: PlanContext): PortQueues[] {
  const planned = plannedLayout(ctx);
  return (ctx.host.nics ?? []).map((nic) => {
    const q = configuredQueues(nic);
    const implied = 'workers' in planned ? impliedQueues(planned.workers, nic.name) : { rx: 1, tx: 1 };
    return {
      name: nic.name,
      rxQueues: q.rxQueues > 0 ? q.rxQueues : Math.max(1, implied.rx),
      txQueues: q.txQueues > 0 ? q.txQueues : Math.max(1, implied.tx),
    };
  });
}

export const workerLayout: PreflightCheck = {
  id: 'CONF-002',
  title: 'worker/queue layout breaks upstream’s rules',
  severity: 'error',
  howToFix: 'Fix workers / nics[].rx/tx.queues so every queue has exactly one slave (or use workers: auto).',
  protects:
    'dpvs refuses a bad layout at start: "netif_lcore_init: bad lcore configuration (error code: -N)" (duplicate or unassigned queues, unequal port lists, no slave).',
  run(ctx) {
    const { host, facts } = ctx;
    if (!isBalancer(host) || (host.nics ?? []).length === 0) return null;
    const planned = plannedLayout(ctx);
    const auto = host.workers === undefined || host.workers === 'auto';
    if ('error' in planned) {
      return finding(
        `workers${auto ? ': auto' : ''} cannot be laid out: ${planned.error}`,
        'one master and at least one slave, each port queue owned by one slave',
        'lower nics[].rx.queues / tx.queues, shrink reserved_cpus, or give an explicit workers layout',
      );
    }
    const issues = validateLayout(planned.workers, effectiveQueues(ctx), { lcores: facts.cpu.online });
    if (issues.length === 0) return null;
    return finding(
      listText(issues.map((i) => `${i.message} (${i.code === 0 ? i.rule : `upstream error ${i.code}`})`)),
      `one master, ≥1 slave, each port's queues 0..n-1 each on exactly one slave, every slave on the same ports, ` +
        `CPUs among the online ones (${cpuRanges(facts.cpu.online)})`,
      auto
        ? 'give an explicit workers layout (workers: auto produced one upstream rejects; please report it)'
        : 'correct workers (slaves[].ports rx/tx queue ids) or nics[].rx/tx.queues so they agree',
    );
  },
};

export const workersNotReserved: PreflightCheck = {
  id: 'CONF-003',
  title: 'worker on a reserved CPU',
  severity: 'error',
  howToFix: 'Move slave workers off reserved_cpus.',
  protects: 'A busy-polling worker on a CPU reserved for the OS (IRQs, sshd, keepalived) starves it.',
  run({ host }) {
    const w = host.workers;
    const reserved = host.reserved_cpus ?? [];
    if (!isBalancer(host) || w === undefined || w === 'auto' || reserved.length === 0) return null;
    const clash = w.slaves.map((s) => s.cpu).filter((c) => reserved.includes(c));
    if (clash.length === 0) return null;
    return finding(
      `slave workers on CPUs ${cpuRanges(clash)}, reserved_cpus ${cpuRanges(reserved)}`,
      'no slave worker on a reserved CPU',
      'move those slaves to other CPUs, or drop the CPUs from reserved_cpus',
    );
  },
};

export const confChecks: PreflightCheck[] = [portsConfigured, workerLayout, workersNotReserved];
