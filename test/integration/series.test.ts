/**
 * Each supported DPVS series end to end on a lab balancer, with the real CLI: the seed tutorial's stack
 * (DPVS 1.8.12 on DPDK 18.11.2), 1.9.10 on 20.11.10 and 1.10.2 on 24.11. Each applies a FullNAT
 * service, a single-address SNAT match service and IPv4 + IPv6 addresses and routes; dpvs is healthy and
 * runs as that release starts (1.8: `dpvs -- <EAL>` on /etc/dpvs.conf and /var/run/dpvs_ctrl); a second
 * plan is empty (the listings are read back as upstream prints them: test/fixtures/upstream/). Run under
 * the lab lock: npm run build && /work/lab-run.sh npx vitest run test/integration/series.test.ts
 */
import { asRoot } from '../support/root.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureSource, labInventoryCopy, runCli } from './cli-support.js';
import { labSsh, stopLab } from '../lab/harness.js';
import { FIXTURES_URL, up } from '../lab/lab.js';
import { DEFAULT_SHAPE, MODULES_COMMON } from '../lab/profiles.js';
import { buildFixtures } from '../lab/fixtures/build.js';
import { labPaths } from '../lab/paths.js';

const root = asRoot;
let work: string;

type Doc = { hosts: Record<string, Record<string, unknown>>; services?: unknown[] };

const source = (kind: 'dpdk' | 'dpvs', version: string) => fixtureSource(kind, version, FIXTURES_URL);

/** The lab inventory with lb1 running the given pairing and the services below. */
function inventory(dpvs: string, dpdk: string, driver: string): string {
  return labInventoryCopy<Doc>(work, `inventory-${dpvs}.yaml`, (doc) => edit(doc, dpvs, dpdk, driver));
}

function edit(doc: Doc, dpvs: string, dpdk: string, driver: string): void {
  // the other hosts stay (groups name them) but are not touched (--limit lb1); no keepalived pair
  for (const h of Object.values(doc.hosts)) delete h.keepalived;
  const lb = doc.hosts.lb1 as Record<string, unknown>;
  lb.dpdk = { version: dpdk, driver, source: source('dpdk', dpdk) };
  lb.dpvs = { version: dpvs, source: source('dpvs', dpvs), pktpool_size: 65535, start_timeout_s: 60 };
  lb.hugepages = { size: '2M', per_node: 512 };
  lb.workers = 'auto';
  lb.addresses = [
    { address: '10.0.96.204/32', dev: 'dpdk1' },
    { address: '10.0.96.10/32', dev: 'dpdk1', sapool: true },
    { address: '192.168.100.1/24', dev: 'dpdk0' },
    { address: '2001:db8:96::1/64', dev: 'dpdk1' },
  ];
  lb.routes = [
    { prefix: '10.0.96.0/24', dev: 'dpdk1' },
    { prefix: '192.168.229.0/24', dev: 'dpdk0' },
    { prefix: 'default', via: '10.0.96.254', dev: 'dpdk1', metric: 5 },
    { prefix: '2001:db8:5::/64', via: '2001:db8:96::fe', dev: 'dpdk1' },
  ];
  doc.services = [
    {
      name: 'web',
      vip: '10.0.96.204',
      port: 80,
      scheduler: 'rr',
      mode: 'fullnat',
      balancers: ['lb1'],
      vip_dev: 'dpdk1',
      local_addresses: { lb1: [{ address: '192.168.229.204', dev: 'dpdk0' }] },
      real_servers: [
        { address: '192.168.229.1', port: 80 },
        { address: '192.168.229.2', port: 80 },
      ],
    },
    {
      name: 'snat-one',
      vip: '10.0.96.10',
      port: 0,
      mode: 'snat',
      scheduler: 'rr',
      balancers: ['lb1'],
      vip_dev: 'dpdk1',
      match: { proto: 'tcp', src_range: '192.168.100.7', oif: 'dpdk1' },
    },
  ];
}

const PAIRINGS: Array<[string, string, string]> = [
  ['1.8.12', '18.11.2', 'igb_uio'],
  ['1.9.10', '20.11.10', 'uio_pci_generic'],
  ['1.10.2', '24.11', 'uio_pci_generic'],
];

describe.skipIf(!root)('every DPVS series on a lab balancer', () => {
  beforeAll(async () => {
    // lb1 gets vhost/vhost_net, which Debian's kernel ships (DPVS 1.10's virtio-user KNI): the lab's
    // Debian profile leaves them out for a preflight trip
    await up({
      paths: labPaths(),
      shape: {
        ...DEFAULT_SHAPE,
        overrides: { lb1: { availableModules: { ...MODULES_COMMON, vhost: null, vhost_net: null } } },
      },
    });
    await buildFixtures(labPaths().www);
    work = mkdtempSync(path.join(tmpdir(), 'series-it-'));
  }, 600_000);
  afterAll(async () => {
    await stopLab();
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  for (const [dpvs, dpdk, driver] of PAIRINGS) {
    it(`DPVS ${dpvs} on DPDK ${dpdk}: applies, is healthy, and the next plan is empty`, async () => {
      const inv = inventory(dpvs, dpdk, driver);
      const args = ['--limit', 'lb1', '--run-dir', path.join(work, `runs-${dpvs}`)];
      const apply = await runCli(['apply', inv, '--yes', ...args], 1_500_000);
      expect(apply.code, apply.stdout + apply.stderr).toBe(0);
      expect((await labSsh('lb1', 'systemctl is-active dpvs')).stdout.trim()).toBe('active');
      const unit = (await labSsh('lb1', 'cat /etc/systemd/system/dpvs.service')).stdout;
      const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
      if (dpvs.startsWith('1.8.')) {
        // 1.8 takes no -c/-p/-x: its files are fixed (test/fixtures/upstream/dpvs.yaml dpvs-cli-1.8)
        expect(exec).toMatch(/\/dpvs -- /);
        expect(unit).not.toContain('DPVS_IPC_FILE');
        expect((await labSsh('lb1', 'test -S /var/run/dpvs_ctrl && echo yes')).stdout.trim()).toBe('yes');
      } else {
        expect(exec).toContain(' -c /etc/dpvs.conf -p /var/run/dpvs.pid -x /var/run/dpvs.ipc -- ');
      }
      const ln = (await labSsh('lb1', 'DPVS_IPC_FILE=/var/run/dpvs.ipc /opt/dpvs/current/bin/ipvsadm -ln'))
        .stdout;
      expect(ln).toContain('TCP  10.0.96.204:80 rr');
      expect(ln).toContain('MATCH tcp,from=192.168.100.7-192.168.100.7:0-0,oif=dpdk1 rr');
      const r6 = (
        await labSsh('lb1', 'DPVS_IPC_FILE=/var/run/dpvs.ipc /opt/dpvs/current/bin/dpip -6 route show')
      ).stdout;
      expect(r6).toContain('inet6 2001:db8:5::/64 via 2001:db8:96::fe dev dpdk1 scope global');
      const again = await runCli(['plan', inv, ...args], 600_000);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      const verify = await runCli(['verify', inv, ...args], 600_000);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      // and so with pruning: nothing dpvs made itself (link-local addresses, address routes) is drift
      expect(verify.stdout).not.toMatch(/unmanaged|fe80/);
    }, 1_800_000);
  }
});
