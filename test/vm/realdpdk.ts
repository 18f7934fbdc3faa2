/**
 * Upstream's real DPDK 20.11.10 for the VM tier: the release tarball (scripts/fetch-dpdk-src.sh, cached in
 * ~/.cache/dpvs-deploy/dpdk-src, sha256-pinned), the lab's real-DPDK DPVS fixture (its src/main.c brings
 * up a real DPDK data plane before the simulated control plane), and the inventory that puts the guest
 * and the native-speed build host (builder.ts) in one run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { HostEntry, Inventory } from '../../src/inventory/schema.js';
import { buildFixtures } from '../lab/fixtures/build.js';
import { disabledDrivers, fetchDpdkSource } from '../support/dpdk-trim.js';
import type { Builder } from './builder.js';
import { vmPaths } from './paths.js';

export const REAL_DPDK_VERSION = '20.11.10';
export const REAL_DPDK_SHA = '60d1ccd072102dd032c7915f6664bf4124f50e712045b6a3c55e651cb75cd530';
/** What the guest's dpvs needs: the e1000 and virtio PMDs (bus/pci, mempool/ring stay). */
const NET_KEPT = ['e1000', 'virtio'];

/** The real tarball, fetched (or found in the cache) by the project's script; or why not. */
export function fetchRealDpdk(): { file: string; error?: string } {
  return fetchDpdkSource(vmPaths().root, REAL_DPDK_VERSION, (d) => d === `dpdk-stable-${REAL_DPDK_VERSION}`);
}

/**
 * igb_uio's source: Debian's dpdk-kmods-dkms (pinned .deb) repacked by scripts/fetch-dpdk-src.sh kmods
 * as a reproducible tarball, cached beside the DPDK tarball; or why not.
 */
export function fetchKmods(): { file: string; error?: string } {
  return fetchDpdkSource(vmPaths().root, 'kmods', (d) => d.startsWith('dpdk-kmods-'));
}

/** Every driver but what the guest uses (net/e1000, net/virtio on bus/pci): a few hundred ninja steps. */
export function vmMesonOptions(tarball: string): string[] {
  return ['-Dtests=false', `-Ddisable_drivers=${disabledDrivers(tarball, NET_KEPT, ['stack'])}`];
}

/** The lab's DPVS 1.9.10 fixture for the real DPDK tree (dpvs-1.9.10-realdpdk.tar.gz). */
export async function realDpvs(): Promise<{ file: string; sha256: string }> {
  const m = await buildFixtures(join(vmPaths().root, '.vm', 'fixtures', 'lab'));
  const a = m.artifacts.find((x) => x.name === 'dpvs-1.9.10-realdpdk.tar.gz');
  if (!a) throw new Error('no dpvs-1.9.10-realdpdk.tar.gz fixture');
  return { file: a.path, sha256: a.sha256 };
}

export interface RealInventoryInput {
  dpdkFile: string;
  dpvs: { file: string; sha256: string };
  builder: Builder;
  /**
   * the kernel modules, built on the builder for the guest's kernel (-Dkernel_dir=/lib/modules/<kver>,
   * the image's headers): igb_uio from this dpdk-kmods tarball (the NICs' driver) and rte_kni (kni on)
   */
  kmods: { file: string; kver: string };
  /** changes to vm1 after the defaults below */
  edit?: (h: HostEntry) => void;
}

/**
 * .vm/run/<name>.yaml: vm1 (the guest) as a balancer running the real-DPDK dpvs, and the build host
 * `builder` with the same DPDK/DPVS settings (march default: the guest's CPU is QEMU's `-cpu max`, not
 * this machine's), so the tool builds once on the builder and the guest receives the build.
 */
export function realInventory(name: string, i: RealInventoryInput): string {
  const p = vmPaths();
  const inv = parse(readFileSync(p.inventory, 'utf8')) as Inventory;
  const vm1 = inv.hosts.vm1;
  if (!vm1) throw new Error('vm1 is missing from the VM inventory');
  const dpdk = {
    version: REAL_DPDK_VERSION,
    source: { file: i.dpdkFile, sha256: REAL_DPDK_SHA },
    march: 'default',
    meson_options: [...vmMesonOptions(i.dpdkFile), `-Dkernel_dir=/lib/modules/${i.kmods.kver}`],
    driver: 'igb_uio' as const,
    kmods: { file: i.kmods.file },
    igb_uio: { intr_mode: 'legacy' as const, wc_activate: true },
  };
  const dpvs = { version: '1.9.10', source: { file: i.dpvs.file, sha256: i.dpvs.sha256 }, kni: true };
  vm1.roles = ['balancer'];
  vm1.dpdk = { ...dpdk };
  // 128 MiB of hugepages per node: upstream's default mbuf pool does not fit; 16383 mbufs do
  vm1.dpvs = { ...dpvs, pktpool_size: 16383, conn_pool_size: 16384 };
  i.edit?.(vm1);
  const builder: HostEntry = {
    address: '127.0.0.1',
    roles: ['balancer'],
    ssh: {
      user: 'root',
      port: i.builder.port,
      identity_file: i.builder.clientKey.privatePath,
      known_hosts: i.builder.knownHosts,
      host_key_policy: 'strict',
      use_ssh_config: false,
    },
    // the build set is in its root filesystem already (builder.sh prepare)
    packages: false,
    // a build host: it runs only the build tasks (--tasks dpdk-source,dpdk-build,dpvs-build), never dpvs
    preflight: {
      waive: [
        { id: 'CONF-001', reason: 'build host: builds for vm1, runs no dpvs' },
        { id: 'HP-003', reason: 'build host: builds for vm1, allocates no hugepages' },
      ],
    },
    dpdk: { ...dpdk },
    dpvs,
  } as HostEntry;
  inv.hosts = { [i.builder.name]: builder, vm1 };
  const file = join(p.run, `${name}.yaml`);
  writeFileSync(
    file,
    `# VM suite variant: ${name} (the guest and its build host)\n${stringify(inv, { lineWidth: 0 })}`,
  );
  return file;
}
