import { describe, expect, it } from 'vitest';
import { buildDpvsConf, type NicInput } from '../../../src/dpvsconf/build.js';
import { unifiedDiff } from '../../../src/dpvsconf/diff.js';
import { solveLayout, type WorkerAssignment } from '../../../src/dpvsconf/layout.js';
import { kniBackend, grammarOf } from '../../../src/dpvsconf/model.js';
import { parseDpvsConf } from '../../../src/dpvsconf/parse.js';
import { MANAGED_MARKER, renderDpvsConf } from '../../../src/dpvsconf/render.js';

const ONE_NODE = [{ id: 0, cpus: [0, 1, 2, 3, 4, 5, 6, 7] }];
const TWO_NODES = [
  { id: 0, cpus: [0, 1, 2, 3] },
  { id: 1, cpus: [4, 5, 6, 7] },
];

function layoutFor(nics: NicInput[], slaves: number, numa = ONE_NODE): WorkerAssignment[] {
  const ports = nics.map((n) => ({ name: n.name, rxQueues: 0, txQueues: 0, numaNode: n.numaNode }));
  return solveLayout({ ports, numa, reservedCpus: [], slaves });
}

const nic0: NicInput = { name: 'dpdk0', pci: '0000:04:00.0', numaNode: 0 };
const nic1: NicInput = { name: 'dpdk1', pci: '0000:04:00.1', numaNode: 0 };

describe('buildDpvsConf defaults', () => {
  it('queues follow the slaves; descriptors 1024, rss all, pktpool 524287/256, kni_name <dev>.kni', () => {
    const conf = buildDpvsConf({
      dpvsVersion: '1.9.10',
      nics: [nic0, nic1],
      workers: layoutFor([nic0, nic1], 3),
    });
    for (const d of conf.netif_defs.devices) {
      expect(d.rx).toEqual({ queue_number: 3, descriptor_number: 1024, rss: 'all' });
      expect(d.tx).toEqual({ queue_number: 3, descriptor_number: 1024 });
      expect(d.kni_name).toBe(`${d.name}.kni`);
    }
    expect(conf.netif_defs.pktpool_size).toBe(524287);
    expect(conf.netif_defs.pktpool_cache).toBe(256);
    expect(conf.sa_pool?.flow_enable).toBe(true);
    expect(conf.global_defs).toEqual({ log_level: 'WARNING', kni: true });
    const slaves = conf.worker_defs.workers.filter((w) => w.type === 'slave');
    expect(slaves.map((w) => w.ports.map((p) => p.dev))).toEqual([
      ['dpdk0', 'dpdk1'],
      ['dpdk0', 'dpdk1'],
      ['dpdk0', 'dpdk1'],
    ]);
  });

  it('NIC settings override the defaults', () => {
    const nic: NicInput = {
      ...nic0,
      rx: { queues: 4, descriptors: 2048, rss: 'tcp' },
      tx: { queues: 4, descriptors: 512, mbuf_fast_free: true },
      mtu: 9000,
      promisc: true,
      kni_name: 'lan.kni',
    };
    const conf = buildDpvsConf({ dpvsVersion: '1.9.10', nics: [nic], workers: layoutFor([nic], 2) });
    const d = conf.netif_defs.devices[0];
    expect(d?.rx).toEqual({ queue_number: 4, descriptor_number: 2048, rss: 'tcp' });
    expect(d?.tx).toEqual({ queue_number: 4, descriptor_number: 512, mbuf_fast_free: true });
    expect(d?.mtu).toBe(9000);
    expect(d?.promisc_mode).toBe(true);
    expect(d?.kni_name).toBe('lan.kni');
  });

  it('mbuf_fast_free off on every port when ports sit on different NUMA nodes', () => {
    const far = { ...nic1, numaNode: 1 };
    const conf = buildDpvsConf({
      dpvsVersion: '1.9.10',
      nics: [nic0, far],
      workers: layoutFor([nic0, far], 2, TWO_NODES),
    });
    expect(conf.netif_defs.devices.map((d) => d.tx.mbuf_fast_free)).toEqual([false, false]);
    const same = buildDpvsConf({
      dpvsVersion: '1.9.10',
      nics: [nic0, nic1],
      workers: layoutFor([nic0, nic1], 2),
    });
    expect(same.netif_defs.devices.map((d) => d.tx.mbuf_fast_free)).toEqual([undefined, undefined]);
    expect(renderDpvsConf(conf)).toMatch(/^\s+mbuf_fast_free\s+off$/m);
  });

  it('flow_enable off with one slave unless the inventory says otherwise', () => {
    const one = buildDpvsConf({ dpvsVersion: '1.9.10', nics: [nic0], workers: layoutFor([nic0], 1) });
    expect(one.sa_pool?.flow_enable).toBe(false);
    const forced = buildDpvsConf({
      dpvsVersion: '1.9.10',
      nics: [nic0],
      workers: layoutFor([nic0], 2),
      settings: { sa_pool_flow_enable: false },
    });
    expect(forced.sa_pool?.flow_enable).toBe(false);
  });

  it('settings reach global_defs, netif_defs and ipvs_defs', () => {
    const conf = buildDpvsConf({
      dpvsVersion: '1.10.2',
      nics: [nic0],
      workers: layoutFor([nic0], 1),
      settings: {
        log_level: 'DEBUG',
        log_file: '/var/log/dpvs.log',
        kni: false,
        pktpool_size: 65535,
        pktpool_cache: 128,
        conn_pool_size: 65536,
        conn_redirect: true,
      },
    });
    const text = renderDpvsConf(conf);
    expect(text).toMatch(/^\s+log_level\s+DEBUG$/m);
    expect(text).toMatch(/^\s+log_file\s+\/var\/log\/dpvs\.log$/m);
    expect(text).toMatch(/^\s+<init> kni\s+off$/m);
    expect(text).toMatch(/^\s+<init> pktpool_size\s+65535$/m);
    expect(text).toMatch(/^\s+<init> pktpool_cache\s+128$/m);
    expect(text).toMatch(/^\s+<init> conn_pool_size\s+65536$/m);
    expect(text).toMatch(/^\s+<init> redirect\s+on$/m);
  });

  it('1.8 grammar: per-device fdir, no flow_enable, no ipset_defs, no mbuf_fast_free', () => {
    const far = { ...nic1, numaNode: 1 };
    const conf = buildDpvsConf({
      dpvsVersion: '1.8.12',
      nics: [nic0, far],
      workers: layoutFor([nic0, far], 1, TWO_NODES),
    });
    expect(conf.netif_defs.devices[0]?.fdir).toEqual({ mode: 'perfect', pballoc: '64k', status: 'matched' });
    expect(conf.sa_pool).toEqual({ pool_hash_size: 16 });
    expect(conf.ipset_defs).toBeUndefined();
    const text = renderDpvsConf(conf);
    expect(text).not.toContain('flow_enable');
    expect(text).not.toContain('mbuf_fast_free');
    expect(conf.global_defs.kni).toBeUndefined();
    expect(text).toMatch(/^ {8}fdir \{$/m);
  });

  it('1.10 uses the 1.9 grammar and virtio-user KNI', () => {
    expect(grammarOf('1.10.2')).toBe('1.10');
    expect(grammarOf('1.10-2')).toBe('1.10');
    expect(grammarOf('1.9.10')).toBe('1.9');
    expect(grammarOf('1.8.12')).toBe('1.8');
    expect(kniBackend('1.10.2')).toBe('virtio-user');
    expect(kniBackend('1.9.10')).toBe('rte_kni');
    const a = buildDpvsConf({ dpvsVersion: '1.10.2', nics: [nic0], workers: layoutFor([nic0], 2) });
    const b = buildDpvsConf({ dpvsVersion: '1.9.10', nics: [nic0], workers: layoutFor([nic0], 2) });
    expect({ ...a, dpvsVersion: 'x' }).toEqual({ ...b, dpvsVersion: 'x' });
  });
});

describe('renderDpvsConf', () => {
  const conf = buildDpvsConf({
    dpvsVersion: '1.9.10',
    nics: [nic0, nic1],
    workers: layoutFor([nic0, nic1], 2),
  });
  const text = renderDpvsConf(conf);

  it('starts with the managed-by header and records the version', () => {
    expect(text.split('\n').slice(0, 6).join('\n')).toContain(MANAGED_MARKER);
    expect(text).toMatch(/^! dpvs-version: 1\.9\.10$/m);
  });

  it('writes blocks in upstream order', () => {
    const order = [
      'global_defs',
      'netif_defs',
      'worker_defs',
      'timer_defs',
      'neigh_defs',
      'ipset_defs',
      'ipv4_defs',
      'ipv6_defs',
      'ctrl_defs',
      'ipvs_defs',
      'sa_pool',
    ];
    const positions = order.map((b) => text.search(new RegExp(`^${b} \\{$`, 'm')));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
  });

  it('uses <init> markers, 4-space indentation and no tabs', () => {
    expect(text).toMatch(/^ {4}<init> device dpdk0 \{$/m);
    expect(text).toMatch(/^ {4}<init> worker cpu\d+ \{$/m);
    expect(text).toMatch(/^ {8}rx \{$/m);
    expect(text).toMatch(/^ {12}queue_number\s+2$/m);
    expect(text).not.toContain('\t');
    for (const line of text.split('\n')) expect((line.match(/^ */)?.[0].length ?? 0) % 4).toBe(0);
  });

  it('is deterministic', () => {
    expect(renderDpvsConf(structuredClone(conf))).toBe(text);
  });

  it('device blocks keep the NIC order (= DPDK port order)', () => {
    const swapped = buildDpvsConf({
      dpvsVersion: '1.9.10',
      nics: [nic1, nic0],
      workers: layoutFor([nic1, nic0], 2),
    });
    const t = renderDpvsConf(swapped);
    expect(t.indexOf('device dpdk1')).toBeLessThan(t.indexOf('device dpdk0'));
    expect(parseDpvsConf(t).netif_defs.devices.map((d) => d.name)).toEqual(['dpdk1', 'dpdk0']);
  });

  it('refuses a version string that would break the header', () => {
    expect(() => renderDpvsConf({ ...conf, dpvsVersion: '1.9\nglobal_defs {' })).toThrow(/plain version/);
  });
});

describe('unifiedDiff', () => {
  const before = renderDpvsConf(
    buildDpvsConf({ dpvsVersion: '1.9.10', nics: [nic0], workers: layoutFor([nic0], 2) }),
  );
  const after = renderDpvsConf(
    buildDpvsConf({
      dpvsVersion: '1.9.10',
      nics: [nic0],
      workers: layoutFor([nic0], 2),
      settings: { pktpool_size: 65535 },
    }),
  );

  it('is empty for equal texts', () => {
    expect(unifiedDiff(before, before, { oldLabel: 'a', newLabel: 'b' })).toBe('');
  });

  it('shows the changed line with labels and context', () => {
    const d = unifiedDiff(before, after, { oldLabel: 'host1:/etc/dpvs.conf', newLabel: 'planned' });
    const lines = d.split('\n');
    expect(lines[0]).toBe('--- host1:/etc/dpvs.conf');
    expect(lines[1]).toBe('+++ planned');
    expect(lines.filter((l) => l.startsWith('-') && !l.startsWith('---'))).toEqual([
      '-    <init> pktpool_size     524287',
    ]);
    expect(lines.filter((l) => l.startsWith('+') && !l.startsWith('+++'))).toEqual([
      '+    <init> pktpool_size     65535',
    ]);
    expect(lines.some((l) => l.startsWith('@@ '))).toBe(true);
  });
});
