/**
 * Address relations inside one host: gateways on a connected prefix, KNI names and addresses that do
 * not collide, the SSH address kept off the DPDK ports, worker layouts only where workers run.
 */
import { canon, connectedPrefixes, hostAddresses, inPrefix, isIp, prefixList } from './addr.js';
import { isBalancer as balancerRole } from './roles.js';
import { familyOf } from './ip.js';
import type { Findings } from './findings.js';
import { originOf, type Resolution } from './merge.js';

export function checkHostNetwork(r: Resolution, f: Findings): void {
  const h = r.host;
  const o = (...p: Array<string | number>) => originOf(r, p);
  const isBalancer = balancerRole(h);

  if (!isBalancer && h.workers !== undefined) {
    f.error(
      o('workers'),
      `host '${h.name}' has a worker layout but no balancer role (roles: ${h.roles.join(', ')}); only dpvs ` +
        `runs workers, so it would be ignored: set workers on balancers only (their entries or a balancers group)`,
      true,
      ['hosts', h.name, 'roles'],
    );
  }
  if (!isBalancer) return;

  // Gateways: every `via` on a connected prefix of the route's port.
  const connected = connectedPrefixes(r);
  const ports = new Set((h.nics ?? []).map((n) => n.name));
  (h.routes ?? []).forEach((rt, i) => {
    // An unknown dev or a via of the other family is reported already.
    if (rt.via === undefined || !ports.has(rt.dev)) return;
    if (rt.prefix !== 'default' && familyOf(rt.via) !== familyOf(rt.prefix.split('/')[0] ?? '')) return;
    const onDev = connected.get(rt.dev) ?? [];
    if (onDev.some((p) => inPrefix(rt.via as string, p))) return;
    const what = rt.prefix === 'default' ? 'the default gateway' : `the gateway of ${rt.prefix}`;
    f.error(
      o('routes', i, 'via'),
      `${what} ${rt.via} is on none of ${rt.dev}'s connected prefixes (${prefixList(onDev)}); dpvs cannot ` +
        `resolve it and the route sends nothing: add an address in its subnet on ${rt.dev} ` +
        `(addresses: [{address: <ip>/<len>, dev: ${rt.dev}}]) or a link route (routes: [{prefix: <net>/<len>, dev: ${rt.dev}}]), or fix via`,
      false,
      onDev[0]?.path ?? o('routes', i, 'dev'),
    );
  });

  // KNI netdev names: explicit or the default <port>.kni, one per port.
  const kniNames = new Map<string, number>();
  const portNames = new Set<string>();
  (h.nics ?? []).forEach((n, i) => {
    if (portNames.has(n.name)) return; // a duplicate port name is reported already
    portNames.add(n.name);
    const name = n.kni_name ?? `${n.name}.kni`;
    const prev = kniNames.get(name);
    if (prev !== undefined) {
      const other = h.nics?.[prev];
      f.error(
        n.kni_name !== undefined ? o('nics', i, 'kni_name') : o('nics', i, 'name'),
        `kni_name '${name}' of port '${n.name}' is also the KNI name of port '${other?.name}'; the kernel ` +
          `refuses the second netdev and dpvs fails to start: give each port its own kni_name`,
        false,
        other?.kni_name !== undefined ? o('nics', prev, 'kni_name') : o('nics', prev, 'name'),
      );
    } else kniNames.set(name, i);
  });

  // The KNI (VRRP) address is a kernel address on <port>.kni; dpvs's own addresses must differ.
  const kni = h.keepalived?.kni_address;
  if (kni !== undefined) {
    const ip = canon(kni);
    const i = (h.addresses ?? []).findIndex((a) => canon(a.address) === ip);
    if (i >= 0) {
      f.error(
        o('keepalived', 'kni_address'),
        `kni_address ${ip} is also addresses[${i}] (${h.addresses?.[i]?.address} on ${h.addresses?.[i]?.dev}); ` +
          `dpvs would answer ARP for it and VRRP adverts never reach keepalived: use a separate address for the KNI`,
        false,
        o('addresses', i, 'address'),
      );
    }
  }

  // SSH address on a DPDK port: binding the port to DPDK removes it from the kernel and cuts the session.
  if (isIp(h.address)) {
    const mine = hostAddresses(r).get(canon(h.address));
    if (mine) {
      f.error(
        ['hosts', h.name, 'address'],
        `SSH address ${h.address} is this host's ${mine.what}; binding the DPDK port takes it away from the kernel ` +
          `and cuts the SSH session mid-apply: connect through a management NIC that is not in nics`,
        false,
        mine.path,
      );
    }
  }
}
