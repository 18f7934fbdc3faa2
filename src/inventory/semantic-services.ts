/**
 * Relations between services and the balancers that serve them: local addresses, real servers, VIPs,
 * the KNI and SSH addresses of each balancer, and what DR and TUN require of a balancer's network (the
 * sentences src/lb/desired.ts computes as `problems` at plan time, here positioned and caught offline).
 * Every index is built once (maps by balancer and canonical address), so the checks stay linear in the
 * number of hosts, services, real servers and local addresses.
 */
import { isBalancer, keepalivedEnabled as vrrpOwnsVips } from './roles.js';
import { familyOf } from './ip.js';
import {
  allConnected,
  canon,
  connectedPrefixes,
  hostAddresses,
  inPrefix,
  isIp,
  prefixList,
  type OwnedAddress,
  type Prefix,
} from './addr.js';
import type { Findings } from './findings.js';
import { listOr } from './findings.js';
import { originOf, type Resolution } from './merge.js';
import type { Inventory, ServiceEntry } from './schema.js';
import type { DocPath } from './source.js';

interface Placed {
  path: DocPath;
  service: number;
}

/** Lazily computed, per balancer. */
class BalancerFacts {
  private own?: Map<string, OwnedAddress>;
  private conn?: Map<string, Prefix[]>;
  readonly vips = new Map<string, Placed>();
  readonly lips = new Map<string, Placed>();
  constructor(readonly r: Resolution) {}
  owned(): Map<string, OwnedAddress> {
    return (this.own ??= hostAddresses(this.r));
  }
  connected(): Map<string, Prefix[]> {
    return (this.conn ??= connectedPrefixes(this.r));
  }
}

const svcLabel = (inv: Inventory, i: number) => `services[${i}] ('${inv.services?.[i]?.name}')`;

export function checkServiceRelations(inv: Inventory, res: Resolution[], f: Findings): void {
  const services = inv.services ?? [];
  const facts = new Map<string, BalancerFacts>();
  for (const r of res) if (isBalancer(r.host)) facts.set(r.host.name, new BalancerFacts(r));
  const balancersOf = (s: ServiceEntry): BalancerFacts[] =>
    [...new Set(s.balancers)].map((b) => facts.get(b)).filter((b): b is BalancerFacts => b !== undefined);

  // Index VIPs and local addresses per balancer.
  services.forEach((s, i) => {
    for (const b of balancersOf(s)) {
      if (s.mode !== 'snat' && !b.vips.has(canon(s.vip)))
        b.vips.set(canon(s.vip), { path: ['services', i, 'vip'], service: i });
      (s.local_addresses?.[b.r.host.name] ?? []).forEach((l, k) => {
        const ip = canon(l.address);
        if (!b.lips.has(ip))
          b.lips.set(ip, {
            path: ['services', i, 'local_addresses', b.r.host.name, k, 'address'],
            service: i,
          });
      });
    }
  });

  services.forEach((s, i) => {
    const at = (...p: Array<string | number>): DocPath => ['services', i, ...p];
    const bals = balancersOf(s);
    for (const b of bals) {
      checkVipPlacement(s, i, b, f);
      const name = b.r.host.name;
      (s.local_addresses?.[name] ?? []).forEach((l, k) => {
        const vip = b.vips.get(canon(l.address));
        if (vip)
          f.error(
            at('local_addresses', name, k, 'address'),
            `local address ${l.address} is the VIP of ${svcLabel(inv, vip.service)} on balancer '${name}'; FullNAT ` +
              `would send to real servers from the VIP and replies would loop back to the service: use an address of ` +
              `the real servers' network that is no VIP`,
            false,
            vip.path,
          );
      });
    }
    (s.real_servers ?? []).forEach((rs, k) => {
      const ip = canon(rs.address);
      for (const b of bals) {
        const name = b.r.host.name;
        const vip = b.vips.get(ip);
        if (vip) {
          f.error(
            at('real_servers', k, 'address'),
            `real server ${rs.address} is a VIP of balancer '${name}' (${svcLabel(inv, vip.service)}); the balancer ` +
              `would forward the traffic to itself: list the real servers' own addresses`,
            false,
            vip.path,
          );
          continue;
        }
        const own: { what: string; path: DocPath } | undefined =
          isIp(b.r.host.address) && canon(b.r.host.address) === ip
            ? { what: 'SSH address', path: ['hosts', name, 'address'] }
            : (b.owned().get(ip) ??
              (b.lips.has(ip) ? { what: 'local address', path: b.lips.get(ip)?.path ?? [] } : undefined));
        if (own && s.mode !== 'snat') {
          f.error(
            at('real_servers', k, 'address'),
            `real server ${rs.address} is balancer '${name}' itself (its ${own.what}); a balancer cannot be a real ` +
              `server of its own service: remove it from real_servers or from balancers`,
            false,
            own.path,
          );
          continue;
        }
        if (s.mode === 'dr') {
          const conn = allConnected(b.connected());
          if (!conn.some((p) => inPrefix(ip, p)))
            f.error(
              at('real_servers', k, 'address'),
              `DR real server ${rs.address} is on none of balancer '${name}''s connected prefixes (${prefixList(conn)}); ` +
                `DR rewrites only the MAC, so the real server must share an L2 segment with the balancer: add an ` +
                `address in its subnet on the balancer (addresses) or use fullnat or tun`,
              false,
              conn[0]?.path ?? ['hosts', name],
            );
        }
      }
      if ((s.mode === 'dr' || s.mode === 'tun') && rs.port !== undefined && rs.port !== s.port)
        f.error(
          at('real_servers', k, 'port'),
          `real server port ${rs.port} differs from the service port ${s.port}; ${s.mode.toUpperCase()} forwards ` +
            `packets unchanged and cannot remap ports: drop the port (or set ${s.port}), or use fullnat`,
          false,
          at('port'),
        );
      if (s.mode !== 'fullnat' && s.mode !== 'snat' && familyOf(ip) !== familyOf(canon(s.vip)))
        f.error(
          at('real_servers', k, 'address'),
          `real server ${rs.address} is IPv${familyOf(ip) === 'inet' ? 4 : 6} but the VIP ${s.vip} is ` +
            `IPv${familyOf(canon(s.vip)) === 'inet' ? 4 : 6}; only fullnat translates between families: use fullnat ` +
            `or real servers of the VIP's family`,
          false,
          at('vip'),
        );
    });
  });

  // Per balancer: KNI and SSH addresses against the addresses the services put on its ports.
  for (const b of facts.values()) {
    const h = b.r.host;
    const kni = h.keepalived?.kni_address;
    if (kni !== undefined) {
      const ip = canon(kni);
      const hit = b.lips.get(ip) ?? b.vips.get(ip);
      if (hit)
        f.error(
          originOf(b.r, ['keepalived', 'kni_address']),
          `kni_address ${ip} is also the ${b.lips.has(ip) ? 'local address' : 'VIP'} of ${svcLabel(inv, hit.service)}; ` +
            `dpvs owns that address on the port and VRRP on ${h.keepalived?.interface ?? '<port>'}.kni breaks: use a ` +
            `separate address for the KNI`,
          false,
          hit.path,
        );
    }
    if (isIp(h.address)) {
      const ip = canon(h.address);
      const hit = b.lips.get(ip) ?? b.vips.get(ip);
      if (hit)
        f.error(
          ['hosts', h.name, 'address'],
          `SSH address ${h.address} is also the ${b.lips.has(ip) ? 'local address' : 'VIP'} of ${svcLabel(inv, hit.service)}, ` +
            `which dpvs puts on a DPDK port; binding the port cuts the SSH session mid-apply: connect through a ` +
            `management NIC that is not in nics`,
          false,
          hit.path,
        );
    }
  }
}

/** What src/lb/desired.ts needs to put a service's VIP on a balancer (its `problems`, positioned). */
function checkVipPlacement(s: ServiceEntry, i: number, b: BalancerFacts, f: Findings): void {
  const h = b.r.host;
  const at = (...p: Array<string | number>): DocPath => ['services', i, ...p];
  const vip = canon(s.vip);
  const listed = (h.addresses ?? []).some((a) => canon(a.address) === vip);
  const wantsVip = s.mode === 'snat' || !vrrpOwnsVips(h);
  const first = b.vips.get(vip);
  if (s.mode !== 'snat' && first && first.service !== i) return; // an earlier service put this VIP there
  const nics = listOr((h.nics ?? []).map((n) => n.name));
  if (wantsVip && !listed) {
    if (s.vip_dev === undefined) {
      f.error(
        at('vip'),
        `service '${s.name}' has no vip_dev, so its VIP ${s.vip} cannot be added on balancer '${h.name}' ` +
          `(nor is it in its addresses): set vip_dev to the client-side port (one of ${nics})`,
        false,
        ['hosts', h.name],
      );
    } else if (
      s.mode === 'dr' &&
      (h.nics ?? []).some((n) => n.name === s.vip_dev) &&
      !(h.addresses ?? []).some((a) => a.dev === s.vip_dev)
    ) {
      f.error(
        at('vip_dev'),
        `DR service '${s.name}' puts its VIP on ${s.vip_dev}, but balancer '${h.name}' has no address on ${s.vip_dev}; ` +
          `DR needs a LAN address there before the VIP: add addresses: [{address: <ip>/<len>, dev: ${s.vip_dev}}]`,
        false,
        (h.addresses?.length ?? 0) > 0 ? originOf(b.r, ['addresses']) : ['hosts', h.name],
      );
    }
  }
  if (s.mode === 'tun') {
    const k = (h.routes ?? []).findIndex((r) => r.prefix === 'default' || r.prefix.endsWith('/0'));
    const dflt = h.routes?.[k];
    if (!dflt?.src)
      f.error(
        k >= 0 ? originOf(b.r, ['routes', k]) : at('mode'),
        `TUN service '${s.name}' needs the default route of balancer '${h.name}' to carry src (an address of the ` +
          `balancer): the tunnel's outer source address comes from it; add src: <dpvs address> to the default route`,
        k >= 0,
        at('mode'),
      );
  }
}
