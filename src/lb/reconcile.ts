/**
 * Reconciler: desired LB state vs current state (parsed from the host) vs the record of what
 * dpvs-deploy created. Pure. Produces the exact commands:
 * - create what is desired and missing; change what differs (`ipvsadm -E` for scheduler/persistence,
 *   `-e` for weight/forwarding, delete + add for addresses, routes and a LIP's device);
 * - delete what is present, not desired and listed in the record (ONLY those);
 * - everything else present but neither desired nor recorded is returned as `unmanaged` (not touched,
 *   unless `pruneUnmanaged`).
 * Objects dpvs creates by itself are never reported: host routes of addresses and the connected route
 * of an address with a prefix, and the addresses `--add-laddr` creates for LIPs.
 * Order: creates and changes first (addresses, routes, services, real servers, LIPs), then deletes in
 * reverse order (LIPs, real servers, services, routes, addresses). Deleting a service deletes its real
 * servers and LIPs, so they get no commands of their own. Current == desired → no ops.
 */
import * as cmd from './commands.js';
import { maxPrefixLen, networkOf } from '../inventory/ip.js';
import {
  addressKey,
  describeAddress,
  describeRealServer,
  describeRoute,
  describeService,
  laddrKey,
  realServerKey,
  routeKey,
  type LbAddress,
  type LbLaddr,
  type LbRealServer,
  type LbRoute,
  type LbService,
  type LbState,
} from './model.js';

export type LbObjectKind = 'address' | 'route' | 'service' | 'real-server' | 'laddr';
export type LbScope = 'network' | 'services' | 'all';

export interface LbOp {
  action: 'create' | 'update' | 'delete';
  object: LbObjectKind;
  key: string;
  summary: string;
  before?: string;
  after?: string;
  commands: string[];
}

export interface Unmanaged {
  object: LbObjectKind;
  key: string;
  description: string;
}

export interface ReconcileOptions {
  bins: cmd.LbBins;
  /** which sections to plan: network = addresses + routes; services = services, real servers, LIPs */
  scope: LbScope;
  /** also delete objects that are neither desired nor recorded */
  pruneUnmanaged?: boolean;
  /** addresses another manager adds (keepalived's VRRP VIPs): never deleted nor reported */
  foreignIps?: readonly string[];
}

export interface Reconciled {
  ops: LbOp[];
  unmanaged: Unmanaged[];
  /** the record after these ops: in-scope sections = desired, others as they were */
  record: LbState;
}

const inScope = (scope: LbScope, part: 'network' | 'services'): boolean => scope === 'all' || scope === part;

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
  const m = new Map<string, T>();
  for (const i of items) m.set(key(i), i);
  return m;
}

function sameAddress(d: LbAddress, c: LbAddress): boolean {
  return d.plen === c.plen && d.scope === c.scope && (!d.sapool || c.sapool);
}

function sameRoute(d: LbRoute, c: LbRoute): boolean {
  return (
    d.via === c.via &&
    d.src === c.src &&
    (d.scope === undefined || d.scope === c.scope) &&
    (d.mtu === undefined || d.mtu === c.mtu) &&
    // dpip -6 drops a metric and never lists one (dpip-route6-metric-dropped)
    (d.metric === undefined || d.family === 'inet6' || d.metric === c.metric)
  );
}

/** ipvsadm -ln prints conn-timeout only when it is set (ipvsadm-ln-conn-timeout): unset = 0. */
function sameService(d: LbService, c: LbService): boolean {
  return (
    d.scheduler === c.scheduler &&
    d.persistence === c.persistence &&
    (d.connTimeout ?? 0) === (c.connTimeout ?? 0)
  );
}

/**
 * The IPv6 link-local address dpvs 1.9.8+ gives every port itself (fe80::/64 from the MAC, scope link:
 * dpip-addr-show-v4-link-local): neither drift nor something to prune.
 */
export function isAutoLinkLocal(a: LbAddress): boolean {
  return a.family === 'inet6' && a.scope === 'link' && a.plen === 64 && /^fe80:/i.test(a.ip);
}

/**
 * Routes dpvs adds for its addresses: ip/32 scope host, and the prefix route of ip/plen < 32; and the
 * routes of the link-local addresses dpvs 1.9.8+ makes itself (fe80::/64, fe80::x/128:
 * dpip-route6-show-link-local).
 */
function isImplicitRoute(r: LbRoute, addresses: readonly LbAddress[]): boolean {
  if (
    r.family === 'inet6' &&
    /^fe80:/i.test(r.prefix) &&
    (r.prefix.endsWith('/64') || r.prefix.endsWith('/128'))
  )
    return true;
  return addresses.some((a) => {
    if (a.dev !== r.dev || a.family !== r.family) return false;
    if (r.prefix === `${a.ip}/${maxPrefixLen(a.family)}`) return true;
    return a.plen < maxPrefixLen(a.family) && r.prefix === `${networkOf(a.ip, a.plen)}/${a.plen}`;
  });
}

interface Section<T> {
  object: LbObjectKind;
  desired: readonly T[];
  current: readonly T[];
  recorded: readonly T[];
  key: (t: T) => string;
  same: (d: T, c: T) => boolean;
  /** present only because of something else (implicit): neither deleted nor reported */
  implicit?: (c: T) => boolean;
  /** covered by another delete (a deleted service): dropped silently */
  covered?: (c: T) => boolean;
  create: (d: T) => LbOp;
  update: (d: T, c: T) => LbOp;
  remove: (c: T, rec: T | undefined) => LbOp;
  describe: (t: T) => string;
}

function diffSection<T>(
  s: Section<T>,
  prune: boolean,
  unmanaged: Unmanaged[],
): { upserts: LbOp[]; deletes: LbOp[] } {
  const cur = byKey(s.current, s.key);
  const want = byKey(s.desired, s.key);
  const rec = byKey(s.recorded, s.key);
  const upserts: LbOp[] = [];
  const deletes: LbOp[] = [];
  for (const [k, d] of want) {
    const c = cur.get(k);
    if (!c) upserts.push(s.create(d));
    else if (!s.same(d, c)) upserts.push(s.update(d, c));
  }
  for (const [k, c] of cur) {
    if (want.has(k) || s.implicit?.(c)) continue;
    if (rec.has(k) || prune) {
      if (!s.covered?.(c)) deletes.push(s.remove(c, rec.get(k)));
    } else if (!s.covered?.(c)) {
      unmanaged.push({ object: s.object, key: k, description: s.describe(c) });
    }
  }
  return { upserts, deletes };
}

export function reconcile(
  desired: LbState,
  current: LbState,
  record: LbState,
  opts: ReconcileOptions,
): Reconciled {
  const b = opts.bins;
  const prune = opts.pruneUnmanaged === true;
  const unmanaged: Unmanaged[] = [];
  const upserts: LbOp[][] = [];
  const deletes: LbOp[][] = [];

  if (inScope(opts.scope, 'network')) {
    const laddrIps = new Set([...current.laddrs, ...desired.laddrs].map((l) => l.ip));
    for (const ip of opts.foreignIps ?? []) laddrIps.add(ip);
    const addr = diffSection<LbAddress>(
      {
        object: 'address',
        desired: desired.addresses,
        current: current.addresses,
        recorded: record.addresses,
        key: addressKey,
        same: sameAddress,
        implicit: (c) => laddrIps.has(c.ip) || isAutoLinkLocal(c),
        create: (d) => ({
          action: 'create',
          object: 'address',
          key: addressKey(d),
          summary: `add address ${describeAddress(d)}`,
          after: describeAddress(d),
          commands: [cmd.addrAdd(b, d)],
        }),
        update: (d, c) => ({
          action: 'update',
          object: 'address',
          key: addressKey(d),
          summary: `change address ${c.ip} on ${c.dev}: ${describeAddress(c)} → ${describeAddress(d)}`,
          before: describeAddress(c),
          after: describeAddress(d),
          commands: [cmd.addrDel(b, c), cmd.addrAdd(b, d)],
        }),
        remove: (c) => ({
          action: 'delete',
          object: 'address',
          key: addressKey(c),
          summary: `delete address ${describeAddress(c)}`,
          before: describeAddress(c),
          commands: [cmd.addrDel(b, c)],
        }),
        describe: describeAddress,
      },
      prune,
      unmanaged,
    );
    const route = diffSection<LbRoute>(
      {
        object: 'route',
        desired: desired.routes,
        current: current.routes,
        recorded: record.routes,
        key: routeKey,
        // a desired route that an address already made (NET/PLEN with src ADDR, dpip-route-show-v4) is
        // that route when the inventory names no src of its own
        same: (d, c) =>
          sameRoute(d, c) ||
          (d.src === undefined &&
            isImplicitRoute(c, current.addresses) &&
            sameRoute({ ...d, src: c.src }, c)),
        implicit: (c) => isImplicitRoute(c, current.addresses),
        create: (d) => ({
          action: 'create',
          object: 'route',
          key: routeKey(d),
          summary: `add route ${describeRoute(d)}`,
          after: describeRoute(d),
          commands: [cmd.routeAdd(b, d)],
        }),
        update: (d, c) => ({
          action: 'update',
          object: 'route',
          key: routeKey(d),
          summary: `change route ${d.prefix} dev ${d.dev}: ${describeRoute(c)} → ${describeRoute(d)}`,
          before: describeRoute(c),
          after: describeRoute(d),
          commands: [cmd.routeDel(b, c), cmd.routeAdd(b, d)],
        }),
        remove: (c) => ({
          action: 'delete',
          object: 'route',
          key: routeKey(c),
          summary: `delete route ${describeRoute(c)}`,
          before: describeRoute(c),
          commands: [cmd.routeDel(b, c)],
        }),
        describe: describeRoute,
      },
      prune,
      unmanaged,
    );
    upserts.push(addr.upserts, route.upserts);
    deletes.push(route.deletes, addr.deletes);
  }

  if (inScope(opts.scope, 'services')) {
    const curSvc = byKey(current.services, (s) => s.key);
    const wantSvc = byKey(desired.services, (s) => s.key);
    const recSvc = byKey(record.services, (s) => s.key);
    // a service that goes away (deleted, or unmanaged and left alone) carries its RS and LIPs with it
    const goingOrForeign = (svcKey: string): boolean => !wantSvc.has(svcKey) && curSvc.has(svcKey);
    const svcFor = (key: string): LbService =>
      wantSvc.get(key) ?? curSvc.get(key) ?? recSvc.get(key) ?? { key, proto: 'tcp', scheduler: '' };

    const svc = diffSection<LbService>(
      {
        object: 'service',
        desired: desired.services,
        current: current.services,
        recorded: record.services,
        key: (s) => s.key,
        same: sameService,
        create: (d) => ({
          action: 'create',
          object: 'service',
          key: d.key,
          summary: `add service ${describeService(d)}${d.name ? ` (${d.name})` : ''}`,
          after: describeService(d),
          commands: [cmd.serviceAdd(b, d)],
        }),
        update: (d, c) => ({
          action: 'update',
          object: 'service',
          key: d.key,
          summary: `change service ${describeService(c)} → ${describeService(d)}`,
          before: describeService(c),
          after: describeService(d),
          commands: [cmd.serviceEdit(b, d)],
        }),
        remove: (c) => ({
          action: 'delete',
          object: 'service',
          key: c.key,
          summary: `delete service ${describeService(c)} (with its real servers and local addresses)`,
          before: describeService(c),
          commands: [cmd.serviceDel(b, c)],
        }),
        describe: describeService,
      },
      prune,
      unmanaged,
    );
    const rs = diffSection<LbRealServer>(
      {
        object: 'real-server',
        desired: desired.realServers,
        current: current.realServers,
        recorded: record.realServers,
        key: realServerKey,
        same: (d, c) => d.weight === c.weight && d.forward === c.forward,
        covered: (c) => goingOrForeign(c.service),
        create: (d) => ({
          action: 'create',
          object: 'real-server',
          key: realServerKey(d),
          summary: `add real server ${describeRealServer(d)} to ${d.service}`,
          after: describeRealServer(d),
          commands: [cmd.realServerAdd(b, svcFor(d.service), d)],
        }),
        update: (d, c) => ({
          action: 'update',
          object: 'real-server',
          key: realServerKey(d),
          summary: `change real server ${realServerKey(d)}: ${describeRealServer(c)} → ${describeRealServer(d)}`,
          before: describeRealServer(c),
          after: describeRealServer(d),
          commands: [cmd.realServerEdit(b, svcFor(d.service), d)],
        }),
        remove: (c) => ({
          action: 'delete',
          object: 'real-server',
          key: realServerKey(c),
          summary: `delete real server ${describeRealServer(c)} from ${c.service}`,
          before: describeRealServer(c),
          commands: [cmd.realServerDel(b, svcFor(c.service), c)],
        }),
        describe: (r) => `${describeRealServer(r)} in ${r.service}`,
      },
      prune,
      unmanaged,
    );
    const describeLaddr = (l: LbLaddr): string => `${l.ip}${l.dev ? ` dev ${l.dev}` : ''} for ${l.service}`;
    const laddr = diffSection<LbLaddr>(
      {
        object: 'laddr',
        desired: desired.laddrs,
        current: current.laddrs,
        recorded: record.laddrs,
        key: laddrKey,
        same: (d, c) => c.dev === undefined || d.dev === c.dev,
        covered: (c) => goingOrForeign(c.service),
        create: (d) => ({
          action: 'create',
          object: 'laddr',
          key: laddrKey(d),
          summary: `add local address ${describeLaddr(d)}`,
          after: describeLaddr(d),
          commands: [cmd.laddrAdd(b, svcFor(d.service), d)],
        }),
        update: (d, c) => ({
          action: 'update',
          object: 'laddr',
          key: laddrKey(d),
          summary: `move local address ${d.ip} of ${d.service}: ${c.dev ?? '?'} → ${d.dev ?? '?'}`,
          before: describeLaddr(c),
          after: describeLaddr(d),
          commands: [cmd.laddrDel(b, svcFor(d.service), c), cmd.laddrAdd(b, svcFor(d.service), d)],
        }),
        remove: (c, rec) => {
          const withDev = { ...c, dev: c.dev ?? rec?.dev };
          return {
            action: 'delete',
            object: 'laddr',
            key: laddrKey(c),
            summary: `delete local address ${describeLaddr(withDev)}`,
            before: describeLaddr(withDev),
            commands: [cmd.laddrDel(b, svcFor(c.service), withDev)],
          };
        },
        describe: describeLaddr,
      },
      prune,
      unmanaged,
    );
    upserts.push(svc.upserts, rs.upserts, laddr.upserts);
    deletes.push(laddr.deletes, rs.deletes, svc.deletes);
  }

  // deletes: services section first (LIPs, RS, services), then routes, addresses
  const orderedDeletes =
    inScope(opts.scope, 'network') && inScope(opts.scope, 'services')
      ? [...deletes.slice(2), ...deletes.slice(0, 2)]
      : deletes;
  const ops = [...upserts.flat(), ...orderedDeletes.flat()];

  const nextRecord: LbState = {
    addresses: inScope(opts.scope, 'network') ? desired.addresses : record.addresses,
    routes: inScope(opts.scope, 'network') ? desired.routes : record.routes,
    services: inScope(opts.scope, 'services') ? desired.services : record.services,
    realServers: inScope(opts.scope, 'services') ? desired.realServers : record.realServers,
    laddrs: inScope(opts.scope, 'services') ? desired.laddrs : record.laddrs,
  };
  return { ops, unmanaged, record: nextRecord };
}

/** Objects on the host that the inventory does not want and dpvs-deploy did not create. */
export function unmanagedObjects(
  desired: LbState,
  current: LbState,
  record: LbState,
  bins: cmd.LbBins,
): Unmanaged[] {
  return reconcile(desired, current, record, { bins, scope: 'all' }).unmanaged;
}
