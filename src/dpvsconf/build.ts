/**
 * Inventory-level inputs -> DpvsConf. Pure.
 *
 * Defaults (reference dpvs-upstream.md §4, §8, §9 and upstream conf/*.sample of v1.9.10/v1.10.2):
 * - rx/tx queue_number: what the workers use on the port (one past the highest queue id), else the number
 *   of slave workers; descriptor_number 1024; rss all; kni_name <dev>.kni.
 * - pktpool_size 524287 (2^n-1) and pktpool_cache 256; conn_pool_size 2097152, conn_pool_cache 256.
 * - tx mbuf_fast_free off on every port when the ports sit on different NUMA nodes (1.9+ keyword).
 * - sa_pool flow_enable off when there is one slave (1.9+ keyword); else on.
 * - 1.8: per-device `fdir { mode perfect; pballoc 64k; status matched }`, no ipset_defs, no flow_enable.
 * - The other blocks carry upstream's sample values so that the rendered file is complete and explicit.
 */
import type { WorkerAssignment } from './layout.js';
import { DEFAULT_CONN_POOL_SIZE, DEFAULT_PKTPOOL_SIZE } from '../inventory/defaults.js';
import {
  grammarOf,
  type BondingConf,
  type DeviceConf,
  type DpvsConf,
  type LogLevel,
  type Rss,
  type WorkerConf,
} from './model.js';
import { impliedQueues, type PortQueues } from './validate.js';

export interface NicInput {
  name: string;
  pci: string;
  numaNode: number;
  rx?: { queues?: number; descriptors?: number; rss?: Rss };
  tx?: { queues?: number; descriptors?: number; mbuf_fast_free?: boolean };
  mtu?: number;
  promisc?: boolean;
  kni_name?: string;
}

export interface BuildSettings {
  log_level?: LogLevel;
  log_file?: string;
  kni?: boolean;
  pktpool_size?: number;
  pktpool_cache?: number;
  conn_pool_size?: number;
  conn_redirect?: boolean;
  sa_pool_flow_enable?: boolean;
}

export interface BuildInput {
  dpvsVersion: string;
  /** In dpvs.conf / EAL `-a` order. */
  nics: NicInput[];
  workers: WorkerAssignment[];
  settings?: BuildSettings;
  bondings?: BondingConf[];
}

export const DEFAULT_PKTPOOL_CACHE = 256;
export const DEFAULT_DESCRIPTORS = 1024;

export function buildDpvsConf(input: BuildInput): DpvsConf {
  const grammar = grammarOf(input.dpvsVersion);
  const modern = grammar !== '1.8';
  const s = input.settings ?? {};
  const slaves = input.workers.filter((w) => w.type === 'slave');
  const crossNuma = new Set(input.nics.map((n) => (n.numaNode < 0 ? 0 : n.numaNode))).size > 1;

  const devices: DeviceConf[] = input.nics.map((nic) => {
    const implied = impliedQueues(input.workers, nic.name);
    const fastFree = nic.tx?.mbuf_fast_free ?? (crossNuma ? false : undefined);
    const dev: DeviceConf = {
      name: nic.name,
      rx: {
        queue_number: nic.rx?.queues ?? (implied.rx || slaves.length),
        descriptor_number: nic.rx?.descriptors ?? DEFAULT_DESCRIPTORS,
        rss: nic.rx?.rss ?? 'all',
      },
      tx: {
        queue_number: nic.tx?.queues ?? (implied.tx || slaves.length),
        descriptor_number: nic.tx?.descriptors ?? DEFAULT_DESCRIPTORS,
        ...(modern && fastFree !== undefined ? { mbuf_fast_free: fastFree } : {}),
      },
      kni_name: nic.kni_name ?? `${nic.name}.kni`,
    };
    if (!modern) dev.fdir = { mode: 'perfect', pballoc: '64k', status: 'matched' };
    if (nic.mtu !== undefined) dev.mtu = nic.mtu;
    if (nic.promisc) dev.promisc_mode = true;
    return dev;
  });

  const deviceOrder = [...input.nics.map((n) => n.name), ...(input.bondings ?? []).map((b) => b.name)];
  const workers: WorkerConf[] = input.workers.map((w) => workerConf(w, deviceOrder));

  const conf: DpvsConf = {
    dpvsVersion: input.dpvsVersion,
    global_defs: {
      log_level: s.log_level ?? 'WARNING',
      ...(s.log_file !== undefined ? { log_file: s.log_file } : {}),
      // 1.9+ have `kni on|off` (default on); 1.8 has no such keyword and always runs KNI
      // (test/fixtures/upstream/dpvs.yaml dpvs-conf-kni-keyword): never written there.
      ...(modern ? { kni: s.kni ?? true } : {}),
    },
    netif_defs: {
      pktpool_size: s.pktpool_size ?? DEFAULT_PKTPOOL_SIZE,
      pktpool_cache: s.pktpool_cache ?? DEFAULT_PKTPOOL_CACHE,
      devices,
      bondings: (input.bondings ?? []).map((b) => ({ ...b, slaves: [...b.slaves] })),
    },
    worker_defs: { workers },
    timer_defs: { schedule_interval: 500 },
    neigh_defs: { unres_queue_length: 128, timeout: 60 },
    ...(modern ? { ipset_defs: { ipset_hash_pool_size: 131072 } } : {}),
    ipv4_defs: {
      forwarding: false,
      default_ttl: 64,
      fragment: { bucket_number: 4096, bucket_entries: 16, max_entries: 4096, ttl: 1 },
    },
    ipv6_defs: { disable: false, forwarding: false, route6: { method: 'hlist', recycle_time: 10 } },
    ctrl_defs: { lcore_msg: { ring_size: 4096, sync_msg_timeout_us: 20000, priority_level: 'low' } },
    ipvs_defs: {
      conn: {
        conn_pool_size: s.conn_pool_size ?? DEFAULT_CONN_POOL_SIZE,
        conn_pool_cache: 256,
        conn_init_timeout: 3,
        ...(s.conn_redirect !== undefined ? { redirect: s.conn_redirect } : {}),
      },
      udp: { uoa_mode: 'opp', uoa_max_trail: 3, timeout: { oneway: 60, normal: 300, last: 3 } },
      tcp: {
        timeout: {
          none: 2,
          established: 90,
          syn_sent: 3,
          syn_recv: 30,
          fin_wait: 7,
          time_wait: 7,
          close: 3,
          close_wait: 7,
          last_ack: 7,
          listen: 120,
          synack: 30,
          last: 2,
        },
        synproxy: {
          synack_options: { mss: 1452, ttl: 63, sack: true },
          close_client_window: true,
          rs_syn_max_retry: 3,
          ack_storm_thresh: 10,
          max_ack_saved: 3,
          conn_reuse_state: { close: true, time_wait: true },
        },
      },
    },
    sa_pool: {
      pool_hash_size: 16,
      ...(modern ? { flow_enable: s.sa_pool_flow_enable ?? slaves.length > 1 } : {}),
    },
  };
  return conf;
}

function workerConf(w: WorkerAssignment, deviceOrder: string[]): WorkerConf {
  const rank = (d: string): number => {
    const i = deviceOrder.indexOf(d);
    return i < 0 ? deviceOrder.length : i;
  };
  const devs = Object.keys(w.ports).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return {
    name: w.name,
    type: w.type,
    cpu_id: w.cpuId,
    ...(w.icmpRedirectCore ? { icmp_redirect_core: true } : {}),
    ports: devs.map((dev) => {
      const q = w.ports[dev] as { rx: number[]; tx: number[] };
      return { dev, rx_queue_ids: [...q.rx], tx_queue_ids: [...q.tx] };
    }),
  };
}

/** A conf's workers as assignments (e.g. to validate a parsed file). Workers without a type are slaves. */
export function workersOfConf(conf: DpvsConf): WorkerAssignment[] {
  return conf.worker_defs.workers.map((w) => ({
    name: w.name,
    type: w.type ?? 'slave',
    cpuId: w.cpu_id ?? -1,
    ports: Object.fromEntries(
      w.ports.map((p) => [p.dev, { rx: [...p.rx_queue_ids], tx: [...p.tx_queue_ids] }]),
    ),
    ...(w.icmp_redirect_core ? { icmpRedirectCore: true } : {}),
  }));
}

/**
 * The ports workers can reference, with their queue counts: physical devices, then bondings (a bonding
 * uses its primary's, else its first slave's, queue configuration). Upstream's default queue_number is 16.
 */
export function portsOfConf(conf: DpvsConf): PortQueues[] {
  const devs = conf.netif_defs.devices;
  const queues = (d: DeviceConf | undefined): { rx: number; tx: number } => ({
    rx: d?.rx.queue_number ?? 16,
    tx: d?.tx.queue_number ?? 16,
  });
  const bonded = new Set(conf.netif_defs.bondings.flatMap((b) => b.slaves));
  const out: PortQueues[] = devs
    .filter((d) => !bonded.has(d.name))
    .map((d) => ({ name: d.name, rxQueues: queues(d).rx, txQueues: queues(d).tx }));
  for (const b of conf.netif_defs.bondings) {
    const base = devs.find((d) => d.name === (b.primary ?? b.slaves[0]));
    out.push({ name: b.name, rxQueues: queues(base).rx, txQueues: queues(base).tx });
  }
  return out;
}
