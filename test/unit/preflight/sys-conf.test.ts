import { describe, expect, it } from 'vitest';
import { r630, r630Host, R630_PORTS } from '../../support/facts-builder.js';
import { failing, tripped } from './helpers.js';

const realserver = r630Host({
  name: 'rs1',
  roles: ['realserver'],
  nics: [],
  hugepages: undefined,
  workers: undefined,
});

describe('system checks', () => {
  it('SYS-001 a dpvs that is not ours (no pid file)', () => {
    const r = tripped(r630Host(), r630().process('dpvs', [4242]).build(), 'SYS-001');
    expect(r.found).toBe('dpvs running as pid 4242, and no pid file /var/run/dpvs.pid');
    expect(r.fix).toContain('kill 4242');
  });
  it('SYS-001 our own dpvs passes, a second one trips', () => {
    const ours = r630().process('dpvs', [100]).file('/var/run/dpvs.pid', '100\n').build();
    expect(failing(r630Host(), ours)).not.toContain('SYS-001');
    const two = r630().process('dpvs', [100, 200]).file('/var/run/dpvs.pid', '100\n').build();
    expect(tripped(r630Host(), two, 'SYS-001').found).toBe(
      'dpvs running as pid 200, but /var/run/dpvs.pid names pid 100',
    );
  });
  it('SYS-002 nofile above fs.nr_open', () => {
    const r = tripped(r630Host({ nofile: 2000000 }), r630().build(), 'SYS-002');
    expect(r.found).toBe('nofile: 2000000, fs.nr_open 1048576');
    expect(r.expected).toBe('nofile ≤ 1048576');
  });
  it('SYS-003 open-file limit below the 2 MiB page count', () => {
    const r = tripped(r630Host({ nofile: undefined }), r630().build(), 'SYS-003');
    expect(r.severity).toBe('warning');
    expect(r.found).toBe('open-file limit 1024 (the login shell’s ulimit -n) for 16384 × 2 MiB hugepages');
    expect(r.expected).toBe('nofile ≥ 17408');
  });
  it('SYS-004 unsupported OS (CentOS Stream 9, SLES)', () => {
    const stream = r630().os('centos7', { versionId: '9', prettyName: 'CentOS Stream 9' }).build();
    expect(tripped(realserver, stream, 'SYS-004').found).toBe('CentOS Stream 9 (ID=centos VERSION_ID=9)');
    const sles = r630()
      .os('rocky9', { id: 'sles', versionId: '15.5', prettyName: 'SUSE Linux Enterprise Server 15 SP5' })
      .build();
    expect(tripped(realserver, sles, 'SYS-004').expected).toBe(
      'Debian, Ubuntu, CentOS 7, Rocky Linux, AlmaLinux or RHEL',
    );
  });
  it('SYS-005 DPVS 1.10 on CentOS 7', () => {
    const host = r630Host({ dpvs: { version: '1.10.2' }, dpdk: { version: '24.11' } });
    const r = tripped(host, r630().os('centos7').build(), 'SYS-005');
    expect(r.found).toBe('DPVS 1.10.2 on CentOS Linux 7 (Core) (GCC 4.8)');
    expect(r.fix).toContain('dpvs.version: 1.9.10');
  });
  it('SYS-006 no IPv6 stack for toa', () => {
    const facts = r630().kernel({ ipv6: false, cmdline: 'ro quiet ipv6.disable=1' }).build();
    const r = tripped(realserver, facts, 'SYS-006');
    expect(r.found).toBe('no IPv6 stack (kernel cmdline has ipv6.disable=1)');
    expect(failing({ ...realserver, realserver: { toa: false } }, facts)).not.toContain('SYS-006');
  });
});

describe('hardware expectations', () => {
  it('HW-001 numa nodes', () => {
    const r = tripped(
      r630Host({ expect: { numa_nodes: 2 } }),
      r630().numaNodes(1, { cpusPerNode: 20 }).build(),
      'HW-001',
    );
    expect(r.found).toBe('1 NUMA node');
    expect(r.expected).toBe('2 (expect.numa_nodes)');
  });
  it('HW-002 smt', () => {
    const r = tripped(r630Host({ expect: { smt: false } }), r630().smt(true).build(), 'HW-002');
    expect(r.found).toBe('hyper-threading on (2 threads per core)');
    expect(r.fix).toContain('Logical Processor (Hyper-Threading): Disabled');
  });
  it('HW-003 os', () => {
    const r = tripped(r630Host({ expect: { os: 'rocky' } }), r630().build(), 'HW-003');
    expect(r.found).toBe('Debian GNU/Linux 12 (bookworm) (ID=debian)');
    expect(r.expected).toBe('ID=rocky (expect.os)');
  });
  it('matching expectations pass', () => {
    const host = r630Host({ expect: { numa_nodes: 2, smt: false, os: 'debian' } });
    expect(failing(host, r630().build()).filter((id) => id.startsWith('HW-'))).toEqual([]);
  });
});

describe('dpvs.conf layout checks', () => {
  it('CONF-001 balancer without ports', () => {
    const r = tripped(r630Host({ nics: [] }), r630().build(), 'CONF-001');
    expect(r.found).toBe('no nics in the inventory for this balancer');
  });
  it('CONF-002 explicit layout that leaves a queue without a worker (upstream -4)', () => {
    const host = r630Host({
      nics: [{ name: 'dpdk0', match: { pci: R630_PORTS.dpdk0 }, rx: { queues: 2 }, tx: { queues: 2 } }],
      workers: { master: 1, slaves: [{ cpu: 2, ports: { dpdk0: { rx: [0], tx: [0] } } }] },
    });
    const r = tripped(host, r630().build(), 'CONF-002');
    expect(r.found).toContain('upstream error -4');
    expect(r.fix).toContain('correct workers');
  });
  it('CONF-002 auto layout finds no free CPU on the port node', () => {
    const host = r630Host({
      reserved_cpus: [1, 2, 3, 4, 5, 6, 7, 8, 9],
      nics: [{ name: 'dpdk0', match: { pci: R630_PORTS.dpdk0 }, rx: { queues: 4 }, tx: { queues: 4 } }],
    });
    const r = tripped(host, r630().build(), 'CONF-002');
    expect(r.found).toMatch(/^workers: auto cannot be laid out: /);
  });
  it('CONF-002 explicit worker on a CPU that is not online', () => {
    const host = r630Host({
      nics: [{ name: 'dpdk0', match: { pci: R630_PORTS.dpdk0 }, rx: { queues: 1 }, tx: { queues: 1 } }],
      workers: { master: 1, slaves: [{ cpu: 40, ports: { dpdk0: { rx: [0], tx: [0] } } }] },
    });
    expect(tripped(host, r630().build(), 'CONF-002').found).toContain('40');
  });
  it('CONF-003 a slave on a reserved CPU', () => {
    const host = r630Host({
      reserved_cpus: [2],
      nics: [{ name: 'dpdk0', match: { pci: R630_PORTS.dpdk0 }, rx: { queues: 1 }, tx: { queues: 1 } }],
      workers: { master: 1, slaves: [{ cpu: 2, ports: { dpdk0: { rx: [0], tx: [0] } } }] },
    });
    const r = tripped(host, r630().build(), 'CONF-003');
    expect(r.found).toBe('slave workers on CPUs 2, reserved_cpus 2');
  });
  it('a valid explicit layout passes', () => {
    const host = r630Host({
      nics: [{ name: 'dpdk0', match: { pci: R630_PORTS.dpdk0 }, rx: { queues: 2 }, tx: { queues: 2 } }],
      workers: {
        master: 1,
        slaves: [
          { cpu: 2, ports: { dpdk0: { rx: [0], tx: [0] } } },
          { cpu: 3, ports: { dpdk0: { rx: [1], tx: [1] } } },
        ],
      },
    });
    expect(failing(host, r630().build())).toEqual([]);
  });
});
