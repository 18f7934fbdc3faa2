/**
 * Effective settings the checks reason about: inventory values with their documented defaults
 * filled in (versions, binding driver, KNI, hugepages per node, queues). Pure.
 */
import type { Facts } from '../facts/types.js';
import { DEFAULT_DPVS_VERSION } from '../versions.js';
import type { ResolvedHost } from '../inventory/types.js';
import type { NicSettings } from '../inventory/schema.js';

/** CONFIG_DPVS_MAX_SOCKET upstream ships. */
export const DEFAULT_MAX_SOCKET = 2;
/** Memory left to the OS on each node when the inventory says nothing (hugepages.reserve_mb). */
export const DEFAULT_RESERVE_MB = 1024;
export const DEFAULT_PREFIX = '/opt/dpvs';
export const DEFAULT_PID_FILE = '/var/run/dpvs.pid';

export interface Version {
  major: number;
  minor: number;
  patch: number;
}

export function parseVersion(s: string): Version {
  const [major = 0, minor = 0, patch = 0] = s
    .split(/[.-]/)
    .map((p) => Number.parseInt(p, 10))
    .map((n) => (Number.isFinite(n) ? n : 0));
  return { major, minor, patch };
}

/** a < b → negative, a = b → 0, a > b → positive. */
export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function formatVersion(v: Version): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

export type DpvsLine = '1.8' | '1.9' | '1.10' | 'other';

export function dpvsVersion(host: ResolvedHost): Version {
  return parseVersion(host.dpvs?.version ?? DEFAULT_DPVS_VERSION);
}

export function dpvsLine(host: ResolvedHost): DpvsLine {
  const v = dpvsVersion(host);
  if (v.major !== 1) return 'other';
  if (v.minor === 8) return '1.8';
  if (v.minor === 9) return '1.9';
  if (v.minor === 10) return '1.10';
  return 'other';
}

/** The DPDK release each DPVS line is built against (reference §1). */
export function dpdkVersion(host: ResolvedHost): Version {
  if (host.dpdk?.version) return parseVersion(host.dpdk.version);
  switch (dpvsLine(host)) {
    case '1.8':
      return parseVersion('18.11.2');
    case '1.10':
      return parseVersion('24.11');
    default:
      return parseVersion('20.11.10');
  }
}

export type BindDriver = 'igb_uio' | 'uio_pci_generic' | 'vfio-pci';

/** The userspace driver DPDK ports are bound to: igb_uio with 18.11 (make era), else uio_pci_generic. */
export function bindDriver(host: ResolvedHost): BindDriver {
  if (host.dpdk?.driver) return host.dpdk.driver;
  return dpdkVersion(host).major < 20 ? 'igb_uio' : 'uio_pci_generic';
}

/** KNI (exception path): on unless dpvs.kni is false. */
export function kniEnabled(host: ResolvedHost): boolean {
  return host.dpvs?.kni !== false;
}

export { isBalancer, isRealserver } from '../inventory/roles.js';

export function maxSocket(host: ResolvedHost): number {
  return host.dpvs?.max_socket ?? DEFAULT_MAX_SOCKET;
}

export function pidFile(_host: ResolvedHost): string {
  return DEFAULT_PID_FILE;
}

export function hugepageSizeKb(host: ResolvedHost): number {
  return host.hugepages?.size === '1G' ? 1048576 : 2048;
}

export function reserveMb(host: ResolvedHost): number {
  return host.hugepages?.reserve_mb ?? DEFAULT_RESERVE_MB;
}

/**
 * Pages of the configured size the inventory asks for on each NUMA node of the host, or null when
 * the inventory does not manage hugepages on that node (per_node unset, or a map without the node).
 */
export function requestedPages(host: ResolvedHost, node: number): number | null {
  const perNode = host.hugepages?.per_node;
  if (perNode === undefined) return null;
  if (typeof perNode === 'number') return perNode;
  return perNode[String(node)] ?? null;
}

/** Free pages of the configured size dpvs will find on a node: requested if managed, else what is free now. */
export function pagesForDpvs(host: ResolvedHost, facts: Facts, node: number): number {
  const requested = requestedPages(host, node);
  if (requested !== null) return requested;
  const sizeKb = hugepageSizeKb(host);
  const n = facts.numa.find((x) => x.id === node);
  return n?.hugepages.find((h) => h.sizeKb === sizeKb)?.free ?? 0;
}

export interface PortQueues {
  name: string;
  rxQueues: number;
  txQueues: number;
}

/**
 * Queues the inventory sets on a NIC: rx.queues / tx.queues, each defaulting to the other; 0 when
 * neither is set (the layout then gives the port one queue per slave).
 */
export function configuredQueues(nic: NicSettings): PortQueues {
  const rx = nic.rx?.queues ?? nic.tx?.queues ?? 0;
  const tx = nic.tx?.queues ?? nic.rx?.queues ?? 0;
  return { name: nic.name, rxQueues: rx, txQueues: tx };
}
