/**
 * Parsers for what the DPVS fork of ipvsadm prints.
 *
 * `ipvsadm -ln`:
 *   IP Virtual Server version 0.0.0 (size=0)
 *   Prot LocalAddress:Port Scheduler Flags
 *     -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
 *   TCP  10.0.96.204:80 rr [sip|qid] [persistent N [mask M]] [ops] [synproxy] [conn-timeout N] ...
 *     -> 192.168.229.1:80              FullNat 1      0          0
 *   MATCH tcp,from=192.168.100.0-192.168.100.254:0-0,oif=dpdk1 rr
 *     -> 10.0.0.1:0                    SNAT    1      0          0
 * `ipvsadm -G`:
 *   VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS
 *   10.0.96.204:80    1
 *                                 192.168.229.204       0          0
 */
import { canonicalIp, canonicalRange, splitHostPort } from '../inventory/ip.js';
import {
  forwardFromName,
  serviceKey,
  type LbLaddr,
  type LbRealServer,
  type LbService,
  type Proto,
  type SnatMatch,
} from './model.js';

export interface IpvsadmList {
  services: LbService[];
  realServers: LbRealServer[];
}

/**
 * The match of a SNAT service as -ln prints it: `tcp,from=A-B:0-0,to=...,iif=X,oif=Y` (upstream) or
 * the -H form `proto=tcp,src-range=A-B,oif=Y` (some builds echo the argument).
 */
function parseMatch(spec: string): SnatMatch | null {
  let proto: string | undefined;
  const m: Omit<SnatMatch, 'proto'> = {};
  spec.split(',').forEach((part, i) => {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i === 0) proto = part;
      return;
    }
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (k === 'proto') proto = v;
    else if (k === 'from' || k === 'src-range') m.srcRange = canonicalRange(v);
    else if (k === 'to' || k === 'dst-range') m.dstRange = canonicalRange(v);
    else if (k === 'iif') m.iif = v;
    else if (k === 'oif') m.oif = v;
  });
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp') return null;
  return { proto, ...m };
}

function parseServiceLine(line: string): LbService | null {
  const toks = line.trim().split(/\s+/);
  const [kind, where, sched, ...flags] = toks;
  if (!kind || !where || !sched) return null;
  let svc: LbService;
  if (kind === 'MATCH') {
    const match = parseMatch(where);
    if (!match) return null;
    svc = { key: '', proto: match.proto, match, scheduler: sched };
  } else {
    const proto = ({ TCP: 'tcp', UDP: 'udp', ICMP: 'icmp' } as Record<string, Proto>)[kind];
    const hp = splitHostPort(where);
    if (!proto || !hp) return null;
    svc = { key: '', proto, vip: canonicalIp(hp.ip), port: hp.port, scheduler: sched };
  }
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === 'persistent' && /^\d+$/.test(flags[i + 1] ?? '')) svc.persistence = Number(flags[i + 1]);
    // `conn-timeout N` since 1.9.6, `conn_timeout N` before (ipvsadm-ln-conn-timeout)
    if ((flags[i] === 'conn-timeout' || flags[i] === 'conn_timeout') && /^\d+$/.test(flags[i + 1] ?? ''))
      svc.connTimeout = Number(flags[i + 1]);
  }
  svc.key = serviceKey(svc);
  return svc;
}

export function parseIpvsadmList(text: string): IpvsadmList {
  const services: LbService[] = [];
  const realServers: LbRealServer[] = [];
  let current: LbService | null = null;
  for (const raw of text.split('\n')) {
    if (!raw.trim() || raw.startsWith('IP Virtual Server') || raw.startsWith('Prot ')) continue;
    const rs = /^\s+->\s+(\S+)\s+(\S+)\s+(\d+)/.exec(raw);
    if (rs) {
      if (raw.includes('RemoteAddress:Port') || !current) continue;
      const hp = splitHostPort(rs[1] ?? '');
      const forward = forwardFromName(rs[2] ?? '');
      if (!hp || !forward) continue;
      realServers.push({
        service: current.key,
        ip: canonicalIp(hp.ip),
        port: hp.port,
        weight: Number(rs[3]),
        forward,
      });
      continue;
    }
    if (/^\s/.test(raw)) continue;
    current = parseServiceLine(raw);
    if (current) services.push(current);
  }
  return { services, realServers };
}

/**
 * `ipvsadm -G` lists LIPs per service without protocol or device. The protocol is taken from the
 * services of `ipvsadm -ln` with the same VIP:port (in listing order); devices are filled in by the caller
 * from `dpip addr show`.
 */
export function parseIpvsadmLaddrs(text: string, services: LbService[] = []): LbLaddr[] {
  const out: LbLaddr[] = [];
  let svcKey: string | null = null;
  const used = new Set<string>();
  for (const raw of text.split('\n')) {
    if (!raw.trim() || raw.startsWith('VIP:VPORT')) continue;
    if (!/^\s/.test(raw)) {
      const hp = splitHostPort(raw.trim().split(/\s+/)[0] ?? '');
      if (!hp) {
        svcKey = null;
        continue;
      }
      const ip = canonicalIp(hp.ip);
      // -G lists services in the order -ln does: take the first not yet used with this VIP:port
      const svc = services.find((s) => s.vip === ip && s.port === hp.port && !used.has(s.key));
      if (svc) used.add(svc.key);
      svcKey = svc ? svc.key : serviceKey({ proto: 'tcp', vip: ip, port: hp.port });
      continue;
    }
    const lip = raw.trim().split(/\s+/)[0];
    if (svcKey && lip) out.push({ service: svcKey, ip: canonicalIp(lip) });
  }
  return out;
}
