/**
 * Parsers for what `dpip` prints. Pure; tolerant of extra tokens (newer releases add fields) but strict
 * about the fields they return.
 *
 * `dpip addr show`:
 *   inet 10.0.96.204/32 scope global dpdk2
 *        valid_lft forever preferred_lft forever [sa_used N sa_free N sa_miss N]
 * `dpip route show`:
 *   inet 0.0.0.0/0 via 10.0.96.254 src 0.0.0.0 dev dpdk2 mtu 1500 tos 0 scope global metric 0 proto auto
 * `dpip link show`:
 *   1: dpdk0: socket 0 mtu 1500 rx-queue 16 tx-queue 16
 *       UP 10000 Mbps full-duplex auto-nego
 *       addr AA:BB:CC:23:33:33 OF_RX_IP_CSUM ...
 */
import { canonicalIp, canonicalPrefix, isUnspecified, type Family } from '../inventory/ip.js';
import type { AddressScope, LbAddress, LbRoute, RouteScope } from './model.js';

const addrHead = /^(inet6?)\s+(\S+)\/(\d+)\s+scope\s+(\S+)\s+(\S+)/;

export function parseDpipAddrShow(text: string): LbAddress[] {
  const out: LbAddress[] = [];
  for (const line of text.split('\n')) {
    const m = addrHead.exec(line.trim());
    if (m) {
      const scope = m[4] ?? 'global';
      out.push({
        family: m[1] as Family,
        ip: canonicalIp(m[2] ?? ''),
        plen: Number(m[3]),
        dev: m[5] ?? '',
        scope: (['global', 'link', 'host'].includes(scope) ? scope : 'global') as AddressScope,
        sapool: false,
      });
      continue;
    }
    // continuation line: lifetimes, and sa_* counters when the address carries a sapool
    const last = out[out.length - 1];
    if (last && /^\s/.test(line) && /\bsa_used\b/.test(line)) last.sapool = true;
  }
  return out;
}

function words(line: string): Map<string, string> {
  const toks = line.trim().split(/\s+/);
  const kv = new Map<string, string>();
  for (let i = 2; i + 1 < toks.length; i += 2) kv.set(toks[i] ?? '', toks[i + 1] ?? '');
  return kv;
}

export function parseDpipRouteShow(text: string): LbRoute[] {
  const out: LbRoute[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^(inet6?)\s+(\S+)/.exec(line);
    if (!m) continue;
    const family = m[1] as Family;
    const kv = words(line);
    const dev = kv.get('dev');
    if (!dev) continue;
    const via = kv.get('via');
    const src = kv.get('src');
    const route: LbRoute = { family, prefix: canonicalPrefix(m[2] ?? '', family), dev };
    if (!isUnspecified(via)) route.via = canonicalIp(via ?? '');
    if (!isUnspecified(src)) route.src = canonicalIp(src ?? '');
    const scope = kv.get('scope');
    if (scope) route.scope = scope as RouteScope;
    const mtu = kv.get('mtu');
    if (mtu !== undefined && /^\d+$/.test(mtu)) route.mtu = Number(mtu);
    const metric = kv.get('metric');
    if (metric !== undefined && /^\d+$/.test(metric)) route.metric = Number(metric);
    out.push(route);
  }
  return out;
}

export interface DpipLink {
  index: number;
  name: string;
  socket: number;
  mtu: number;
  rxQueues: number;
  txQueues: number;
  /** UP / DOWN */
  state: string | null;
  speedMbps: number | null;
  mac: string | null;
}

export function parseDpipLinkShow(text: string): DpipLink[] {
  const out: DpipLink[] = [];
  for (const raw of text.split('\n')) {
    const head =
      /^(\d+):\s+(\S+):\s+socket\s+(-?\d+)\s+mtu\s+(\d+)\s+rx-queue\s+(\d+)\s+tx-queue\s+(\d+)/.exec(raw);
    if (head) {
      out.push({
        index: Number(head[1]),
        name: head[2] ?? '',
        socket: Number(head[3]),
        mtu: Number(head[4]),
        rxQueues: Number(head[5]),
        txQueues: Number(head[6]),
        state: null,
        speedMbps: null,
        mac: null,
      });
      continue;
    }
    const link = out[out.length - 1];
    if (!link) continue;
    const line = raw.trim();
    const st = /^(UP|DOWN)\b(?:\s+(\d+)\s+Mbps)?/.exec(line);
    if (st) {
      link.state = st[1] ?? null;
      link.speedMbps = st[2] ? Number(st[2]) : null;
      continue;
    }
    const addr = /^addr\s+([0-9A-Fa-f:]{17})/.exec(line);
    if (addr) link.mac = (addr[1] ?? '').toLowerCase();
  }
  return out;
}
