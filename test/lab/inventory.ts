/**
 * The inventory matching a lab: every host with its lab address, SSH through the lab's key and
 * known_hosts (paths relative to the inventory's directory), balancers with their DPDK NICs, 2 MB
 * hugepages per node, DPDK 20.11.10 on uio_pci_generic and DPVS 1.9.10, and lb1/lb2 as a keepalived
 * MASTER/BACKUP pair.
 */
import { writeFile, rename } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { stringify } from 'yaml';
import type { Inventory, HostEntry } from '../../src/inventory/schema.js';
import type { LabHostProfile } from './profile-types.js';
import { dpdkNics } from './profiles.js';

export interface InventoryPaths {
  inventoryFile: string;
  identity: string;
  knownHosts: string;
  /**
   * the lab's fixture tarballs (.lab/fixtures/www, built by `npm run lab -- up`): with it, balancers
   * get DPDK and DPVS as `source: {file}` pushed from the control machine
   */
  fixtures?: string;
}

/** The fixture tarballs the lab inventory installs (test/lab/fixtures recipes). */
export const LAB_DPDK = { version: '20.11.10', tarball: 'dpdk-20.11.10.tar.xz' };
export const LAB_DPVS = { version: '1.9.10', tarball: 'dpvs-1.9.10.tar.gz' };

/**
 * The lab's SSH settings for an inventory: root through the lab's key and known_hosts, host keys
 * checked strictly, no ssh_config. `dir`: the inventory's directory, for paths relative to it
 * (absolute paths without it).
 */
export function labSshDefaults(
  paths: Pick<InventoryPaths, 'identity' | 'knownHosts'>,
  dir?: string,
): NonNullable<NonNullable<Inventory['defaults']>['ssh']> {
  return {
    user: 'root',
    identity_file: dir === undefined ? paths.identity : rel(dir, paths.identity),
    known_hosts: dir === undefined ? paths.knownHosts : rel(dir, paths.knownHosts),
    host_key_policy: 'strict',
    use_ssh_config: false,
  };
}

function rel(from: string, to: string): string {
  const r = relative(from, to);
  return r === '' ? '.' : r;
}

function hostEntry(p: LabHostProfile, balancerIndex: number): HostEntry {
  const e: HostEntry = { address: p.address, roles: [...p.roles] };
  const os = p.os.replace(/\d+$/, '') as 'debian' | 'ubuntu' | 'rocky' | 'centos';
  e.expect = { numa_nodes: p.numaNodes, smt: p.smt, os };
  if (p.roles.includes('balancer')) {
    e.nics = dpdkNics(p).map((n, i) => ({ name: `dpdk${i}`, match: { pci: n.pci } }));
    if (balancerIndex < 2) {
      const master = balancerIndex === 0;
      e.keepalived = {
        enabled: true,
        vrrp_instance: 'VI_1',
        virtual_router_id: 51,
        state: master ? 'MASTER' : 'BACKUP',
        priority: master ? 150 : 100,
        interface: 'dpdk0',
        kni_address: master ? '192.168.100.2/24' : '192.168.100.3/24',
      };
    }
    // The tutorial's two-arm FullNAT, on the lab's two DPDK ports: dpdk1 faces the clients (WAN, the VIP),
    // dpdk0 the real servers (LAN, the local addresses).
    e.routes = [
      { prefix: '10.0.96.0/24', dev: 'dpdk1' },
      { prefix: '192.168.229.0/24', dev: 'dpdk0' },
      { prefix: 'default', via: '10.0.96.254', dev: 'dpdk1' },
    ];
    if (p.hugepages === 'real') {
      // The machine's real counter: keep the ask small.
      e.hugepages = { size: '2M', per_node: 16 };
    }
  }
  return e;
}

export function labInventory(profiles: LabHostProfile[], paths: InventoryPaths): Inventory {
  const dir = dirname(paths.inventoryFile);
  const hosts: Record<string, HostEntry> = {};
  let b = 0;
  for (const p of profiles) {
    hosts[p.name] = hostEntry(p, p.roles.includes('balancer') ? b++ : -1);
  }
  const byRole = (r: LabHostProfile['roles'][number]): string[] =>
    profiles.filter((p) => p.roles.includes(r)).map((p) => p.name);
  const balancers = byRole('balancer');
  const realservers = byRole('realserver');
  const services: NonNullable<Inventory['services']> = [];
  if (balancers.length && realservers.length)
    services.push({
      name: 'web',
      vip: '10.0.96.204',
      port: 80,
      protocol: 'tcp',
      scheduler: 'rr',
      mode: 'fullnat',
      balancers,
      vip_dev: 'dpdk1',
      local_addresses: Object.fromEntries(
        balancers.map((b, i) => [b, [{ address: lanAddress(204 + i), dev: 'dpdk0' }]]),
      ),
      // the real servers' LAN (data) addresses, 192.168.229.1, .2, ...
      real_servers: realservers.map((_, i) => ({ address: lanAddress(1 + i), port: 80 })),
    });
  return {
    version: 1,
    defaults: {
      ssh: labSshDefaults(paths, dir),
    },
    groups: {
      balancers: {
        hosts: byRole('balancer'),
        vars: {
          hugepages: { size: '2M', per_node: 512 },
          workers: 'auto',
          dpdk: {
            version: LAB_DPDK.version,
            driver: 'uio_pci_generic',
            ...(paths.fixtures && { source: { file: rel(dir, join(paths.fixtures, LAB_DPDK.tarball)) } }),
          },
          dpvs: {
            version: LAB_DPVS.version,
            ...(paths.fixtures && { source: { file: rel(dir, join(paths.fixtures, LAB_DPVS.tarball)) } }),
            // The lab's 512 x 2 MB pages per node hold 65535 mbufs and 262144 connections (~300 MiB); the
            // default pools (524287 mbufs, 2097152 connections, ~2.3 GiB per socket) do not: validate refuses them.
            pktpool_size: 65535,
            conn_pool_size: 262144,
          },
        },
      },
      realservers: {
        hosts: byRole('realserver'),
        // toa.ko/uoa.ko are built from the balancers' DPVS source
        ...(paths.fixtures && {
          vars: {
            dpvs: {
              version: LAB_DPVS.version,
              source: { file: rel(dir, join(paths.fixtures, LAB_DPVS.tarball)) },
            },
          },
        }),
      },
      clients: { hosts: byRole('client') },
    },
    hosts,
    ...(services.length ? { services } : {}),
  };
}

/** 192.168.229.0/24, the tutorial's LAN; past .254 the lab's larger shapes continue in 192.168.230.x. */
function lanAddress(n: number): string {
  return `192.168.${229 + Math.floor((n - 1) / 254)}.${((n - 1) % 254) + 1}`;
}

export function inventoryYaml(inv: Inventory, command: string): string {
  return (
    `# The local lab (test/lab). Generated by: ${command}\n` +
    '# Hosts are lab namespaces running real sshd; see test/lab/README.md.\n' +
    stringify(inv, { lineWidth: 0 })
  );
}

export async function writeInventory(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
