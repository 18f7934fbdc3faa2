import { describe, expect, it } from 'vitest';
import { r630, r630Host, R630_PORTS } from '../../support/facts-builder.js';
import { failing, tripped } from './helpers.js';

describe('CPU checks', () => {
  it('CPU-001 hyper-threading on', () => {
    const r = tripped(r630Host(), r630().smt(true).build(), 'CPU-001');
    expect(r.severity).toBe('error');
    expect(r.found).toBe('2 threads per core (smt/active=1)');
    expect(r.expected).toBe('1 thread per core');
    expect(r.fix).toContain('BIOS: Processor Settings → Logical Processor (Hyper-Threading): Disabled');
  });
  it('CPU-001 does not fire when the inventory expects SMT', () => {
    expect(failing(r630Host({ expect: { smt: true } }), r630().smt(true).build())).not.toContain('CPU-001');
  });
  it('CPU-001 ignores realservers', () => {
    const rs = r630Host({ roles: ['realserver'], nics: [] });
    expect(failing(rs, r630().smt(true).build())).not.toContain('CPU-001');
  });
  it('CPU-002 CPU without sse4_2', () => {
    const r = tripped(r630Host(), r630().withoutCpuFlags('sse4_2').build(), 'CPU-002');
    expect(r.found).toMatch(/^CPU flags lack sse4_2 \(Intel/);
    expect(r.expected).toBe('CPU flags include ssse3 and sse4_2');
    expect(r.fix).toContain('host-passthrough');
  });
  it('CPU-003 -march haswell on a CPU without AVX2', () => {
    const host = r630Host({ dpdk: { version: '20.11.10', march: 'haswell' } });
    const r = tripped(host, r630().withoutCpuFlags('avx2', 'bmi2').build(), 'CPU-003');
    expect(r.found).toMatch(/^dpdk\.march: haswell, but CPU flags lack avx2 and bmi2/);
    expect(r.expected).toContain('avx2');
    expect(r.fix).toContain('dpdk.march');
    // native and a CPU that has the flags pass
    expect(failing(host, r630().build())).not.toContain('CPU-003');
    expect(
      failing(
        r630Host({ dpdk: { version: '20.11.10', march: 'native' } }),
        r630().cpuFlags(['ssse3', 'sse4_2']).build(),
      ),
    ).not.toContain('CPU-003');
  });
  it('CPU-004 not x86_64', () => {
    const r = tripped(r630Host(), r630().kernel({ machine: 'aarch64' }).build(), 'CPU-004');
    expect(r.found).toBe('machine aarch64');
    expect(r.expected).toBe('x86_64');
  });
});

describe('NUMA checks', () => {
  it('NUMA-001 two sockets but one NUMA node (node interleaving)', () => {
    const facts = r630().numaNodes(1, { cpusPerNode: 20, memPerNodeMb: 131072 }).sockets(2).build();
    const r = tripped(
      r630Host({ nics: [{ name: 'dpdk0', match: { pci: R630_PORTS.dpdk0 } }] }),
      facts,
      'NUMA-001',
    );
    expect(r.found).toBe('2 sockets but 1 NUMA node');
    expect(r.expected).toBe('one NUMA node per socket (2)');
    expect(r.fix).toContain('BIOS: Memory Settings → Node Interleaving: Disabled');
  });
  it('NUMA-002 four nodes, max_socket default 2', () => {
    const facts = r630().numaNodes(4, { cpusPerNode: 8, memPerNodeMb: 32768 }).sockets(1).build();
    const r = tripped(r630Host(), facts, 'NUMA-002');
    expect(r.found).toBe('4 NUMA nodes, dpvs.max_socket 2 (default)');
    expect(r.expected).toBe('at most 2 NUMA nodes');
    expect(r.fix).toContain('dpvs.max_socket: 4');
    expect(r.fix).toContain('NPS1');
    expect(failing(r630Host({ dpvs: { version: '1.9.10', max_socket: 4 } }), facts)).not.toContain(
      'NUMA-002',
    );
  });
  it('NUMA-003 explicit workers on the other node, and a port node without hugepages', () => {
    const host = r630Host({
      hugepages: { per_node: { '0': 8192, '1': 0 } },
      nics: [{ name: 'dpdk1', match: { pci: R630_PORTS.dpdk1 }, rx: { queues: 2 }, tx: { queues: 2 } }],
      workers: {
        master: 1,
        slaves: [
          { cpu: 2, ports: { dpdk1: { rx: [0], tx: [0] } } },
          { cpu: 12, ports: { dpdk1: { rx: [1], tx: [1] } } },
        ],
      },
    });
    const r = tripped(host, r630().build(), 'NUMA-003');
    expect(r.severity).toBe('warning');
    expect(r.found).toContain('dpdk1 (0000:82:00.0) is on node 1, its workers on CPUs 2 are not');
    expect(r.found).toContain('node 1, which gets no 2048 kB hugepages');
    expect(r.expected).toBe('each port, the workers polling it and its hugepages on the same NUMA node');
  });
  it('NUMA-004 NIC reports numa_node -1 on a two-node host', () => {
    const facts = r630().build();
    const nic = facts.nics.find((n) => n.pci === R630_PORTS.dpdk1);
    if (nic) nic.numaNode = -1;
    const r = tripped(r630Host(), facts, 'NUMA-004');
    expect(r.found).toBe('numa_node -1 for dpdk1 (0000:82:00.0) on a 2-node host');
    expect(r.fix).toContain('SRAT');
  });
});
