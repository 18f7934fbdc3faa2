/** Hugepage checks: memory for the requested pages, free pages on every node, 1G page support. */
import type { Facts } from '../../facts/types.js';
import type { ResolvedHost } from '../../inventory/types.js';
import { finding, type PreflightCheck, listText, mib } from '../check.js';
import {
  hugepageSizeKb,
  isBalancer,
  pagesForDpvs,
  requestedPages,
  reserveMb,
} from '../../desired/settings.js';

/** The NUMA node ids of a host (a host without NUMA information is one node, 0). */
function nodeIds(facts: Facts): number[] {
  return facts.numa.length ? facts.numa.map((n) => n.id) : [0];
}

function sizeText(host: ResolvedHost): string {
  return host.hugepages?.size === '1G' ? '1 GiB' : '2 MiB';
}

export const totalMemory: PreflightCheck = {
  id: 'HP-001',
  title: 'not enough memory for the requested hugepages',
  severity: 'error',
  howToFix: 'Lower hugepages.per_node (and the dpvs pools) or hugepages.reserve_mb, or add memory.',
  protects:
    'Reserving more hugepages than memory allows starves the OS (OOM) or silently yields fewer pages.',
  run({ host, facts }) {
    if (host.hugepages?.per_node === undefined) return null;
    const sizeKb = hugepageSizeKb(host);
    const nodes = nodeIds(facts);
    const pages = nodes.reduce((sum, id) => sum + (requestedPages(host, id) ?? 0), 0);
    const needKb = pages * sizeKb + nodes.length * reserveMb(host) * 1024;
    if (needKb <= facts.memory.totalKb) return null;
    return finding(
      `${mib(facts.memory.totalKb)} memory; ${pages} × ${sizeText(host)} pages need ${mib(pages * sizeKb)} ` +
        `plus ${reserveMb(host)} MiB per node for the OS`,
      `at least ${mib(needKb)} memory`,
      'lower hugepages.per_node (and dpvs.pktpool_size / conn_pool_size with it) or hugepages.reserve_mb, or add memory',
    );
  },
};

export const nodeMemory: PreflightCheck = {
  id: 'HP-002',
  title: 'not enough memory on a NUMA node for its hugepages',
  severity: 'error',
  howToFix: 'Lower hugepages.per_node for that node ({node: count}), or balance the DIMMs across sockets.',
  protects:
    'Per-node reservations beyond the node’s memory come back short, and the node is left without memory for the OS.',
  run({ host, facts }) {
    if (host.hugepages?.per_node === undefined) return null;
    const sizeKb = hugepageSizeKb(host);
    const short: string[] = [];
    const want: string[] = [];
    for (const n of facts.numa) {
      const pages = requestedPages(host, n.id);
      if (pages === null) continue;
      const needKb = pages * sizeKb + reserveMb(host) * 1024;
      if (needKb > n.memTotalKb) {
        short.push(
          `node ${n.id} has ${mib(n.memTotalKb)}, ${pages} × ${sizeText(host)} pages need ${mib(pages * sizeKb)}`,
        );
        want.push(`node ${n.id} ≥ ${mib(needKb)}`);
      }
    }
    if (short.length === 0) return null;
    return finding(
      `${listText(short)} (plus ${reserveMb(host)} MiB reserve)`,
      listText(want),
      'lower hugepages.per_node for that node (a {node: count} map), or move memory DIMMs so each socket has enough',
    );
  },
};

export const freeOnEveryNode: PreflightCheck = {
  id: 'HP-003',
  title: 'a NUMA node dpvs uses has no free hugepages',
  severity: 'error',
  howToFix: 'Give every node pages with hugepages.per_node, or shrink dpvs.pktpool_size.',
  protects:
    'DPVS makes an mbuf pool on every NUMA node: a node without free hugepages fails start with "Cannot init mbuf pool on socket N".',
  run({ host, facts }) {
    if (!isBalancer(host)) return null;
    const empty = nodeIds(facts).filter((id) => pagesForDpvs(host, facts, id) === 0);
    if (empty.length === 0) return null;
    const managed = host.hugepages?.per_node !== undefined;
    return finding(
      `no ${sizeText(host)} hugepages ${managed ? 'requested' : 'free'} on node ${empty.join(', ')}`,
      'free hugepages on every NUMA node',
      `set hugepages.per_node so every node gets pages (e.g. per_node: 4096), or shrink dpvs.pktpool_size to fit`,
    );
  },
};

/** Hugepage memory per node below which DPVS's default pools do not fit (tutorial: "less than 1GB may cause startup error"). */
export const MIN_NODE_HUGEPAGE_MB = 1024;

export const enoughPerNode: PreflightCheck = {
  id: 'HP-004',
  title: 'little hugepage memory on a NUMA node',
  severity: 'warning',
  howToFix: 'Raise hugepages.per_node, or lower dpvs.pktpool_size and dpvs.conn_pool_size.',
  protects:
    'Below about 1 GiB per node DPVS’s default mbuf and connection pools fail ("Cannot init mbuf pool", "no memory").',
  run({ host, facts }) {
    if (!isBalancer(host)) return null;
    const sizeKb = hugepageSizeKb(host);
    const low = nodeIds(facts)
      .map((id) => ({ id, mb: (pagesForDpvs(host, facts, id) * sizeKb) / 1024 }))
      .filter((x) => x.mb > 0 && x.mb < MIN_NODE_HUGEPAGE_MB);
    if (low.length === 0) return null;
    return finding(
      listText(low.map((x) => `node ${x.id}: ${x.mb} MiB`)),
      `at least ${MIN_NODE_HUGEPAGE_MB} MiB of hugepages per node (about 8 GiB for upstream's default pools)`,
      'raise hugepages.per_node, or lower dpvs.pktpool_size (e.g. 65535) and dpvs.conn_pool_size',
    );
  },
};

export const gigPagesSupported: PreflightCheck = {
  id: 'HP-005',
  title: 'CPU does not support 1 GiB hugepages',
  severity: 'error',
  howToFix: 'Use hugepages.size: 2M, or expose pdpe1gb to the VM.',
  protects:
    'hugepages.size 1G needs the pdpe1gb CPU flag; without it the kernel has no 1 GiB page pool to fill.',
  run({ host, facts }) {
    if (host.hugepages?.size !== '1G' || facts.cpu.flags.includes('pdpe1gb')) return null;
    return finding(
      'hugepages.size: 1G, but the CPU flags lack pdpe1gb',
      'CPU flag pdpe1gb',
      'use hugepages.size: 2M, or (in a VM) expose pdpe1gb (libvirt: <cpu mode="host-passthrough"/>)',
    );
  },
};

export const hugepageChecks: PreflightCheck[] = [
  totalMemory,
  nodeMemory,
  freeOnEveryNode,
  enoughPerNode,
  gigPagesSupported,
];
