import { describe, expect, it } from 'vitest';
import { r630, r630Host, R630_PORTS } from '../../support/facts-builder.js';
import { failing, tripped } from './helpers.js';

describe('hugepage checks', () => {
  it('HP-001 total memory too small for the requested pages', () => {
    const facts = r630().numaNodes(2, { cpusPerNode: 10, memPerNodeMb: 8192 }).build();
    const r = tripped(r630Host({ hugepages: { per_node: 4096 } }), facts, 'HP-001');
    expect(r.found).toBe(
      '16384 MiB memory; 8192 × 2 MiB pages need 16384 MiB plus 1024 MiB per node for the OS',
    );
    expect(r.expected).toBe('at least 18432 MiB memory');
  });
  it('HP-002 one node too small', () => {
    const host = r630Host({ hugepages: { per_node: { '0': 33000, '1': 1024 } } });
    const r = tripped(host, r630().build(), 'HP-002');
    expect(r.found).toBe('node 0 has 65536 MiB, 33000 × 2 MiB pages need 66000 MiB (plus 1024 MiB reserve)');
    expect(r.expected).toBe('node 0 ≥ 67024 MiB');
    expect(failing(host, r630().build())).not.toContain('HP-001');
    expect(
      failing(r630Host({ hugepages: { per_node: { '0': 4096, '1': 4096 } } }), r630().build()),
    ).not.toContain('HP-002');
  });
  it('HP-003 no free hugepages on node 1 (unmanaged hugepages)', () => {
    const facts = r630()
      .hugepages({ perNode: [8192, 0] })
      .build();
    const r = tripped(r630Host({ hugepages: undefined }), facts, 'HP-003');
    expect(r.found).toBe('no 2 MiB hugepages free on node 1');
    expect(r.expected).toBe('free hugepages on every NUMA node');
    expect(r.fix).toContain('per_node');
  });
  it('HP-003 requested zero pages on a node', () => {
    const r = tripped(
      r630Host({ hugepages: { per_node: { '0': 8192 } } }),
      r630().hugepages({ perNode: 0 }).build(),
      'HP-003',
    );
    expect(r.found).toBe('no 2 MiB hugepages requested on node 1');
  });
  it('HP-004 under 1 GiB of hugepages on a node', () => {
    const r = tripped(r630Host({ hugepages: { per_node: 256 } }), r630().build(), 'HP-004');
    expect(r.severity).toBe('warning');
    expect(r.found).toBe('node 0: 512 MiB and node 1: 512 MiB');
  });
  it('HP-005 1G pages without pdpe1gb', () => {
    const host = r630Host({ hugepages: { size: '1G', per_node: 16 } });
    const r = tripped(host, r630().withoutCpuFlags('pdpe1gb').build(), 'HP-005');
    expect(r.found).toBe('hugepages.size: 1G, but the CPU flags lack pdpe1gb');
    expect(failing(host, r630().build())).not.toContain('HP-005');
  });
});

describe('NIC checks', () => {
  it('NIC-001 inventory NIC not on the host', () => {
    const host = r630Host({ nics: [{ name: 'dpdk0', match: { pci: '0000:05:00.0' } }] });
    const r = tripped(host, r630().build(), 'NIC-001');
    expect(r.found).toMatch(
      /^no NIC matches dpdk0 \(pci 0000:05:00\.0\); the host has 0000:03:00\.0 \(eno1\)/,
    );
    expect(r.fix).toContain('match.pci');
  });
  it('NIC-002 matchers that disagree, and two inventory NICs on one device', () => {
    const host = r630Host({
      nics: [
        { name: 'dpdk0', match: { pci: R630_PORTS.dpdk0, ifname: 'enp130s0f0' } },
        { name: 'dpdk1', match: { pci: R630_PORTS.dpdk1 } },
        { name: 'dpdk2', match: { mac: '90:E2:BA:86:42:20' } },
      ],
    });
    const r = tripped(host, r630().build(), 'NIC-002');
    expect(r.found).toContain(
      'dpdk0 (pci 0000:01:00.0, ifname enp130s0f0): pci 0000:01:00.0 is 0000:01:00.0 (enp1s0f0)',
    );
    expect(r.found).toContain('ifname enp130s0f0 is 0000:82:00.0 (enp130s0f0)');
    expect(r.found).toContain('dpdk1 and dpdk2 all resolve to 0000:82:00.0');
    expect(failing(host, r630().build())).not.toContain('NIC-001');
  });
  it('NIC-002 ifname matcher after binding: several userspace-bound NICs could be it', () => {
    const facts = r630()
      .nic({ pci: '0000:05:00.0', driver: 'uio_pci_generic' })
      .nic({ pci: '0000:05:00.1', driver: 'uio_pci_generic' })
      .build();
    const r = tripped(r630Host({ nics: [{ name: 'dpdk0', match: { ifname: 'ens5f0' } }] }), facts, 'NIC-002');
    expect(r.found).toContain('could be any of 0000:05:00.0 and 0000:05:00.1');
  });
  it('an ifname matcher resolves to the single userspace-bound NIC', () => {
    const facts = r630().nic({ pci: '0000:05:00.0', driver: 'uio_pci_generic' }).build();
    const ids = failing(r630Host({ nics: [{ name: 'dpdk0', match: { ifname: 'ens5f0' } }] }), facts);
    expect(ids).not.toContain('NIC-001');
    expect(ids).not.toContain('NIC-002');
  });
  it('NIC-003 the SSH NIC in the bind list', () => {
    const host = r630Host({ nics: [{ name: 'dpdk0', match: { ifname: 'eno1' } }] });
    const r = tripped(host, r630().build(), 'NIC-003');
    expect(r.found).toBe(
      'dpdk0 is 0000:03:00.0 (eno1), which carries this SSH session and the default route',
    );
    expect(r.expected).toBe('DPDK ports never carry the SSH session or the default route');
  });
  it('NIC-004 a Mellanox NIC in the bind list', () => {
    const facts = r630()
      .nic({ pci: '0000:84:00.0', vendorId: '15b3', deviceId: '1017', driver: 'mlx5_core', numaNode: 1 })
      .build();
    const r = tripped(
      r630Host({ nics: [{ name: 'dpdk0', match: { pci: '0000:84:00.0' } }] }),
      facts,
      'NIC-004',
    );
    expect(r.found).toBe('dpdk0 is 0000:84:00.0 15b3:1017 (Mellanox mlx5)');
    expect(r.fix).toContain('mlx5 must never be bound');
  });
  it('NIC-005 an unknown NIC model', () => {
    const facts = r630()
      .nic({ pci: '0000:05:00.0', vendorId: '14e4', deviceId: '16d7', driver: 'bnxt_en' })
      .build();
    const r = tripped(
      r630Host({ nics: [{ name: 'dpdk0', match: { pci: '0000:05:00.0' } }] }),
      facts,
      'NIC-005',
    );
    expect(r.severity).toBe('warning');
    expect(r.found).toBe('dpdk0 is 14e4:16d7 at 0000:05:00.0');
  });
  it('NIC-006 virtio with 4 queues, I350 with several workers', () => {
    const facts = r630()
      .nic({
        pci: '0000:00:10.0',
        vendorId: '1af4',
        deviceId: '1000',
        driver: 'virtio-pci',
        maxRxQueues: 4,
        maxTxQueues: 4,
      })
      .nic({
        pci: '0000:03:00.1',
        vendorId: '8086',
        deviceId: '1521',
        driver: 'igb',
        maxRxQueues: 8,
        maxTxQueues: 8,
      })
      .build();
    const host = r630Host({
      nics: [
        { name: 'dpdk0', match: { pci: '0000:00:10.0' }, rx: { queues: 4 } },
        { name: 'dpdk1', match: { pci: '0000:03:00.1' }, rx: { queues: 4 } },
      ],
    });
    const r = tripped(host, facts, 'NIC-006');
    expect(r.found).toContain('dpdk0 is virtio-net (legacy) (no RSS) with 4 rx / 4 tx queues');
    expect(r.found).toContain('dpdk1 is Intel I350 1G (no rte_flow) with 4 rx queues and 4 workers');
    const single = r630Host({
      nics: [{ name: 'dpdk0', match: { pci: '0000:00:10.0' }, rx: { queues: 1 } }],
      dpvs: { version: '1.9.10', sa_pool_flow_enable: false },
    });
    expect(failing(single, facts)).not.toContain('NIC-006');
  });
  it('NIC-007 more queues than the NIC has', () => {
    const facts = r630().build();
    for (const n of facts.nics) if (n.pci === R630_PORTS.dpdk0) n.maxRxQueues = 2;
    const r = tripped(r630Host(), facts, 'NIC-007');
    expect(r.found).toBe('dpdk0 (0000:01:00.0): 4 rx queues, the NIC has 2');
  });
});
