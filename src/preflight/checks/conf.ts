/**
 * dpvs.conf layout checks: ports configured, and the worker/queue layout against upstream's rules
 * (src/dpvsconf/layout.ts solves `workers: auto`, src/dpvsconf/validate.ts checks upstream's rules).
 */
import {
  LayoutError,
  layoutFromInventory,
  solveLayout,
  type WorkerAssignment,
} from '../../dpvsconf/layout.js';
import { validateLayout } from '../../dpvsconf/validate.js';
import type { PlanContext, Check } from '../../tasks/types.js';
import { cpuRanges, finding, listText } from '../check.js';
import { matchNics, resolved } from '../nic-match.js';
import { isBalancer, portQueues } from '../settings.js';

export const portsConfigured: Check = {
  id: 'CONF-001',
  title: 'balancer has no DPDK ports',
  severity: 'error',
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

interface LayoutPort {
  name: string;
  rxQueues: number;
  txQueues: number;
  numaNode: number;
}

function layoutPorts(ctx: PlanContext): LayoutPort[] {
  const matches = matchNics(ctx.host.nics, ctx.facts);
  return matches.map((r) => {
    const nic = resolved(r);
    return { ...portQueues(r.nic), numaNode: nic && nic.numaNode >= 0 ? nic.numaNode : 0 };
  });
}

/** The worker assignments the host will run, or the reason there are none. */
export function plannedLayout(ctx: PlanContext): { workers: WorkerAssignment[] } | { error: string } {
  const { host, facts } = ctx;
  const ports = layoutPorts(ctx);
  try {
    if (host.workers === undefined || host.workers === 'auto') {
      return {
        workers: solveLayout({
          ports,
          numa: (facts.numa.length ? facts.numa : [{ id: 0, cpus: facts.cpu.online }]).map((n) => ({
            id: n.id,
            cpus: n.cpus,
          })),
          reservedCpus: host.reserved_cpus ?? [],
        }),
      };
    }
    return { workers: layoutFromInventory(host.workers, ports) };
  } catch (e) {
    if (e instanceof LayoutError) return { error: e.message };
    throw e;
  }
}

export const workerLayout: Check = {
  id: 'CONF-002',
  title: 'worker/queue layout breaks upstream’s rules',
  severity: 'error',
  protects:
    'dpvs refuses a bad layout at start: "netif_lcore_init: bad lcore configuration (error code: -N)" (duplicate or unassigned queues, unequal port lists, no slave).',
  run(ctx) {
    const { host, facts } = ctx;
    if (!isBalancer(host) || (host.nics ?? []).length === 0) return null;
    const planned = plannedLayout(ctx);
    const auto = host.workers === undefined || host.workers === 'auto';
    if ('error' in planned) {
      return finding(
        `workers: auto cannot be laid out: ${planned.error}`,
        'a layout of one master and at least one slave per port queue on the ports’ NUMA nodes',
        'lower nics[].rx.queues / tx.queues, shrink reserved_cpus, or give an explicit workers layout',
      );
    }
    const ports = layoutPorts(ctx).map(({ name, rxQueues, txQueues }) => ({ name, rxQueues, txQueues }));
    const issues = validateLayout(planned.workers, ports, { lcores: facts.cpu.online });
    if (issues.length === 0) return null;
    return finding(
      listText(issues.map((i) => `${i.message} (${i.code}${i.rule ? `, ${i.rule}` : ''})`)),
      `one master, ≥1 slave, each port's queues 0..n-1 each on exactly one slave, every slave on the same ports, ` +
        `CPUs among the online ones (${cpuRanges(facts.cpu.online)})`,
      auto
        ? 'report this: workers: auto produced a layout upstream rejects; meanwhile give an explicit workers layout'
        : 'correct workers (slaves[].ports rx/tx queue ids) or nics[].rx/tx.queues so they agree',
    );
  },
};

export const workersNotReserved: Check = {
  id: 'CONF-003',
  title: 'worker on a reserved CPU',
  severity: 'error',
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

export const confChecks: Check[] = [portsConfigured, workerLayout, workersNotReserved];
