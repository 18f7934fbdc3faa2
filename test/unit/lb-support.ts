/** Shared fixtures for the lb-* unit tests: the tutorial's two-arm FullNAT balancer. */
import { readFileSync } from 'node:fs';
import type { Facts } from '../../src/facts/types.js';
import type { ServiceEntry } from '../../src/inventory/schema.js';
import type { ResolvedHost } from '../../src/inventory/types.js';

export const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/lb/${name}`, import.meta.url), 'utf8');

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
  cmds.map((c) => c.replace(/^\/opt\/dpvs\/current\/bin\//, ''));
