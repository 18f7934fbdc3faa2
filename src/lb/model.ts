/**
 * The LB state model: what a balancer's DPVS holds (addresses, routes, services, real servers, local
 * addresses), in one shape for the desired state (from the inventory) and the current state (parsed
 * from dpip/ipvsadm output). Every object has a stable key; the reconciler matches objects by key and
 * compares their attributes.
 */
import { hostPort, type Family } from '../inventory/ip.js';

export type AddressScope = 'global' | 'link' | 'host';
export type RouteScope = 'global' | 'link' | 'host' | 'kni_host';
export type Forward = 'fullnat' | 'dr' | 'tun' | 'nat' | 'snat';
export type Proto = 'tcp' | 'udp' | 'icmp';

export interface LbAddress {
  family: Family;
  /** canonical address */
  ip: string;
  plen: number;
  dev: string;
  scope: AddressScope;
  sapool: boolean;
}

export interface LbRoute {
  family: Family;
  /** canonical prefix, e.g. 0.0.0.0/0, 10.0.96.0/24 */
  prefix: string;
  dev: string;
  via?: string;
  src?: string;
  /** undefined in the desired state = "whatever dpvs picks" (not compared) */
  scope?: RouteScope;
  mtu?: number;
  metric?: number;
}

/** SNAT match (ipvsadm -H). Ranges as the operator wrote them, without a trailing ":0-0". */
export interface SnatMatch {
  proto: Proto;
  srcRange?: string;
  dstRange?: string;
  iif?: string;
  oif?: string;
}

export interface LbService {
  key: string;
  proto: Proto;
  /** set for address services */
  vip?: string;
  port?: number;
  /** set for SNAT match services */
  match?: SnatMatch;
  scheduler: string;
  /** persistence timeout in seconds */
  persistence?: number;
  /** --conn-timeout: set on create, not compared (not every ipvsadm prints it) */
  connTimeout?: number;
  /** inventory service name (desired only) */
  name?: string;
}

export interface LbRealServer {
  service: string;
  ip: string;
  port: number;
  weight: number;
  forward: Forward;
}

export interface LbLaddr {
  service: string;
  ip: string;
  /** unknown in current state when dpip addr show does not list the address */
  dev?: string;
}

export interface LbState {
  addresses: LbAddress[];
  routes: LbRoute[];
  services: LbService[];
  realServers: LbRealServer[];
  laddrs: LbLaddr[];
}

export const emptyState = (): LbState => ({
  addresses: [],
  routes: [],
  services: [],
  realServers: [],
  laddrs: [],
});

export const addressKey = (a: Pick<LbAddress, 'ip' | 'dev'>): string => `${a.ip}@${a.dev}`;
export const routeKey = (r: Pick<LbRoute, 'prefix' | 'dev'>): string => `${r.prefix}@${r.dev}`;
export const realServerKey = (r: Pick<LbRealServer, 'service' | 'ip' | 'port'>): string =>
  `${r.service}->${hostPort(r.ip, r.port)}`;
export const laddrKey = (l: Pick<LbLaddr, 'service' | 'ip'>): string => `${l.service}~${l.ip}`;

/** ipvsadm's -H argument for a match: only the parts that are set, in a fixed order. */
export function matchArg(m: SnatMatch): string {
  const parts = [`proto=${m.proto}`];
  if (m.srcRange) parts.push(`src-range=${m.srcRange}`);
  if (m.dstRange) parts.push(`dst-range=${m.dstRange}`);
  if (m.iif) parts.push(`iif=${m.iif}`);
  if (m.oif) parts.push(`oif=${m.oif}`);
  return parts.join(',');
}

export function serviceKey(s: { proto: Proto; vip?: string; port?: number; match?: SnatMatch }): string {
  if (s.match) return `match:${matchArg(s.match)}`;
  return `${s.proto}:${hostPort(s.vip ?? '', s.port ?? 0)}`;
}

export const forwardNames: Record<Forward, string> = {
  fullnat: 'FullNat',
  dr: 'Route',
  tun: 'Tunnel',
  nat: 'Masq',
  snat: 'SNAT',
};

export function forwardFromName(name: string): Forward | null {
  const hit = (Object.keys(forwardNames) as Forward[]).find(
    (f) => forwardNames[f].toLowerCase() === name.toLowerCase(),
  );
  return hit ?? null;
}

export function describeAddress(a: LbAddress): string {
  return `${a.ip}/${a.plen} dev ${a.dev} scope ${a.scope}${a.sapool ? ' sapool' : ''}`;
}

export function describeRoute(r: LbRoute): string {
  const parts = [r.prefix];
  if (r.via) parts.push(`via ${r.via}`);
  parts.push(`dev ${r.dev}`);
  if (r.src) parts.push(`src ${r.src}`);
  if (r.scope) parts.push(`scope ${r.scope}`);
  if (r.mtu !== undefined) parts.push(`mtu ${r.mtu}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  return parts.join(' ');
}

export function describeService(s: LbService): string {
  const where = s.match
    ? `match ${matchArg(s.match)}`
    : `${s.proto.toUpperCase()} ${hostPort(s.vip ?? '', s.port ?? 0)}`;
  return `${where} ${s.scheduler}${s.persistence !== undefined ? ` persistent ${s.persistence}` : ''}`;
}

export function describeRealServer(r: LbRealServer): string {
  return `${hostPort(r.ip, r.port)} ${forwardNames[r.forward]} weight ${r.weight}`;
}
