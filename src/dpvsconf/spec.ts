/**
 * What each dpvs.conf keyword means: one table drives both directions (model -> nodes for rendering,
 * nodes -> model for parsing), so the two cannot drift apart.
 *
 * `init` marks keywords upstream documents as `<init>` (applied at start only, ignored on SIGHUP reload);
 * verified against conf/dpvs.conf.items and conf/*.sample of iqiyi/dpvs (v1.8.x and v1.9.10/v1.10.2).
 * Block order follows upstream's samples.
 */
import { LOG_LEVELS, RSS_VALUES } from './model.js';
import type { ConfNode } from './syntax.js';

type ScalarKind = 'int' | 'str' | 'onoff' | 'flag' | 'ints' | 'map';

export type FieldSpec =
  | {
      kind: ScalarKind;
      key: string;
      prop?: string;
      init?: boolean;
      /** Allowed values of a `str`. */
      values?: readonly string[];
      /** `ints` only: absent means [] rather than undefined. */
      required?: boolean;
    }
  | { kind: 'block'; key: string; prop?: string; init?: boolean; spec: BlockSpec; required?: boolean }
  | { kind: 'named'; key: string; prop: string; init?: boolean; spec: BlockSpec; nameProp: string }
  | { kind: 'repeat'; key: string; prop: string; init?: boolean; required?: boolean };

export type BlockSpec = readonly FieldSpec[];

const onoff = (key: string, init = false): FieldSpec => ({ kind: 'onoff', key, init });
const int = (key: string, init = false): FieldSpec => ({ kind: 'int', key, init });
const str = (key: string, init = false, values?: readonly string[]): FieldSpec => ({
  kind: 'str',
  key,
  init,
  ...(values ? { values } : {}),
});
const flag = (key: string, init = false): FieldSpec => ({ kind: 'flag', key, init });

const GLOBAL: BlockSpec = [
  str('log_level', false, LOG_LEVELS),
  str('log_file'),
  onoff('log_with_timestamp'),
  onoff('log_async_mode', true),
  int('log_async_pool_size', true),
  onoff('kni', true),
  onoff('pdump', true),
  onoff('lldp'),
];

const DEVICE: BlockSpec = [
  {
    kind: 'block',
    key: 'rx',
    required: true,
    spec: [
      int('max_burst_size'),
      int('queue_number'),
      int('descriptor_number'),
      str('rss', false, RSS_VALUES),
    ],
  },
  {
    kind: 'block',
    key: 'tx',
    required: true,
    spec: [int('queue_number'), int('descriptor_number'), onoff('mbuf_fast_free')],
  },
  { kind: 'block', key: 'fdir', spec: [onoff('filter', true), str('mode'), str('pballoc'), str('status')] },
  int('mtu'),
  flag('promisc_mode'),
  flag('allmulticast'),
  str('kni_name'),
];

const BONDING: BlockSpec = [
  int('mode'),
  { kind: 'repeat', key: 'slave', prop: 'slaves', required: true },
  str('primary'),
  int('numa_node'),
  str('kni_name'),
  str('options'),
];

const NETIF: BlockSpec = [
  int('pktpool_size', true),
  int('pktpool_cache', true),
  str('fdir_mode', true, ['perfect', 'signature']),
  { kind: 'named', key: 'device', prop: 'devices', init: true, nameProp: 'name', spec: DEVICE },
  { kind: 'named', key: 'bonding', prop: 'bondings', init: true, nameProp: 'name', spec: BONDING },
];

const WORKER_PORT: BlockSpec = [
  { kind: 'ints', key: 'rx_queue_ids', required: true },
  { kind: 'ints', key: 'tx_queue_ids', required: true },
  { kind: 'ints', key: 'isol_rx_cpu_ids' },
  int('isol_rxq_ring_sz'),
];

const WORKER: BlockSpec = [
  str('type', false, ['master', 'slave', 'kni']),
  int('cpu_id'),
  flag('icmp_redirect_core'),
  { kind: 'named', key: 'port', prop: 'ports', nameProp: 'dev', spec: WORKER_PORT },
];

const WORKERS: BlockSpec = [
  { kind: 'named', key: 'worker', prop: 'workers', init: true, nameProp: 'name', spec: WORKER },
];

const IPV4: BlockSpec = [
  onoff('forwarding'),
  int('default_ttl', true),
  {
    kind: 'block',
    key: 'fragment',
    spec: [
      int('bucket_number', true),
      int('bucket_entries', true),
      int('max_entries', true),
      int('ttl', true),
    ],
  },
];

const IPV6: BlockSpec = [
  onoff('disable'),
  onoff('forwarding'),
  str('addr_gen_mode'),
  { kind: 'block', key: 'route6', spec: [str('method', true), int('recycle_time')] },
];

const CTRL: BlockSpec = [
  {
    kind: 'block',
    key: 'lcore_msg',
    spec: [int('ring_size', true), int('sync_msg_timeout_us'), str('priority_level')],
  },
  { kind: 'block', key: 'ipc_msg', spec: [str('unix_domain', true)] },
];

const SYNPROXY: BlockSpec = [
  {
    kind: 'block',
    key: 'synack_options',
    spec: [int('mss'), int('ttl'), flag('sack'), int('wscale'), flag('timestamp')],
  },
  flag('close_client_window'),
  flag('defer_rs_syn'),
  int('rs_syn_max_retry'),
  int('ack_storm_thresh'),
  int('max_ack_saved'),
  {
    kind: 'block',
    key: 'conn_reuse_state',
    spec: [flag('close'), flag('time_wait'), flag('fin_wait'), flag('close_wait'), flag('last_ack')],
  },
];

const IPVS: BlockSpec = [
  {
    kind: 'block',
    key: 'conn',
    spec: [
      int('conn_pool_size', true),
      int('conn_pool_cache', true),
      int('conn_init_timeout'),
      flag('expire_quiescent_template'),
      flag('fast_xmit_close', true),
      onoff('redirect', true),
    ],
  },
  {
    kind: 'block',
    key: 'udp',
    spec: [
      flag('defence_udp_drop'),
      str('uoa_mode', false, ['opp', 'ipo']),
      int('uoa_max_trail'),
      { kind: 'map', key: 'timeout' },
    ],
  },
  {
    kind: 'block',
    key: 'tcp',
    spec: [
      flag('defence_tcp_drop'),
      { kind: 'map', key: 'timeout' },
      { kind: 'block', key: 'synproxy', spec: SYNPROXY },
    ],
  },
];

/** Top level, in upstream order; `comment` is the `!` line upstream writes above each block. */
export const TOP: readonly { spec: FieldSpec; comment: string }[] = [
  { spec: { kind: 'block', key: 'global_defs', required: true, spec: GLOBAL }, comment: 'global config' },
  { spec: { kind: 'block', key: 'netif_defs', required: true, spec: NETIF }, comment: 'netif config' },
  {
    spec: { kind: 'block', key: 'worker_defs', required: true, spec: WORKERS },
    comment: 'worker config (lcores)',
  },
  { spec: { kind: 'block', key: 'timer_defs', spec: [int('schedule_interval')] }, comment: 'timer config' },
  {
    spec: { kind: 'block', key: 'neigh_defs', spec: [int('unres_queue_length', true), int('timeout')] },
    comment: 'dpvs neighbor config',
  },
  {
    spec: { kind: 'block', key: 'ipset_defs', spec: [int('ipset_hash_pool_size', true)] },
    comment: 'dpvs ipset config',
  },
  { spec: { kind: 'block', key: 'ipv4_defs', spec: IPV4 }, comment: 'dpvs ipv4 config' },
  { spec: { kind: 'block', key: 'ipv6_defs', spec: IPV6 }, comment: 'dpvs ipv6 config' },
  { spec: { kind: 'block', key: 'ctrl_defs', spec: CTRL }, comment: 'control plane config' },
  { spec: { kind: 'block', key: 'ipvs_defs', spec: IPVS }, comment: 'ipvs config' },
  {
    spec: { kind: 'block', key: 'sa_pool', spec: [int('pool_hash_size', true), onoff('flow_enable', true)] },
    comment: 'sa_pool config',
  },
  { spec: { kind: 'repeat', key: 'include', prop: 'includes' }, comment: 'included files (not managed)' },
];

export const TOP_SPEC: BlockSpec = TOP.map((t) => t.spec);

// ---------- nodes -> object ----------

type Obj = Record<string, unknown>;

export const propOf = (f: FieldSpec): string => f.prop ?? f.key;
const isInt = (s: string): boolean => /^-?\d+$/.test(s);
const isScalar = (n: ConfNode): boolean => n.children === undefined;

/** Stores `node` into `obj` per `f`; false when the node does not fit (it is then kept as extra). */
function absorb(f: FieldSpec, node: ConfNode, obj: Obj): boolean {
  const prop = propOf(f);
  const [a0] = node.args;
  switch (f.kind) {
    case 'int':
      if (!isScalar(node) || node.args.length !== 1 || a0 === undefined || !isInt(a0)) return false;
      obj[prop] = Number(a0);
      return true;
    case 'str':
      if (!isScalar(node) || node.args.length !== 1 || a0 === undefined) return false;
      if (f.values && !f.values.includes(a0)) return false;
      obj[prop] = a0;
      return true;
    case 'onoff':
      if (!isScalar(node) || node.args.length !== 1 || (a0 !== 'on' && a0 !== 'off')) return false;
      obj[prop] = a0 === 'on';
      return true;
    case 'flag':
      if (!isScalar(node) || node.args.length !== 0) return false;
      obj[prop] = true;
      return true;
    case 'ints':
      if (!isScalar(node) || node.args.length === 0 || !node.args.every(isInt)) return false;
      obj[prop] = node.args.map(Number);
      return true;
    case 'map': {
      const kids = node.children;
      if (!kids || node.args.length !== 0) return false;
      if (!kids.every((k) => isScalar(k) && k.args.length === 1 && isInt(k.args[0] ?? ''))) return false;
      obj[prop] = Object.fromEntries(kids.map((k) => [k.key, Number(k.args[0])]));
      return true;
    }
    case 'block':
      if (!node.children || node.args.length !== 0) return false;
      obj[prop] = nodesToObject(f.spec, node.children);
      return true;
    case 'named': {
      if (!node.children || node.args.length !== 1 || a0 === undefined) return false;
      (obj[prop] as Obj[]).push({ [f.nameProp]: a0, ...nodesToObject(f.spec, node.children) });
      return true;
    }
    case 'repeat':
      if (!isScalar(node) || node.args.length !== 1 || a0 === undefined) return false;
      ((obj[prop] ??= []) as string[]).push(a0);
      return true;
  }
}

/** Maps a block's nodes onto an object per `spec`; unknown or ill-fitting nodes go to `extra`. */
export function nodesToObject(spec: BlockSpec, nodes: ConfNode[]): Obj {
  const obj: Obj = {};
  for (const f of spec) {
    if (f.kind === 'named' || ((f.kind === 'repeat' || f.kind === 'ints') && f.required)) obj[propOf(f)] = [];
    else if (f.kind === 'block' && f.required) obj[propOf(f)] = nodesToObject(f.spec, []);
  }
  const extra: ConfNode[] = [];
  for (const node of nodes) {
    const f = spec.find((s) => s.key === node.key);
    if (!f || !absorb(f, node, obj)) extra.push(stripRenderHints(node));
  }
  if (extra.length) obj.extra = extra;
  return obj;
}

function stripRenderHints(node: ConfNode): ConfNode {
  const out: ConfNode = { key: node.key, args: [...node.args] };
  if (node.children) out.children = node.children.map(stripRenderHints);
  return out;
}

// ---------- object -> nodes ----------

/** The nodes of one field's value (none when undefined). */
export function fieldNodes(f: FieldSpec, value: unknown): ConfNode[] {
  if (value === undefined) return [];
  const init = f.init ? { init: true } : {};
  switch (f.kind) {
    case 'int':
    case 'str':
      return [{ key: f.key, args: [String(value)], ...init }];
    case 'onoff':
      return [{ key: f.key, args: [value ? 'on' : 'off'], ...init }];
    case 'flag':
      return value ? [{ key: f.key, args: [], ...init }] : [];
    case 'ints': {
      const list = value as number[];
      return list.length ? [{ key: f.key, args: list.map(String), ...init }] : [];
    }
    case 'map':
      return [
        {
          key: f.key,
          args: [],
          children: Object.entries(value as Record<string, number>).map(([k, v]) => ({
            key: k,
            args: [String(v)],
          })),
          ...init,
        },
      ];
    case 'block':
      return [{ key: f.key, args: [], children: objectToNodes(f.spec, value as Obj), ...init }];
    case 'named':
      return (value as Obj[]).map((item) => ({
        key: f.key,
        args: [String(item[f.nameProp])],
        children: objectToNodes(f.spec, item),
        ...init,
      }));
    case 'repeat':
      return (value as string[]).map((v) => ({ key: f.key, args: [v], ...init }));
  }
}

/** Renders an object per `spec` (spec order), then its `extra` nodes. */
export function objectToNodes(spec: BlockSpec, obj: Obj): ConfNode[] {
  const out: ConfNode[] = [];
  for (const f of spec) out.push(...fieldNodes(f, obj[propOf(f)]));
  const extra = obj.extra as ConfNode[] | undefined;
  if (extra) out.push(...extra);
  return out;
}
