/**
 * The typed dpvs.conf model.
 *
 * Property names are upstream's keywords (snake_case) so that the model, the rendered file and upstream's
 * documentation read the same. Every block keeps keywords it does not know (or whose value does not fit)
 * in `extra`, so a parsed file can be re-rendered and diffed without losing anything.
 *
 * Grammar differences by DPVS release (reference dpvs-upstream.md §1, §4; conf samples of v1.8.x and
 * v1.9.10/v1.10.2, which are identical between 1.9.10 and 1.10.2):
 * - 1.8 (and older): a per-device `fdir { filter mode pballoc status }` block; no `sa_pool/flow_enable`,
 *   no `netif_defs/fdir_mode`, no `ipset_defs`.
 * - 1.9+: `netif_defs { fdir_mode perfect|signature }`, `sa_pool { flow_enable on|off }`, `ipset_defs`,
 *   tx `mbuf_fast_free`.
 * - 1.10: same file grammar as 1.9.10, but the exception path is always a virtio-user "KNI"
 *   (needs /dev/vhost-net on the host); rte_kni is gone.
 */
import type { ConfNode } from './syntax.js';

export type { ConfNode } from './syntax.js';

export type LogLevel = 'EMERG' | 'ALERT' | 'CRIT' | 'ERR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG';
export const LOG_LEVELS: readonly LogLevel[] = [
  'EMERG',
  'ALERT',
  'CRIT',
  'ERR',
  'WARNING',
  'NOTICE',
  'INFO',
  'DEBUG',
];
export type Rss = 'all' | 'ip' | 'tcp' | 'udp' | 'sctp' | 'ether' | 'port' | 'tunnel';
export const RSS_VALUES: readonly Rss[] = ['all', 'ip', 'tcp', 'udp', 'sctp', 'ether', 'port', 'tunnel'];
export type WorkerType = 'master' | 'slave' | 'kni';

/** Keywords of a block that the model does not know, kept verbatim. */
export interface WithExtra {
  extra?: ConfNode[];
}

export interface GlobalDefs extends WithExtra {
  log_level?: LogLevel;
  log_file?: string;
  log_with_timestamp?: boolean;
  log_async_mode?: boolean;
  log_async_pool_size?: number;
  kni?: boolean;
  pdump?: boolean;
  lldp?: boolean;
}

export interface RxConf extends WithExtra {
  queue_number?: number;
  descriptor_number?: number;
  rss?: Rss;
  max_burst_size?: number;
}

export interface TxConf extends WithExtra {
  queue_number?: number;
  descriptor_number?: number;
  mbuf_fast_free?: boolean;
}

/** DPVS 1.8 per-device flow director block. */
export interface FdirConf extends WithExtra {
  filter?: boolean;
  mode?: string;
  pballoc?: string;
  status?: string;
}

export interface DeviceConf extends WithExtra {
  name: string;
  rx: RxConf;
  tx: TxConf;
  fdir?: FdirConf;
  mtu?: number;
  promisc_mode?: boolean;
  allmulticast?: boolean;
  kni_name?: string;
}

export interface BondingConf extends WithExtra {
  name: string;
  mode?: number;
  slaves: string[];
  primary?: string;
  numa_node?: number;
  kni_name?: string;
  options?: string;
}

export interface NetifDefs extends WithExtra {
  pktpool_size?: number;
  pktpool_cache?: number;
  /** 1.9+ only. */
  fdir_mode?: 'perfect' | 'signature';
  /** In file order: the n-th device is DPDK port n (the n-th `-a` PCI address). */
  devices: DeviceConf[];
  bondings: BondingConf[];
}

export interface WorkerPortConf extends WithExtra {
  dev: string;
  rx_queue_ids: number[];
  tx_queue_ids: number[];
  isol_rx_cpu_ids?: number[];
  isol_rxq_ring_sz?: number;
}

export interface WorkerConf extends WithExtra {
  name: string;
  type?: WorkerType;
  cpu_id?: number;
  icmp_redirect_core?: boolean;
  ports: WorkerPortConf[];
}

export interface WorkerDefs extends WithExtra {
  workers: WorkerConf[];
}

export interface TimerDefs extends WithExtra {
  schedule_interval?: number;
}
export interface NeighDefs extends WithExtra {
  unres_queue_length?: number;
  timeout?: number;
}
export interface IpsetDefs extends WithExtra {
  ipset_hash_pool_size?: number;
}
export interface Ipv4Defs extends WithExtra {
  forwarding?: boolean;
  default_ttl?: number;
  fragment?: WithExtra & {
    bucket_number?: number;
    bucket_entries?: number;
    max_entries?: number;
    ttl?: number;
  };
}
export interface Ipv6Defs extends WithExtra {
  disable?: boolean;
  forwarding?: boolean;
  addr_gen_mode?: string;
  route6?: WithExtra & { method?: string; recycle_time?: number };
}
export interface CtrlDefs extends WithExtra {
  lcore_msg?: WithExtra & { ring_size?: number; sync_msg_timeout_us?: number; priority_level?: string };
  ipc_msg?: WithExtra & { unix_domain?: string };
}

export interface ConnConf extends WithExtra {
  conn_pool_size?: number;
  conn_pool_cache?: number;
  conn_init_timeout?: number;
  expire_quiescent_template?: boolean;
  fast_xmit_close?: boolean;
  redirect?: boolean;
}
export interface UdpConf extends WithExtra {
  defence_udp_drop?: boolean;
  uoa_mode?: 'opp' | 'ipo';
  uoa_max_trail?: number;
  timeout?: Record<string, number>;
}
export interface SynproxyConf extends WithExtra {
  synack_options?: WithExtra & {
    mss?: number;
    ttl?: number;
    sack?: boolean;
    wscale?: number;
    timestamp?: boolean;
  };
  close_client_window?: boolean;
  defer_rs_syn?: boolean;
  rs_syn_max_retry?: number;
  ack_storm_thresh?: number;
  max_ack_saved?: number;
  conn_reuse_state?: WithExtra & {
    close?: boolean;
    time_wait?: boolean;
    fin_wait?: boolean;
    close_wait?: boolean;
    last_ack?: boolean;
  };
}
export interface TcpConf extends WithExtra {
  defence_tcp_drop?: boolean;
  timeout?: Record<string, number>;
  synproxy?: SynproxyConf;
}
export interface IpvsDefs extends WithExtra {
  conn?: ConnConf;
  udp?: UdpConf;
  tcp?: TcpConf;
}

export interface SaPool extends WithExtra {
  pool_hash_size?: number;
  /** 1.9+ only. Off for a single worker or a NIC without rte_flow. */
  flow_enable?: boolean;
}

export interface DpvsConf extends WithExtra {
  /**
   * The DPVS release the file is written for ("1.9.10", "1.10.2", "1.8"). Rendered as a header comment
   * so that parse(render(x)) keeps it; inferred from the grammar when parsing a foreign file.
   */
  dpvsVersion: string;
  global_defs: GlobalDefs;
  netif_defs: NetifDefs;
  worker_defs: WorkerDefs;
  timer_defs?: TimerDefs;
  neigh_defs?: NeighDefs;
  ipset_defs?: IpsetDefs;
  ipv4_defs?: Ipv4Defs;
  ipv6_defs?: Ipv6Defs;
  ctrl_defs?: CtrlDefs;
  ipvs_defs?: IpvsDefs;
  sa_pool?: SaPool;
  /** `include` statements at top level, recorded and never resolved. */
  includes?: string[];
}

// ---------- versions ----------

/** The config grammar family of a DPVS release. */
export type Grammar = '1.8' | '1.9' | '1.10';

/** Parses "1.9.10", "1.10-2", "v1.8.12", "1.9" into [major, minor, patch]. */
export function parseDpvsVersion(version: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)(?:[.-](\d+))?/.exec(version.trim());
  if (!m) throw new Error(`not a DPVS version: ${JSON.stringify(version)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function grammarOf(version: string): Grammar {
  const [major, minor] = parseDpvsVersion(version);
  if (major < 1 || (major === 1 && minor <= 8)) return '1.8';
  if (major === 1 && minor === 9) return '1.9';
  return '1.10';
}

/** How the exception path to the kernel is built: rte_kni.ko (≤1.9) or virtio-user over vhost-net (1.10). */
export function kniBackend(version: string): 'rte_kni' | 'virtio-user' {
  return grammarOf(version) === '1.10' ? 'virtio-user' : 'rte_kni';
}

/** Worker CPU ids must stay below CONFIG_DPVS_MAX_LCORE (64 in upstream config.mk). */
export const DPVS_MAX_LCORE = 64;
