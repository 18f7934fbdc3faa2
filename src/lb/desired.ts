/**
 * Desired LB state of one balancer, from the inventory:
 * - host.addresses and host.routes as written;
 * - for each service the host balances (host in service.balancers):
 *   - the VIP as /32 (/128) on vip_dev, unless host.addresses lists it or keepalived manages VIPs
 *     (VRRP adds them on the master only); SNAT's WAN address (the service's vip) gets `sapool`;
 *   - the service (`ipvsadm -A`), its real servers (`-a`, forward flag from the mode) and, for FullNAT,
 *     this balancer's local addresses (`--add-laddr`, which sets the sapool itself: never `dpip addr add`);
 *   - SNAT services are match services (`-H`), their real server is WANIP:0 unless real_servers says;
 * - with keepalived and a kni_address: the `scope kni_host` route that lets VRRP reach the kernel.
 * Problems the inventory has for LB purposes (DR without a LAN address, TUN default route without src,
 * missing vip_dev) are returned as sentences.
 */
import type { ResolvedHost } from '../inventory/types.js';
import type { ServiceEntry } from '../inventory/schema.js';
import { canonicalIp, canonicalPrefix, canonicalRange, familyOf, maxPrefixLen } from '../inventory/ip.js';
import {
  emptyState,
  serviceKey,
  type Forward,
  type LbAddress,
  type LbRoute,
  type LbService,
  type LbState,
  type Proto,
} from './model.js';

export interface DesiredOptions {
  /** keepalived adds VIPs (virtual_ipaddress); do not add them with dpip */
  vrrpOwnsVips?: boolean;
}

export interface Desired {
  state: LbState;
  problems: string[];
}

export const DEFAULT_SCHEDULER = 'wlc';

const forwardOf: Record<ServiceEntry['mode'], Forward> = {
  fullnat: 'fullnat',
  dr: 'dr',
  tun: 'tun',
  nat: 'nat',
  snat: 'snat',
};

export function servicesOf(
  host: Pick<ResolvedHost, 'name'>,
  services: readonly ServiceEntry[],
): ServiceEntry[] {
  return services.filter((s) => s.balancers.includes(host.name));
}

export { keepalivedEnabled } from '../inventory/roles.js';
import { keepalivedEnabled } from '../inventory/roles.js';

export function keepalivedOwnsServices(host: ResolvedHost): boolean {
  return keepalivedEnabled(host) && host.keepalived?.owns_services === true;
}

export function toLbService(s: ServiceEntry): LbService {
  const proto: Proto = s.match?.proto ?? s.protocol ?? 'tcp';
  const svc: LbService = { key: '', proto, scheduler: s.scheduler ?? DEFAULT_SCHEDULER, name: s.name };
  if (s.mode === 'snat') {
    svc.match = { proto };
    if (s.match?.src_range) svc.match.srcRange = canonicalRange(s.match.src_range);
    if (s.match?.dst_range) svc.match.dstRange = canonicalRange(s.match.dst_range);
    if (s.match?.iif) svc.match.iif = s.match.iif;
    if (s.match?.oif) svc.match.oif = s.match.oif;
  } else {
    svc.vip = canonicalIp(s.vip);
    svc.port = s.port;
  }
  if (s.persistence_s !== undefined) svc.persistence = s.persistence_s;
  if (s.conn_timeout_s !== undefined) svc.connTimeout = s.conn_timeout_s;
  svc.key = serviceKey(svc);
  return svc;
}

function toAddress(spec: {
  address: string;
  dev: string;
  sapool?: boolean;
  scope?: LbAddress['scope'];
}): LbAddress {
  const [ip = '', len] = spec.address.split('/');
  const family = familyOf(ip);
  return {
    family,
    ip: canonicalIp(ip),
    plen: len === undefined ? maxPrefixLen(family) : Number(len),
    dev: spec.dev,
    scope: spec.scope ?? 'global',
    sapool: spec.sapool ?? false,
  };
}

function toRoute(spec: NonNullable<ResolvedHost['routes']>[number]): LbRoute {
  const family =
    spec.prefix === 'default' ? familyOf(spec.via ?? spec.src ?? '0.0.0.0') : familyOf(spec.prefix);
  const r: LbRoute = { family, prefix: canonicalPrefix(spec.prefix, family), dev: spec.dev };
  if (spec.via) r.via = canonicalIp(spec.via);
  if (spec.src) r.src = canonicalIp(spec.src);
  if (spec.scope) r.scope = spec.scope;
  if (spec.mtu !== undefined) r.mtu = spec.mtu;
  if (spec.metric !== undefined) r.metric = spec.metric;
  return r;
}

export function desiredState(
  host: ResolvedHost,
  services: readonly ServiceEntry[],
  opts: DesiredOptions = {},
): Desired {
  const state = emptyState();
  const problems: string[] = [];
  for (const a of host.addresses ?? []) state.addresses.push(toAddress(a));
  for (const r of host.routes ?? []) state.routes.push(toRoute(r));
  const listed = new Set(state.addresses.map((a) => a.ip));
  const hostAddrsOn = (dev: string): LbAddress[] => state.addresses.filter((a) => a.dev === dev);

  for (const s of servicesOf(host, services)) {
    const svc = toLbService(s);
    const vip = canonicalIp(s.vip);
    const family = familyOf(vip);
    const wantsVip = s.mode !== 'snat' ? !opts.vrrpOwnsVips : true;
    if (wantsVip && !listed.has(vip)) {
      if (!s.vip_dev) {
        problems.push(`service ${s.name}: vip_dev is not set, so ${vip} cannot be added on ${host.name}`);
      } else {
        if (s.mode === 'dr' && hostAddrsOn(s.vip_dev).length === 0)
          problems.push(
            `service ${s.name} (DR): ${host.name} needs a LAN address on ${s.vip_dev} (host.addresses) before the VIP`,
          );
        state.addresses.push({
          family,
          ip: vip,
          plen: maxPrefixLen(family),
          dev: s.vip_dev,
          scope: 'global',
          sapool: s.mode === 'snat',
        });
        listed.add(vip);
      }
    }
    if (s.mode === 'tun') {
      const dflt = state.routes.find((r) => r.prefix === '0.0.0.0/0' || r.prefix === '::/0');
      if (!dflt?.src)
        problems.push(`service ${s.name} (TUN): the default route on ${host.name} needs src <dpvs address>`);
    }
    if (!state.services.some((x) => x.key === svc.key)) state.services.push(svc);

    const forward = forwardOf[s.mode];
    const rsList = s.real_servers ?? (s.mode === 'snat' ? [{ address: vip, port: 0 }] : []);
    for (const rs of rsList) {
      state.realServers.push({
        service: svc.key,
        ip: canonicalIp(rs.address),
        port: rs.port ?? (s.mode === 'snat' ? 0 : s.port),
        weight: rs.weight ?? 1,
        forward,
      });
    }
    const lips = s.local_addresses?.[host.name] ?? [];
    if (s.mode === 'fullnat' && lips.length === 0)
      problems.push(`service ${s.name} (FullNAT): no local_addresses for ${host.name}`);
    if (s.mode === 'fullnat')
      for (const l of lips) state.laddrs.push({ service: svc.key, ip: canonicalIp(l.address), dev: l.dev });
  }

  const k = host.keepalived;
  if (keepalivedEnabled(host) && k?.kni_address && k.interface) {
    const ip = canonicalIp(k.kni_address.split('/')[0] ?? '');
    const family = familyOf(ip);
    const prefix = `${ip}/${maxPrefixLen(family)}`;
    if (!state.routes.some((r) => r.prefix === prefix && r.dev === k.interface))
      state.routes.push({ family, prefix, dev: k.interface, scope: 'kni_host' });
  }
  return { state, problems };
}
