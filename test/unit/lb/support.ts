/** Shared fixtures for the unit tests under test/unit/lb/: the tutorial's two-arm FullNAT balancer. */
import { readFileSync } from 'node:fs';
import type { Facts } from '../../../src/facts/types.js';
import type { ServiceEntry } from '../../../src/inventory/schema.js';
import type { LoadedInventory, ResolvedHost } from '../../../src/inventory/types.js';
import type { PlanContext } from '../../../src/plan/task.js';
import { fleetOf } from '../../../src/plan/fleet.js';

export const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/lb/${name}`, import.meta.url), 'utf8');

export function tutorialHost(over: Partial<ResolvedHost> = {}): ResolvedHost {
  return {
    name: 'lb1',
    address: '192.0.2.10',
    roles: ['balancer'],
    groups: [],
    routes: [
      { prefix: '10.0.96.0/24', dev: 'dpdk2' },
      { prefix: '192.168.229.0/24', dev: 'dpdk0' },
      { prefix: 'default', via: '10.0.96.254', dev: 'dpdk2' },
    ],
    ...over,
  };
}

export function tutorialService(over: Partial<ServiceEntry> = {}): ServiceEntry {
  return {
    name: 'web',
    vip: '10.0.96.204',
    port: 80,
    protocol: 'tcp',
    scheduler: 'rr',
    mode: 'fullnat',
    balancers: ['lb1'],
    vip_dev: 'dpdk2',
    local_addresses: { lb1: [{ address: '192.168.229.204', dev: 'dpdk0' }] },
    real_servers: [{ address: '192.168.229.1', port: 80 }],
    ...over,
  };
}

/** Outputs as the tutorial printed them after its commands ran. */
export function tutorialOutputs(): Facts['outputs'] {
  return {
    'dpip-addr': { code: 0, stdout: fixture('tutorial-dpip-addr-show.txt') },
    'dpip-addr6': { code: 0, stdout: '' },
    'dpip-route': { code: 0, stdout: fixture('tutorial-dpip-route-show.txt') },
    'dpip-route6': { code: 0, stdout: '' },
    'ipvsadm-ln': { code: 0, stdout: fixture('tutorial-ipvsadm-ln.txt') },
    'ipvsadm-G': { code: 0, stdout: fixture('tutorial-ipvsadm-G.txt') },
  };
}

export function dpvsDownOutputs(): Facts['outputs'] {
  const refused = { code: 1, stdout: '' };
  return {
    'dpip-addr': refused,
    'dpip-addr6': refused,
    'dpip-route': refused,
    'dpip-route6': refused,
    'ipvsadm-ln': { code: 2, stdout: '' },
    'ipvsadm-G': { code: 2, stdout: '' },
  };
}

/** `/opt/dpvs/current/bin/dpip ...` → `dpip ...` */
export const short = (cmds: string[]): string[] =>
  cmds.map((c) => unwrapAdd(c).replace(/^\/opt\/dpvs\/current\/bin\//, ''));

/** The command inside addUnlessPresent() (adds planned while dpvs is down); others unchanged. */
export function unwrapAdd(c: string): string {
  const m = /^out=\$\(\{ (.*); \} 2>&1\) \|\| case "\$out" in \*'already exist'\*\) /s.exec(c);
  return m ? (m[1] as string) : c;
}

export function emptyFacts(over: Partial<Facts> = {}): Facts {
  return {
    hostname: 'lb1',
    os: { id: 'debian', versionId: '12', prettyName: 'Debian 12', family: 'debian', packageManager: 'apt' },
    kernel: {
      release: '6.1.0',
      machine: 'x86_64',
      headersInstalled: true,
      cmdline: '',
      lockdown: 'none',
      secureBoot: false,
      ipv6: true,
      iommuGroups: 0,
    },
    cpu: { model: 'x', online: [0, 1], flags: [], threadsPerCore: 1, smtActive: false, sockets: 1 },
    memory: { totalKb: 0, freeKb: 0, hugepagesTotal: 0, hugepagesFree: 0, hugepageSizeKb: 2048 },
    numa: [],
    hugepages: [],
    mounts: [],
    nics: [],
    modules: [],
    modulesAvailable: [],
    limits: { nofile: 1024 },
    commands: {},
    packages: {},
    files: {},
    diskFreeMb: {},
    services: {},
    outputs: {},
    processes: {},
    probeMs: 0,
    ...over,
  };
}

export function inventoryOf(hosts: ResolvedHost[], services: ServiceEntry[]): LoadedInventory {
  return {
    file: '/inv/inventory.yaml',
    dir: '/inv',
    checksum: '0'.repeat(64),
    doc: { version: 1, hosts: {} },
    hosts,
    services,
    warnings: [],
    positionOf: () => ({ line: 1, col: 1 }),
    positionOfHostValue: () => ({ line: 1, col: 1 }),
  };
}

export function ctxOf(host: ResolvedHost, services: ServiceEntry[], facts: Facts): PlanContext {
  const inventory = inventoryOf([host], services);
  return { host, inventory, facts, fleet: fleetOf(inventory, new Map([[host.name, facts]])) };
}
