import { describe, expect, it } from 'vitest';
import {
  LayoutError,
  layoutFromInventory,
  solveLayout,
  solveLayoutWithWarnings,
  workerLcores,
  type LayoutInput,
  type PortLayoutInput,
} from '../../../src/dpvsconf/layout.js';
import { impliedQueues, validateLayout } from '../../../src/dpvsconf/validate.js';

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const ONE_NODE = [{ id: 0, cpus: range(0, 7) }];
const TWO_NODES = [
  { id: 0, cpus: range(0, 7) },
  { id: 1, cpus: range(8, 15) },
];
const port = (name: string, numaNode = 0, queues = 0): PortLayoutInput => ({
  name,
  rxQueues: queues,
  txQueues: queues,
  numaNode,
});

function layoutError(input: LayoutInput): LayoutError {
  try {
    solveLayout(input);
  } catch (e) {
    if (e instanceof LayoutError) return e;
    throw e;
  }
  throw new Error('expected a LayoutError');
}

/** The queue counts the solver's output implies, as validateLayout wants them. */
function portsFor(input: LayoutInput, workers: ReturnType<typeof solveLayout>) {
  return input.ports.map((p) => {
    const q = impliedQueues(workers, p.name);
    return {
      name: p.name,
      rxQueues: p.rxQueues > 0 ? p.rxQueues : q.rx,
      txQueues: p.txQueues > 0 ? p.txQueues : q.tx,
    };
  });
}

describe('solveLayout (workers: auto)', () => {
  it('one node, one NIC: master on the first non-reserved CPU (never 0), one slave per remaining CPU', () => {
    const w = solveLayout({ ports: [port('dpdk0')], numa: ONE_NODE, reservedCpus: [] });
    expect(w[0]).toEqual({ name: 'cpu1', type: 'master', cpuId: 1, ports: {} });
    expect(w.slice(1).map((s) => s.cpuId)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(w.slice(1).map((s) => s.ports.dpdk0)).toEqual(range(0, 5).map((i) => ({ rx: [i], tx: [i] })));
  });

  it('reserved CPUs are skipped for master and slaves', () => {
    const w = solveLayout({ ports: [port('dpdk0')], numa: ONE_NODE, reservedCpus: [1, 2, 5], slaves: 3 });
    expect(w.map((x) => [x.type, x.cpuId])).toEqual([
      ['master', 3],
      ['slave', 4],
      ['slave', 6],
      ['slave', 7],
    ]);
  });

  it('the port queue count caps the slaves, and each slave owns queue i of every port', () => {
    const ports = [port('dpdk0', 0, 2), port('dpdk1', 0, 2), port('dpdk2', 0, 2), port('dpdk3', 0, 2)];
    const w = solveLayout({ ports, numa: ONE_NODE, reservedCpus: [] });
    const slaves = w.filter((x) => x.type === 'slave');
    expect(slaves).toHaveLength(2);
    for (const [i, s] of slaves.entries()) {
      expect(Object.keys(s.ports)).toEqual(['dpdk0', 'dpdk1', 'dpdk2', 'dpdk3']);
      for (const q of Object.values(s.ports)) expect(q).toEqual({ rx: [i], tx: [i] });
    }
  });

  it('more queues than slaves are dealt round-robin so every queue has an owner', () => {
    const input: LayoutInput = { ports: [port('dpdk0', 0, 8)], numa: ONE_NODE, reservedCpus: [], slaves: 3 };
    const w = solveLayout(input);
    expect(w.filter((x) => x.type === 'slave').map((s) => s.ports.dpdk0?.rx)).toEqual([
      [0, 3, 6],
      [1, 4, 7],
      [2, 5],
    ]);
    expect(validateLayout(w, portsFor(input, w))).toEqual([]);
  });

  it('two nodes, NIC on node 1: master and slaves on node 1', () => {
    const { workers, warnings } = solveLayoutWithWarnings({
      ports: [port('dpdk0', 1)],
      numa: TWO_NODES,
      reservedCpus: [],
      slaves: 4,
    });
    expect(workers.map((x) => x.cpuId)).toEqual([8, 9, 10, 11, 12]);
    expect(warnings).toEqual([]);
  });

  it('ports on different nodes: slaves where most ports are, cross-node ports reported', () => {
    const ports = [port('dpdk0', 0), port('dpdk1', 1), port('dpdk2', 1)];
    const { workers, warnings } = solveLayoutWithWarnings({
      ports,
      numa: TWO_NODES,
      reservedCpus: [],
      slaves: 2,
    });
    expect(workers[0]).toMatchObject({ type: 'master', cpuId: 1 }); // first port's node
    expect(workers.slice(1).map((s) => s.cpuId)).toEqual([8, 9]); // node 1 has two of the three ports
    expect(warnings.some((m) => m.includes('dpdk0') && m.includes('node 0') && m.includes('node 1'))).toBe(
      true,
    );
    expect(warnings.some((m) => m.includes('dpdk1'))).toBe(false);
  });

  it('NUMA node -1 (VM) counts as the first node', () => {
    const w = solveLayout({ ports: [port('dpdk0', -1)], numa: TWO_NODES, reservedCpus: [], slaves: 1 });
    expect(w.map((x) => x.cpuId)).toEqual([1, 2]);
  });

  it('not enough CPUs: names the node and the counts', () => {
    const e = layoutError({
      ports: [port('dpdk0')],
      numa: [{ id: 0, cpus: range(0, 3) }],
      reservedCpus: [],
      slaves: 8,
    });
    expect(e.message).toMatch(/needs 9 CPUs on node 0, has 3 free/);
    const e1 = layoutError({
      ports: [port('dpdk0', 1)],
      numa: TWO_NODES,
      reservedCpus: range(8, 14),
      slaves: 2,
    });
    expect(e1.message).toMatch(/needs 3 CPUs on node 1, has 1 free/);
  });

  it('no CPU left for a slave is upstream error -7', () => {
    const e = layoutError({ ports: [port('dpdk0')], numa: [{ id: 0, cpus: [0, 1] }], reservedCpus: [] });
    expect(e.code).toBe(-7);
    expect(e.message).toMatch(/needs 2 CPUs on node 0, has 1 free/);
  });

  it('more slaves than a port has tx queues is refused (-6)', () => {
    const e = layoutError({ ports: [port('dpdk0', 0, 2)], numa: ONE_NODE, reservedCpus: [], slaves: 3 });
    expect(e.code).toBe(-6);
  });

  it('every solved layout passes the upstream checks (1-2 nodes, 1-4 NICs, reservations)', () => {
    let solved = 0;
    for (const numa of [ONE_NODE, TWO_NODES]) {
      for (let n = 1; n <= 4; n++) {
        for (const reservedCpus of [[], [1], [2, 3, 9]]) {
          for (const queues of [0, 2, 4]) {
            const ports = range(0, n - 1).map((i) => port(`dpdk${i}`, numa.length === 2 ? i % 2 : 0, queues));
            const input: LayoutInput = { ports, numa, reservedCpus };
            const w = solveLayout(input);
            expect(w.some((x) => [0, ...reservedCpus].includes(x.cpuId))).toBe(false);
            expect(validateLayout(w, portsFor(input, w), { lcores: numa.flatMap((x) => x.cpus) })).toEqual(
              [],
            );
            solved++;
          }
        }
      }
    }
    expect(solved).toBe(72);
  });
});

describe('layoutFromInventory', () => {
  const ports = [port('dpdk0'), port('dpdk1')];

  it('explicit layout is taken as written, kni worker gets the next tx queue of every port', () => {
    const w = layoutFromInventory(
      {
        master: 2,
        slaves: [
          {
            cpu: 3,
            ports: { dpdk0: { rx: [0], tx: [0] }, dpdk1: { rx: [0], tx: [0] } },
            icmp_redirect_core: true,
          },
          { cpu: 4, ports: { dpdk0: { rx: [1], tx: [1] }, dpdk1: { rx: [1], tx: [1] } } },
        ],
        kni: 5,
      },
      ports,
    );
    expect(w.map((x) => [x.name, x.type, x.cpuId])).toEqual([
      ['cpu2', 'master', 2],
      ['cpu3', 'slave', 3],
      ['cpu4', 'slave', 4],
      ['cpu5', 'kni', 5],
    ]);
    expect(w[1]?.icmpRedirectCore).toBe(true);
    expect(w[3]?.ports).toEqual({ dpdk0: { rx: [], tx: [2] }, dpdk1: { rx: [], tx: [2] } });
    const queues = ports.map((p) => ({ name: p.name, rxQueues: 2, txQueues: 3 }));
    expect(validateLayout(w, queues)).toEqual([]);
  });

  it('auto delegates to the solver with the host topology', () => {
    const w = layoutFromInventory('auto', ports, { numa: ONE_NODE, reservedCpus: [1], slaves: 2 });
    expect(w.map((x) => x.cpuId)).toEqual([2, 3, 4]);
  });

  it('auto without topology is a LayoutError', () => {
    expect(() => layoutFromInventory('auto', ports)).toThrow(LayoutError);
  });
});

describe('workerLcores', () => {
  it('lists every worker CPU once, sorted, with the master as main lcore', () => {
    const w = solveLayout({ ports: [port('dpdk0')], numa: TWO_NODES, reservedCpus: [1, 3], slaves: 3 });
    expect(workerLcores(w)).toEqual({ lcores: [2, 4, 5, 6], mainLcore: 2 });
    expect(() => workerLcores(w.slice(1))).toThrow(LayoutError);
  });
});
