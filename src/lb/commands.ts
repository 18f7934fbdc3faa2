/**
 * The dpip / ipvsadm command lines for each LB object. Every value goes through `sh` (quoted); the
 * binaries are addressed by absolute path under `<dpvs prefix>/current/bin`.
 */
import { raw, sh, type Raw } from '../transport/quote.js';
import { hostPort } from '../inventory/ip.js';
import {
  matchArg,
  type Forward,
  type LbAddress,
  type LbLaddr,
  type LbRealServer,
  type LbRoute,
  type LbService,
} from './model.js';

export interface LbBins {
  dpip: string;
  ipvsadm: string;
}

export function lbBins(prefix = '/opt/dpvs'): LbBins {
  const bin = `${prefix.replace(/\/+$/, '')}/current/bin`;
  return { dpip: `${bin}/dpip`, ipvsadm: `${bin}/ipvsadm` };
}

const fam = (f: 'inet' | 'inet6'): Raw => raw(f === 'inet6' ? ' -6' : '');

export function addrAdd(b: LbBins, a: LbAddress): string {
  let cmd = sh`${b.dpip}${fam(a.family)} addr add ${`${a.ip}/${a.plen}`} dev ${a.dev}`;
  if (a.scope !== 'global') cmd += sh` scope ${a.scope}`;
  if (a.sapool) cmd += ' sapool';
  return cmd;
}

export function addrDel(b: LbBins, a: LbAddress): string {
  return sh`${b.dpip}${fam(a.family)} addr del ${`${a.ip}/${a.plen}`} dev ${a.dev}`;
}

function routeArgs(r: LbRoute): string {
  const prefix = r.prefix === '0.0.0.0/0' || r.prefix === '::/0' ? 'default' : r.prefix;
  let cmd = sh`${prefix}`;
  if (r.via) cmd += sh` via ${r.via}`;
  cmd += sh` dev ${r.dev}`;
  if (r.src) cmd += sh` src ${r.src}`;
  if (r.mtu !== undefined) cmd += sh` mtu ${r.mtu}`;
  // dpip -6 accepts and drops a metric (dpip-route6-metric-dropped): sent for IPv4 only
  if (r.metric !== undefined && r.family === 'inet') cmd += sh` metric ${r.metric}`;
  if (r.scope) cmd += sh` scope ${r.scope}`;
  return cmd;
}

export function routeAdd(b: LbBins, r: LbRoute): string {
  return sh`${b.dpip}${fam(r.family)} route add ${raw(routeArgs(r))}`;
}

export function routeDel(b: LbBins, r: LbRoute): string {
  const prefix = r.prefix === '0.0.0.0/0' || r.prefix === '::/0' ? 'default' : r.prefix;
  let cmd = sh`${b.dpip}${fam(r.family)} route del ${prefix}`;
  if (r.via) cmd += sh` via ${r.via}`;
  return cmd + sh` dev ${r.dev}`;
}

/** `-t VIP:port`, `-u VIP:port`, `-q VIP:port` or `-H match`. */
function svcArgs(s: Pick<LbService, 'proto' | 'vip' | 'port' | 'match'>): string {
  if (s.match) return sh`-H ${matchArg(s.match)}`;
  const flag = s.proto === 'udp' ? '-u' : s.proto === 'icmp' ? '-q' : '-t';
  return sh`${raw(flag)} ${hostPort(s.vip ?? '', s.port ?? 0)}`;
}

function svcOptions(s: LbService): string {
  let cmd = sh` -s ${s.scheduler}`;
  if (s.persistence !== undefined) cmd += sh` -p ${s.persistence}`;
  return cmd;
}

export function serviceAdd(b: LbBins, s: LbService): string {
  let cmd = sh`${b.ipvsadm} -A ${raw(svcArgs(s))}${raw(svcOptions(s))}`;
  if (s.connTimeout !== undefined) cmd += sh` --conn-timeout ${s.connTimeout}`;
  return cmd;
}

/** `-E` sets the connection timeout from the request (0 when absent: ipvsadm-E-resets-conn-timeout). */
export function serviceEdit(b: LbBins, s: LbService): string {
  let cmd = sh`${b.ipvsadm} -E ${raw(svcArgs(s))}${raw(svcOptions(s))}`;
  if (s.connTimeout !== undefined) cmd += sh` --conn-timeout ${s.connTimeout}`;
  return cmd;
}

export function serviceDel(b: LbBins, s: LbService): string {
  return sh`${b.ipvsadm} -D ${raw(svcArgs(s))}`;
}

const forwardFlag: Record<Forward, string> = { fullnat: '-b', dr: '-g', tun: '-i', nat: '-m', snat: '-J' };

function rsArgs(svc: LbService, r: LbRealServer, withWeight: boolean): string {
  let cmd = sh`${raw(svcArgs(svc))} -r ${hostPort(r.ip, r.port)} ${raw(forwardFlag[r.forward])}`;
  if (withWeight) cmd += sh` -w ${r.weight}`;
  return cmd;
}

/** Weight is given only when it is not ipvsadm's default (1), as the tutorial writes the command. */
export function realServerAdd(b: LbBins, svc: LbService, r: LbRealServer): string {
  return sh`${b.ipvsadm} -a ${raw(rsArgs(svc, r, r.weight !== 1))}`;
}

export function realServerEdit(b: LbBins, svc: LbService, r: LbRealServer): string {
  return sh`${b.ipvsadm} -e ${raw(rsArgs(svc, r, true))}`;
}

export function realServerDel(b: LbBins, svc: LbService, r: LbRealServer): string {
  return sh`${b.ipvsadm} -d ${raw(svcArgs(svc))} -r ${hostPort(r.ip, r.port)}`;
}

export function laddrAdd(b: LbBins, svc: LbService, l: LbLaddr): string {
  return sh`${b.ipvsadm} --add-laddr -z ${l.ip} ${raw(svcArgs(svc))} -F ${l.dev ?? ''}`;
}

export function laddrDel(b: LbBins, svc: LbService, l: LbLaddr): string {
  return sh`${b.ipvsadm} --del-laddr -z ${l.ip} ${raw(svcArgs(svc))} -F ${l.dev ?? ''}`;
}
