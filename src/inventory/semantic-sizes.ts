/**
 * Hugepages against what dpvs allocates on every NUMA socket at start: the packet mbuf pool and the
 * connection pool. Both are created once per socket the OS reports, so every node needs room for both
 * (dpvs dies with "Cannot init mbuf pool on socket N" or EDPVS_NOMEM after the NICs are bound).
 *
 * Upstream (iqiyi/dpvs, identical in v1.9.10 and v1.10.2):
 * - mbuf pool per socket: rte_pktmbuf_pool_create(name, netif_pktpool_nb_mbuf, cache, 0,
 *   RTE_MBUF_DEFAULT_BUF_SIZE, socket)                               v1.9.10:src/netif.c:1110
 *                                                                    v1.10.2:src/netif.c:1109
 * - netif_pktpool_nb_mbuf defaults to 65535 (NETIF_PKTPOOL_NB_MBUF_DEF) v1.9.10:src/netif.c:53
 *   and pktpool_size N becomes 2^floor(log2(N+1)) - 1 (is_power2)    v1.9.10:src/netif.c:254-255,
 *                                                                    v1.9.10:src/common.c:109-129
 * - connection pool per socket: rte_mempool_create(name, conn_pool_size, sizeof(struct dp_vs_conn), …,
 *   socket)                                                          v1.9.10:src/ipvs/ip_vs_conn.c:1860-1865
 *                                                                    v1.10.2:src/ipvs/ip_vs_conn.c:1860-1865
 *   conn_pool_size defaults to 2097151 (DPVS_CONN_POOL_SIZE_DEF)     v1.9.10:src/ipvs/ip_vs_conn.c:46
 * - struct dp_vs_conn is __rte_cache_aligned: four inet_addr pairs, two tuple hashes, timer, FNAT and
 *   synproxy state                                                   v1.9.10:include/ipvs/conn.h:85-161
 *                                                                    v1.10.2:include/ipvs/conn.h:85-170
 * Without pktpool_size / conn_pool_size the sizes dpvs-deploy writes into dpvs.conf apply (524287 mbufs,
 * 2097152 connections: src/dpvsconf/build.ts), not upstream's compiled-in defaults.
 * DPDK's sizes: struct rte_mbuf is two cache lines (128 B), RTE_MBUF_DEFAULT_BUF_SIZE is 2048 + 128 B of
 * headroom, and every mempool object carries a cache-aligned header (64 B).
 *
 * Findings are warnings, like preflight's HP-003/HP-004 which judge the same memory with the host's facts
 * (free pages, node memory): the plan still runs, and preflight refuses what the host cannot give.
 *
 * The element sizes below are lower bounds (dp_vs_conn is at least 512 B on x86-64), so the check
 * reports only hugepages that surely cannot hold the two pools; DPDK's own heap and dpvs's smaller pools
 * need more on top, which preflight's memory check covers with the host's facts.
 */
import { isBalancer } from './roles.js';
import { DEFAULT_CONN_POOL_SIZE, DEFAULT_PKTPOOL_SIZE } from './defaults.js';
import type { Findings } from './findings.js';
import { originOf, type Resolution } from './merge.js';

const MIB = 1024 ** 2;
const PAGE_BYTES = { '2M': 2 * MIB, '1G': 1024 * MIB } as const;
const OBJ_HEADER = 64;
/** rte_mbuf (128) + RTE_MBUF_DEFAULT_BUF_SIZE (2048 + 128 headroom) + mempool header */
export const MBUF_BYTES = 128 + 2048 + 128 + OBJ_HEADER;
/** sizeof(struct dp_vs_conn), at least 512 B cache-aligned, + mempool header */
export const CONN_BYTES = 512 + OBJ_HEADER;
/** What dpvs.conf gets when the inventory sets no pool sizes (src/dpvsconf/build.ts). */
export const DEFAULT_PKTPOOL = DEFAULT_PKTPOOL_SIZE;
export const DEFAULT_CONN_POOL = DEFAULT_CONN_POOL_SIZE;

/** netif_pktpool_nb_mbuf for a configured pktpool_size (upstream's is_power2 rounding). */
export function mbufCount(pktpoolSize: number | undefined): number {
  return 2 ** Math.floor(Math.log2((pktpoolSize ?? DEFAULT_PKTPOOL) + 1)) - 1;
}

/** Bytes dpvs's mbuf and connection pools take on each socket. */
export function poolBytesPerSocket(pktpoolSize?: number, connPoolSize?: number): number {
  return mbufCount(pktpoolSize) * MBUF_BYTES + (connPoolSize ?? DEFAULT_CONN_POOL) * CONN_BYTES;
}

const mib = (b: number) => `${Math.ceil(b / MIB)} MiB`;

export function checkHugepageRoom(r: Resolution, f: Findings): void {
  const h = r.host;
  const hp = h.hugepages;
  if (!isBalancer(h) || hp?.per_node === undefined) return;
  const size = hp.size ?? '2M';
  const page = PAGE_BYTES[size];
  const need = poolBytesPerSocket(h.dpvs?.pktpool_size, h.dpvs?.conn_pool_size);
  const pagesNeeded = Math.ceil(need / page);
  const pools =
    `${mbufCount(h.dpvs?.pktpool_size)} mbufs × ${MBUF_BYTES} B + ` +
    `${h.dpvs?.conn_pool_size ?? DEFAULT_CONN_POOL} connections × ${CONN_BYTES} B = ${mib(need)}`;
  const fix =
    `raise hugepages.per_node to at least ${pagesNeeded} (${size} pages), or lower dpvs.pktpool_size / ` +
    `dpvs.conn_pool_size (e.g. conn_pool_size: 262144 for a test host)`;
  const poolPath =
    h.dpvs?.conn_pool_size !== undefined ? ['dpvs', 'conn_pool_size'] : ['dpvs', 'pktpool_size'];
  const related =
    h.dpvs?.[poolPath[1] as 'conn_pool_size' | 'pktpool_size'] !== undefined
      ? originOf(r, poolPath)
      : undefined;
  const perNode: Array<[string, number]> =
    typeof hp.per_node === 'number'
      ? [['every node', hp.per_node]]
      : Object.entries(hp.per_node)
          .filter(([n]) => h.expect?.numa_nodes === undefined || Number(n) < h.expect.numa_nodes)
          .map(([n, c]) => [`node ${n}`, c]);
  for (const [node, pages] of perNode) {
    if (pages * page >= need) continue;
    const at =
      typeof hp.per_node === 'number' ? ['hugepages', 'per_node'] : ['hugepages', 'per_node', node.slice(5)];
    f.warn(
      originOf(r, at),
      `${pages} × ${size} hugepages on ${node} (${mib(pages * page)}) cannot hold the pools dpvs creates on every ` +
        `socket: ${pools}; dpvs would die with "Cannot init mbuf pool" after the NICs are bound: ${fix}`,
      false,
      related,
    );
  }
  const nodes = h.expect?.numa_nodes;
  if (typeof hp.per_node === 'object' && nodes !== undefined) {
    for (let n = 0; n < nodes; n++) {
      if (String(n) in hp.per_node) continue;
      f.warn(
        originOf(r, ['hugepages', 'per_node']),
        `NUMA node ${n} gets no hugepages (per_node lists ${Object.keys(hp.per_node).join(', ')}; expect.numa_nodes is ${nodes}), ` +
          `but dpvs creates its pools on every socket (${mib(need)} each): add ${n}: ${pagesNeeded} to per_node`,
        true,
        originOf(r, ['expect', 'numa_nodes']),
      );
    }
  }
}
