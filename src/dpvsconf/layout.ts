/**
 * Worker layout: which CPU runs the master, which CPUs run slaves, and which rx/tx queue of every port
 * each slave owns. Pure.
 *
 * `workers: auto` policy:
 * - CPU 0 and the reserved CPUs are never used.
 * - The master takes the first free CPU of the first port's NUMA node.
 * - Slaves run on the node where most ports sit (ties: the first port's node); ports on other nodes are
 *   reported as cross-node warnings (their traffic crosses the interconnect; mbuf_fast_free must be off).
 * - Slave i owns queue i of every port (rx and tx). A port configured with more queues than there are
 *   slaves has its extra queues dealt round-robin, so every configured queue has an owner (upstream -4).
 * - Slave count: `slaves` when given, else as many as the queues and the free CPUs allow.
 * NUMA node -1 (VMs report it for NICs) counts as the first node. CPUs >= 64 (CONFIG_DPVS_MAX_LCORE) are
 * never used.
 */
import type { WorkerLayout } from '../inventory/schema.js';
import { DPVS_MAX_LCORE } from './model.js';

export interface PortLayoutInput {
  name: string;
  /** Queues configured on the port; 0 (or less) means "one per slave". */
  rxQueues: number;
  txQueues: number;
  numaNode: number;
}

export interface WorkerAssignment {
  name: string;
  type: 'master' | 'slave' | 'kni';
  cpuId: number;
  ports: Record<string, { rx: number[]; tx: number[] }>;
  /** Upstream `icmp_redirect_core`: this slave handles all ICMP (optional, additive to the contract). */
  icmpRedirectCore?: boolean;
}

export interface LayoutInput {
  ports: PortLayoutInput[];
  numa: { id: number; cpus: number[] }[];
  reservedCpus: number[];
  /** default: as many as queues allow */
  slaves?: number;
}

export class LayoutError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'LayoutError';
  }
}

export interface LayoutResult {
  workers: WorkerAssignment[];
  /** Human-readable notes, e.g. ports on another NUMA node than the workers. */
  warnings: string[];
}

const workerName = (cpu: number): string => `cpu${cpu}`;

function nodeOf(port: PortLayoutInput, numa: LayoutInput['numa']): number {
  if (port.numaNode >= 0) return port.numaNode;
  const first = numa[0];
  return first ? first.id : 0;
}

/** The node holding most ports; ties go to the node of the earliest port. */
function homeNode(nodes: number[]): number {
  const counts = new Map<number, number>();
  for (const n of nodes) counts.set(n, (counts.get(n) ?? 0) + 1);
  let best = nodes[0] as number;
  for (const n of nodes) if ((counts.get(n) ?? 0) > (counts.get(best) ?? 0)) best = n;
  return best;
}

function freeCpus(input: LayoutInput, node: number, taken: Set<number>): number[] {
  const entry = input.numa.find((n) => n.id === node);
  if (!entry) throw new LayoutError(`NUMA node ${node} is not among the host's nodes`);
  return [...entry.cpus].sort((a, b) => a - b).filter((c) => !taken.has(c) && c < DPVS_MAX_LCORE);
}

/** Queue ids 0..count-1 dealt round-robin over `slaves` owners: owner i gets i, i+n, i+2n... */
function deal(count: number, slaves: number, owner: number): number[] {
  const out: number[] = [];
  for (let q = owner; q < count; q += slaves) out.push(q);
  return out;
}

export function solveLayoutWithWarnings(input: LayoutInput): LayoutResult {
  const { ports } = input;
  const first = ports[0];
  if (!first) throw new LayoutError('no DPDK ports to lay workers out for');
  const nodes = ports.map((p) => nodeOf(p, input.numa));
  const home = homeNode(nodes);
  const reserved = new Set([0, ...input.reservedCpus]);

  const masterNode = nodes[0] as number;
  const masterCandidates = freeCpus(input, masterNode, reserved);
  const master = masterCandidates[0];
  if (master === undefined) {
    throw new LayoutError(`needs 2 CPUs on node ${masterNode}, has 0 free (master and one slave)`, -7);
  }
  const taken = new Set([...reserved, master]);
  const slaveCpus = freeCpus(input, home, taken);

  // "As many as queues allow": a port with explicit queue counts caps the slaves (each needs a tx queue).
  const explicitCaps = ports.flatMap((p) => [p.rxQueues, p.txQueues].filter((q) => q > 0));
  const txCaps = ports.map((p) => p.txQueues).filter((q) => q > 0);
  const wanted = input.slaves ?? Math.min(slaveCpus.length, ...explicitCaps);
  if (!Number.isInteger(wanted) || wanted < 1) {
    const needed = (masterNode === home ? 1 : 0) + 1;
    throw new LayoutError(
      `needs ${needed} CPUs on node ${home}, has ${slaveCpus.length + (masterNode === home ? 1 : 0)} free ` +
        `(no CPU left for a slave worker)`,
      -7,
    );
  }
  if (slaveCpus.length < wanted) {
    const onHome = masterNode === home ? 1 : 0;
    throw new LayoutError(
      `needs ${wanted + onHome} CPUs on node ${home}, has ${slaveCpus.length + onHome} free ` +
        `(${onHome ? '1 master + ' : ''}${wanted} slaves; reserved: ${[...reserved].sort((a, b) => a - b).join(',')})`,
    );
  }
  const minTx = Math.min(...txCaps);
  if (txCaps.length && minTx < wanted) {
    throw new LayoutError(
      `${wanted} slaves need ${wanted} tx queues on every port; a port has only ${minTx}`,
      -6,
    );
  }

  const workers: WorkerAssignment[] = [
    { name: workerName(master), type: 'master', cpuId: master, ports: {} },
  ];
  for (let i = 0; i < wanted; i++) {
    const cpu = slaveCpus[i] as number;
    const assigned: WorkerAssignment['ports'] = {};
    for (const p of ports) {
      const rxCount = p.rxQueues > 0 ? p.rxQueues : wanted;
      const txCount = p.txQueues > 0 ? p.txQueues : wanted;
      assigned[p.name] = { rx: deal(rxCount, wanted, i), tx: deal(txCount, wanted, i) };
    }
    workers.push({ name: workerName(cpu), type: 'slave', cpuId: cpu, ports: assigned });
  }

  const warnings = ports
    .filter((_, i) => nodes[i] !== home)
    .map(
      (p) =>
        `port ${p.name} is on NUMA node ${nodeOf(p, input.numa)} but its workers run on node ${home}: ` +
        'packets cross the NUMA interconnect (tx mbuf_fast_free must be off)',
    );
  if (masterNode !== home) {
    warnings.push(`the master runs on node ${masterNode} (first port's node), the slaves on node ${home}`);
  }
  return { workers, warnings };
}

export function solveLayout(input: LayoutInput): WorkerAssignment[] {
  return solveLayoutWithWarnings(input).workers;
}

/** What `workers: auto` needs to know about the host (from facts and the inventory). */
export interface AutoLayoutContext {
  numa: LayoutInput['numa'];
  reservedCpus: number[];
  slaves?: number;
}

/**
 * The inventory's `workers` key as assignments. An explicit layout is taken as written (validate it with
 * validateLayout); a `kni` CPU becomes a kni worker owning the next free tx queue of every port.
 * `auto` needs the host's NUMA facts (`auto` argument); without them it throws a LayoutError.
 */
export function layoutFromInventory(
  workers: WorkerLayout,
  ports: PortLayoutInput[],
  auto?: AutoLayoutContext,
): WorkerAssignment[] {
  if (workers === 'auto') {
    if (!auto) throw new LayoutError('workers: auto needs the host NUMA topology (facts) to be solved');
    return solveLayout({ ports, numa: auto.numa, reservedCpus: auto.reservedCpus, slaves: auto.slaves });
  }
  const out: WorkerAssignment[] = [
    { name: workerName(workers.master), type: 'master', cpuId: workers.master, ports: {} },
  ];
  for (const s of workers.slaves) {
    const assigned: WorkerAssignment['ports'] = {};
    for (const [dev, q] of Object.entries(s.ports)) assigned[dev] = { rx: [...q.rx], tx: [...q.tx] };
    out.push({
      name: workerName(s.cpu),
      type: 'slave',
      cpuId: s.cpu,
      ports: assigned,
      ...(s.icmp_redirect_core ? { icmpRedirectCore: true } : {}),
    });
  }
  if (workers.kni !== undefined) {
    const assigned: WorkerAssignment['ports'] = {};
    for (const p of ports) {
      const used = workers.slaves.flatMap((s) => s.ports[p.name]?.tx ?? []);
      assigned[p.name] = { rx: [], tx: [used.length ? Math.max(...used) + 1 : 0] };
    }
    out.push({ name: workerName(workers.kni), type: 'kni', cpuId: workers.kni, ports: assigned });
  }
  return out;
}

/** The EAL lcore list (`-l`) and main lcore (`--main-lcore`) a layout needs: every worker's CPU; the master's. */
export function workerLcores(workers: WorkerAssignment[]): { lcores: number[]; mainLcore: number } {
  const master = workers.find((w) => w.type === 'master');
  if (!master) throw new LayoutError('a layout without a master worker has no main lcore', -7);
  return { lcores: [...new Set(workers.map((w) => w.cpuId))].sort((a, b) => a - b), mainLcore: master.cpuId };
}
