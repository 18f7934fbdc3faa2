/**
 * The inventory of the VM guest: host vm1 (balancer + realserver) at 127.0.0.1:<port>, SSH with the
 * image's key and the pinned known_hosts (paths relative to the inventory's directory), 2 MB hugepages
 * on both NUMA nodes, the e1000 and virtio test NICs by PCI address, DPDK on uio_pci_generic.
 *
 * `up` writes it to .vm/run/vm.yaml (it holds the per-run port); inventories/vm.yaml is the committed
 * template with port 2222 and q35's usual addresses, kept in sync by a test.
 */
import { rename, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { stringify } from 'yaml';
import type { Inventory } from '../../src/inventory/schema.js';

export interface VmInventoryInput {
  inventoryFile: string;
  identity: string;
  knownHosts: string;
  port: number;
  /** PCI addresses of the test NICs, found by MAC in the guest */
  e1000Pci: string;
  virtioPci: string;
}

export const TEMPLATE_PORT = 2222;
/** Where q35 puts the test NICs with this command line (the real ones are found by MAC at `up`). */
export const TEMPLATE_E1000_PCI = '0000:00:03.0';
export const TEMPLATE_VIRTIO_PCI = '0000:00:04.0';
export const HUGEPAGES_PER_NODE = 64;

function rel(from: string, to: string): string {
  return relative(from, to) || '.';
}

export function vmInventory(i: VmInventoryInput): Inventory {
  const dir = dirname(i.inventoryFile);
  return {
    version: 1,
    hosts: {
      vm1: {
        address: '127.0.0.1',
        roles: ['balancer', 'realserver'],
        ssh: {
          user: 'root',
          port: i.port,
          identity_file: rel(dir, i.identity),
          known_hosts: rel(dir, i.knownHosts),
          host_key_policy: 'strict',
          use_ssh_config: false,
          connect_timeout_s: 20,
        },
        expect: { numa_nodes: 2, os: 'debian' },
        // Each node has 1 GiB: ask for 128 MB of 2 MB pages per node, leave 256 MB to the OS.
        hugepages: { size: '2M', per_node: HUGEPAGES_PER_NODE, reserve_mb: 256 },
        dpdk: { driver: 'uio_pci_generic' },
        // 128 MiB per node holds 16383 mbufs and 16384 connections (~46 MiB); the default pools do not.
        dpvs: { pktpool_size: 16383, conn_pool_size: 16384 },
        nics: [
          { name: 'dpdk0', match: { pci: i.e1000Pci } },
          { name: 'dpdk1', match: { pci: i.virtioPci } },
        ],
        // Two CPUs, one per node: `workers: auto` keeps CPU 0 for the OS and finds no room, so the layout
        // is upstream's smallest: the master on CPU 0, one slave on CPU 1 serving queue 0 of both ports.
        workers: {
          master: 0,
          slaves: [{ cpu: 1, ports: { dpdk0: { rx: [0], tx: [0] }, dpdk1: { rx: [0], tx: [0] } } }],
        },
        // dpvs maps each hugepage as a file: the unit's LimitNOFILE must exceed the page count (SYS-003).
        nofile: 65536,
        // The guest has no route out (restrict=on): nothing can be installed from a mirror.
        packages: false,
      },
    },
  };
}

export function vmInventoryYaml(inv: Inventory, note: string): string {
  return (
    "# The VM tier's guest (test/vm/README.md): a real Debian kernel under QEMU software emulation.\n" +
    `# ${note}\n` +
    stringify(inv, { lineWidth: 0 })
  );
}

export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
