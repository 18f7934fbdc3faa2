/**
 * Address facts of one resolved host that the semantic checks compare: canonical IPs (so two spellings
 * of one IPv6 address compare equal), the connected prefixes of each DPDK port, and every address the
 * host owns with the document path it was written at.
 */
import { canonicalIp, familyOf, maxPrefixLen, networkOf } from './ip.js';
import { originOf, type Resolution } from './merge.js';
import { isIpv4, isIpv6 } from './schema.js';
import type { DocPath } from './source.js';

/** Canonical form of an address or of the address part of ADDRESS/PREFIXLEN. */
export function canon(ipOrCidr: string): string {
  return canonicalIp(ipOrCidr.split('/')[0] ?? ipOrCidr);
}

export function isIp(s: string): boolean {
  return isIpv4(s) || isIpv6(s);
}

export interface Prefix {
  /** canonical network/plen */
  text: string;
  net: string;
  plen: number;
  family: 'inet' | 'inet6';
  path: DocPath;
}

function prefixOf(cidr: string, path: DocPath): Prefix {
  const [ip = '', len] = cidr.split('/');
  const family = familyOf(ip);
  const plen = len === undefined ? maxPrefixLen(family) : Number(len);
  const net = networkOf(canonicalIp(ip), plen);
  return { text: `${net}/${plen}`, net, plen, family, path };
}

export function inPrefix(ip: string, p: Prefix): boolean {
  return familyOf(ip) === p.family && networkOf(canon(ip), p.plen) === p.net;
}

/**
 * Connected prefixes per DPDK port: each address's subnet (addresses[].address with its prefix length)
 * and each link route (a route without `via`, other than default). A gateway, a DR real server or a
 * neighbour must sit in one of them for dpvs to resolve it (ARP/ND) on that port.
 */
export function connectedPrefixes(r: Resolution): Map<string, Prefix[]> {
  const out = new Map<string, Prefix[]>();
  const add = (dev: string, p: Prefix) => out.set(dev, [...(out.get(dev) ?? []), p]);
  (r.host.addresses ?? []).forEach((a, i) =>
    add(a.dev, prefixOf(a.address, originOf(r, ['addresses', i, 'address']))),
  );
  (r.host.routes ?? []).forEach((rt, i) => {
    if (rt.via === undefined && rt.prefix !== 'default' && rt.scope !== 'host')
      add(rt.dev, prefixOf(rt.prefix, originOf(r, ['routes', i, 'prefix'])));
  });
  return out;
}

export function allConnected(byDev: Map<string, Prefix[]>): Prefix[] {
  return [...byDev.values()].flat();
}

/** An address a balancer configures on one of its DPDK ports (or its KNI), where it was written. */
export interface OwnedAddress {
  ip: string;
  what: string;
  path: DocPath;
}

/** addresses[] and keepalived.kni_address of a host, by canonical IP (first writer wins). */
export function hostAddresses(r: Resolution): Map<string, OwnedAddress> {
  const out = new Map<string, OwnedAddress>();
  (r.host.addresses ?? []).forEach((a, i) => {
    const ip = canon(a.address);
    if (!out.has(ip))
      out.set(ip, { ip, what: `address on ${a.dev}`, path: originOf(r, ['addresses', i, 'address']) });
  });
  const kni = r.host.keepalived?.kni_address;
  if (kni !== undefined) {
    const ip = canon(kni);
    if (!out.has(ip))
      out.set(ip, { ip, what: 'keepalived kni_address', path: originOf(r, ['keepalived', 'kni_address']) });
  }
  return out;
}

/** "10.0.96.0/24 (routes[0]), 192.168.1.0/24" for messages. */
export function prefixList(ps: readonly Prefix[]): string {
  return ps.length ? ps.map((p) => p.text).join(', ') : 'none';
}
