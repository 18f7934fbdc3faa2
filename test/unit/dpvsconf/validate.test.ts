import { describe, expect, it } from 'vitest';
import type { WorkerAssignment } from '../../../src/dpvsconf/layout.js';
import { validateLayout, type LayoutProblem } from '../../../src/dpvsconf/validate.js';

const master = (cpuId = 0): WorkerAssignment => ({ name: `cpu${cpuId}`, type: 'master', cpuId, ports: {} });
const slave = (cpuId: number, ports: WorkerAssignment['ports']): WorkerAssignment => ({
  name: `cpu${cpuId}`,
  type: 'slave',
  cpuId,
  ports,
});
const q = (rx: number[], tx: number[] = rx) => ({ rx, tx });
const PORTS_1 = [{ name: 'dpdk0', rxQueues: 2, txQueues: 2 }];
const PORTS_2 = [
  { name: 'dpdk0', rxQueues: 2, txQueues: 2 },
  { name: 'dpdk1', rxQueues: 2, txQueues: 2 },
];
const VALID_2 = [
  master(),
  slave(1, { dpdk0: q([0]), dpdk1: q([0]) }),
  slave(2, { dpdk0: q([1]), dpdk1: q([1]) }),
];

const codes = (p: LayoutProblem[]): number[] => [...new Set(p.map((x) => x.code))].sort();
const rules = (p: LayoutProblem[]): string[] => [...new Set(p.map((x) => x.rule))].sort();

describe('validateLayout: valid layouts', () => {
  it('upstream-style two-port layout', () => {
    expect(validateLayout(VALID_2, PORTS_2, { lcores: [0, 1, 2] })).toEqual([]);
  });
  it('one slave owning several queues, and a kni worker with a tx queue on every port', () => {
    const w: WorkerAssignment[] = [
      master(),
      slave(1, { dpdk0: q([0, 1], [0, 1]) }),
      { name: 'cpu3', type: 'kni', cpuId: 3, ports: { dpdk0: q([], [2]) } },
    ];
    expect(validateLayout(w, [{ name: 'dpdk0', rxQueues: 2, txQueues: 3 }])).toEqual([]);
  });
});

describe('validateLayout: upstream check_lcore_conf codes', () => {
  it('-2 duplicate rx queue id', () => {
    const w = [master(), slave(1, { dpdk0: q([0], [0]) }), slave(2, { dpdk0: q([0], [1]) })];
    const p = validateLayout(w, PORTS_1);
    expect(codes(p)).toContain(-2);
    expect(p.find((x) => x.code === -2)?.message).toMatch(/dpdk0 rx queue 0 .*cpu1 and cpu2/);
    expect(p.find((x) => x.code === -2)?.rule).toBe('LCONFCHK_REPEATED_RX_QUEUE_ID');
  });

  it('-3 duplicate tx queue id (also within one worker)', () => {
    const w = [master(), slave(1, { dpdk0: q([0, 1], [0, 0]) })];
    const p = validateLayout(w, [{ name: 'dpdk0', rxQueues: 2, txQueues: 1 }]);
    expect(codes(p)).toEqual([-3]);
    expect(p[0]?.message).toMatch(/twice by worker cpu1/);
  });

  it('-4 a configured queue nobody owns', () => {
    const w = [master(), slave(1, { dpdk0: q([0]) }), slave(2, { dpdk0: q([1]) })];
    const p = validateLayout(w, [{ name: 'dpdk0', rxQueues: 4, txQueues: 2 }]);
    expect(codes(p)).toEqual([-4]);
    expect(p[0]?.message).toMatch(/4 rx queues but no worker owns rx queue 2, 3/);
  });

  it('-5 more ports than exist / unknown port', () => {
    const w = [master(), slave(1, { dpdk0: q([0, 1]), dpdk9: q([0]) })];
    const p = validateLayout(w, PORTS_1);
    expect(p.filter((x) => x.code === -5).map((x) => x.message)).toEqual([
      'worker cpu1 lists 2 ports, only 1 exist',
      'worker cpu1 references port dpdk9, which is not configured',
    ]);
  });

  it('-6 unequal port lists', () => {
    const w = [master(), slave(1, { dpdk0: q([0]), dpdk1: q([0, 1]) }), slave(2, { dpdk0: q([1]) })];
    const p = validateLayout(w, PORTS_2);
    expect(codes(p)).toEqual([-6]);
    expect(p[0]?.message).toMatch(/cpu2 lists 1 ports, the workers together use 2 \(missing: dpdk1\)/);
  });

  it('-6 a worker with no tx queue on a port', () => {
    const w = [master(), slave(1, { dpdk0: q([0], [0, 1]) }), slave(2, { dpdk0: q([1], []) })];
    const p = validateLayout(w, PORTS_1);
    expect(codes(p)).toEqual([-6]);
    expect(p[0]?.message).toBe('worker cpu2 has no tx queue on port dpdk0');
  });

  it('-7 no slave lcores', () => {
    const p = validateLayout([master()], PORTS_1);
    expect(codes(p)).toContain(-7);
    expect(rules(p)).toContain('LCONFCHK_NO_SLAVE_LCORES');
  });
});

describe('validateLayout: our extra rules (code 0)', () => {
  it('exactly one master', () => {
    expect(rules(validateLayout(VALID_2.slice(1), PORTS_2))).toEqual(['one-master']);
    expect(rules(validateLayout([master(9), ...VALID_2], PORTS_2))).toEqual(['one-master']);
  });

  it('cpu_id unique', () => {
    const w = [master(), slave(1, { dpdk0: q([0]) }), { ...slave(1, { dpdk0: q([1]) }), name: 'other' }];
    const p = validateLayout(w, PORTS_1);
    expect(rules(p)).toEqual(['unique-cpu-id']);
    expect(p[0]?.message).toMatch(/cpu1 and other both use cpu_id 1/);
  });

  it('queue ids contiguous from 0 and within the port queue count', () => {
    const w = [master(), slave(1, { dpdk0: q([0]) }), slave(2, { dpdk0: q([2]) })];
    const p = validateLayout(w, PORTS_1);
    expect(rules(p)).toEqual([
      'LCONFCHK_DISCONTINUOUS_QUEUE_ID',
      'contiguous-queue-ids',
      'queue-id-in-range',
    ]);
  });

  it('lcores must be available to EAL and below 64', () => {
    const p = validateLayout(VALID_2, PORTS_2, { lcores: [0, 1] });
    expect(p).toEqual([
      { code: 0, rule: 'lcore-available', message: 'worker cpu2: CPU 2 is not among the EAL lcores' },
    ]);
    const high = [master(), slave(70, { dpdk0: q([0, 1]) })];
    expect(rules(validateLayout(high, PORTS_1))).toEqual(['lcore-range']);
  });

  it('the master owns no queues', () => {
    const w = [{ ...master(), ports: { dpdk0: q([1]) } }, slave(1, { dpdk0: q([0]) })];
    expect(rules(validateLayout(w, [{ name: 'dpdk0', rxQueues: 1, txQueues: 1 }]))).toContain(
      'master-no-queues',
    );
  });
});
