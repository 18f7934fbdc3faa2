/** Checks across hosts: group membership, SSH addresses, services, keepalived pairs, secrets. */
import { didYouMean } from './issues.js';
import { canonicalPrefix } from './ip.js';
import { canon } from './addr.js';
import { ipFamily, listOr, type Findings } from './findings.js';
import { originOf, type Resolution } from './merge.js';
import type { HostSettings, Inventory, ServiceEntry } from './schema.js';
import { isBalancer, keepalivedEnabled } from './roles.js';

export function checkGroups(inv: Inventory, f: Findings): void {
  const hostNames = Object.keys(inv.hosts);
  const groups = inv.groups ?? {};
  for (const [g, group] of Object.entries(groups)) {
    const seen = new Set<string>();
    group.hosts.forEach((h, i) => {
      if (Object.hasOwn(inv.hosts, h)) {
        if (seen.has(h)) f.error(['groups', g, 'hosts', i], `host '${h}' is listed twice in group '${g}'`);
        seen.add(h);
      } else if (Object.hasOwn(groups, h)) {
        const members = groups[h]?.hosts ?? [];
        f.error(
          ['groups', g, 'hosts', i],
          `group '${g}' lists '${h}', which is a group, not a host; groups cannot contain groups: list its hosts ` +
            `instead (${members.length > 8 ? `${members.slice(0, 8).join(', ')}, …` : listOr(members)})`,
          false,
          ['groups', h],
        );
      } else {
        const guess = didYouMean(h, hostNames);
        f.error(
          ['groups', g, 'hosts', i],
          `group '${g}' lists unknown host '${h}' (hosts are: ${namesForMessage(hostNames)})${guess ? `; did you mean '${guess}'?` : ''}`,
        );
      }
    });
  }
}

/** At most 20 names for a message (a 20,000-host inventory must not print them all). */
export function namesForMessage(names: readonly string[]): string {
  return names.length > 20 ? `${names.slice(0, 20).join(', ')}, … (${names.length} in all)` : listOr(names);
}

export function checkSshAddresses(res: Resolution[], f: Findings): void {
  const seen = new Map<string, string>();
  for (const r of res) {
    const key = `${r.host.address.toLowerCase()}:${r.host.ssh?.port ?? 22}`;
    const prev = seen.get(key);
    if (prev) {
      f.error(
        ['hosts', r.host.name, 'address'],
        `address ${r.host.address} (SSH port ${r.host.ssh?.port ?? 22}) is already used by host '${prev}'`,
      );
    } else seen.set(key, r.host.name);
  }
}

export function checkServices(inv: Inventory, res: Resolution[], f: Findings): void {
  const byName = new Map(res.map((r) => [r.host.name, r]));
  const hostNames = [...byName.keys()];
  const nicsCache = new Map<Resolution, Set<string>>();
  const names = new Map<string, number>();
  const endpoints = new Map<string, number>();
  const lipOwner = new Map<string, string>();
  (inv.services ?? []).forEach((s, i) => {
    const at = (...p: Array<string | number>) => ['services', i, ...p];
    const prevName = names.get(s.name);
    if (prevName !== undefined)
      f.error(at('name'), `service name '${s.name}' is already used by services[${prevName}]`);
    else names.set(s.name, i);

    const proto = s.protocol ?? 'tcp';
    const ep = `${canon(s.vip)}|${s.port}|${proto}|${s.mode === 'snat' ? JSON.stringify(s.match ?? {}) : ''}`;
    const prevEp = endpoints.get(ep);
    if (prevEp !== undefined) {
      const other = inv.services?.[prevEp];
      const spelled =
        other && other.vip !== s.vip
          ? ` (written ${other.vip} there: the same address in another spelling, so both would become one service)`
          : '';
      f.error(
        at('vip'),
        `${s.vip.includes(':') ? `[${s.vip}]` : s.vip}:${s.port}/${proto} is already served by services[${prevEp}] ('${other?.name}')${spelled}; ` +
          `each VIP:port/protocol is one service: merge them or change the port`,
        false,
        ['services', prevEp, 'vip'],
      );
    } else endpoints.set(ep, i);

    if (s.mode !== 'snat' && s.port === 0)
      f.error(at('port'), `port 0 is only for snat services; expected a port from 1 to 65535`);
    if (s.mode === 'snat' && !s.match)
      f.error(
        at('mode'),
        `snat services need match (e.g. match: {src_range: 192.168.100.0-192.168.100.254, oif: dpdk1})`,
      );
    if (s.mode !== 'snat' && s.match)
      f.error(at('match'), `match is only for snat services (mode is ${s.mode})`, true);

    // Balancers.
    const balancers: Resolution[] = [];
    s.balancers.forEach((b, k) => {
      const r = byName.get(b);
      if (!r) {
        const guess = didYouMean(b, hostNames);
        f.error(
          at('balancers', k),
          `unknown host '${b}' (hosts are: ${namesForMessage(hostNames)})${guess ? `; did you mean '${guess}'?` : ''}`,
        );
      } else if (!isBalancer(r.host)) {
        f.error(at('balancers', k), `host '${b}' has no balancer role (roles: ${r.host.roles.join(', ')})`);
      } else if (s.balancers.indexOf(b) !== k) {
        f.error(at('balancers', k), `balancer '${b}' is listed twice`);
      } else balancers.push(r);
    });
    const nicsOf = (r: Resolution): Set<string> => {
      let set = nicsCache.get(r);
      if (!set) nicsCache.set(r, (set = new Set((r.host.nics ?? []).map((n) => n.name))));
      return set;
    };
    const checkDevOn = (dev: string | undefined, path: Array<string | number>) => {
      if (dev === undefined) return;
      for (const r of balancers) {
        const nics = nicsOf(r);
        if (!nics.has(dev))
          f.error(at(...path), `'${dev}' is not one of balancer '${r.host.name}''s nics (${listOr(nics)})`);
      }
    };
    checkDevOn(s.vip_dev, ['vip_dev']);
    checkDevOn(s.match?.iif, ['match', 'iif']);
    checkDevOn(s.match?.oif, ['match', 'oif']);

    // Local addresses (FullNAT LIPs).
    const lips = s.local_addresses ?? {};
    for (const [b, list] of Object.entries(lips)) {
      if (!s.balancers.includes(b)) {
        f.error(
          at('local_addresses', b),
          `'${b}' is not one of this service's balancers (${listOr(s.balancers)})`,
          true,
        );
        continue;
      }
      const r = byName.get(b);
      list.forEach((l, k) => {
        if (r && isBalancer(r.host)) {
          const nics = nicsOf(r);
          if (!nics.has(l.dev))
            f.error(
              at('local_addresses', b, k, 'dev'),
              `'${l.dev}' is not one of balancer '${b}''s nics (${listOr(nics)})`,
            );
        }
        const ip = canon(l.address);
        const owner = lipOwner.get(ip);
        if (owner !== undefined && owner !== b) {
          f.error(
            at('local_addresses', b, k, 'address'),
            `local address ${ip} is already used by balancer '${owner}'; each balancer needs its own local addresses`,
          );
        } else lipOwner.set(ip, b);
        if (list.findIndex((x) => canon(x.address) === ip) !== k) {
          f.error(at('local_addresses', b, k, 'address'), `local address ${ip} is listed twice`);
        }
        const rsFamilies = new Set((s.real_servers ?? []).map((rs) => ipFamily(rs.address)));
        if (s.mode === 'fullnat' && rsFamilies.size === 1 && !rsFamilies.has(ipFamily(ip))) {
          f.error(
            at('local_addresses', b, k, 'address'),
            `local address ${ip} is IPv${ipFamily(ip)} but the real servers are IPv${[...rsFamilies][0]}; FullNAT connects to real servers from the local addresses`,
          );
        }
      });
    }
    if (s.mode === 'fullnat') {
      for (const b of balancers) {
        if (!lips[b.host.name]?.length) {
          f.error(
            s.local_addresses ? at('local_addresses') : at('mode'),
            `fullnat service '${s.name}' needs local_addresses for balancer '${b.host.name}' (e.g. local_addresses: {${b.host.name}: [{address: 192.168.100.200, dev: dpdk0}]})`,
            true,
          );
        }
      }
    }

    // Real servers.
    const rsSeen = new Map<string, number>();
    (s.real_servers ?? []).forEach((rs, k) => {
      const key = `${canon(rs.address)}:${rs.port ?? s.port}`;
      const prev = rsSeen.get(key);
      if (prev !== undefined)
        f.error(
          at('real_servers', k, 'address'),
          `real server ${rs.address}:${rs.port ?? s.port} is already listed at real_servers[${prev}]`,
        );
      else rsSeen.set(key, k);
    });
  });
}

export function checkKeepalivedPairs(
  res: Resolution[],
  f: Findings,
  services: readonly ServiceEntry[] = [],
): void {
  // A virtual_router_id is unique per L2 segment: hosts are grouped by the id and the subnet of their
  // kni_address (VRRP's segment), so pairs on different segments may reuse ids.
  const byVrid = new Map<string, { vrid: number; segment: string; members: Resolution[] }>();
  const usedOn = new Map<string, Set<number>>();
  const kniSeen = new Map<string, string>();
  for (const r of res) {
    if (!keepalivedEnabled(r.host) || !isBalancer(r.host)) continue;
    const k = r.host.keepalived;
    if (k?.virtual_router_id !== undefined) {
      const segment = k.kni_address ? canonicalPrefix(k.kni_address) : '';
      const key = `${k.virtual_router_id}|${segment}`;
      const entry = byVrid.get(key) ?? { vrid: k.virtual_router_id, segment, members: [] };
      entry.members.push(r);
      byVrid.set(key, entry);
      const used = usedOn.get(segment) ?? new Set<number>();
      used.add(k.virtual_router_id);
      usedOn.set(segment, used);
    }
    if (k?.kni_address) {
      const ip = canon(k.kni_address);
      const prev = kniSeen.get(ip);
      if (prev)
        f.error(
          originOf(r, ['keepalived', 'kni_address']),
          `kni_address ${ip} is already used by host '${prev}'; each node needs its own`,
        );
      else kniSeen.set(ip, r.host.name);
    }
  }
  const pairs = pairsOf(services);
  const freeVrid = (from: number, segment: string): number => {
    const used = usedOn.get(segment) ?? new Set<number>();
    for (let k = 1; k < 255; k++) {
      const v = ((from - 1 + k) % 255) + 1;
      if (!used.has(v)) return v;
    }
    return from;
  };
  for (const { vrid, segment, members: all } of byVrid.values()) {
    // Hosts sharing a virtual_router_id but no service are separate pairs that collide, not one group.
    const groups = new Map<string, Resolution[]>();
    for (const r of all) {
      const key = pairs.has(r.host.name)
        ? pairs.find(r.host.name)
        : `\u0000${r.host.keepalived?.vrrp_instance ?? 'VI_1'}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const [firstGroup, ...others] = [...groups.values()];
    for (const g of others) {
      const r = g[0] as Resolution;
      const names = (firstGroup ?? []).map((m) => m.host.name).join(', ');
      f.error(
        originOf(r, ['keepalived', 'virtual_router_id']),
        `virtual_router_id ${vrid} is already used by ${names}, which balance${(firstGroup?.length ?? 0) > 1 ? '' : 's'} ` +
          `no service with ${g.map((m) => m.host.name).join(', ')}: these are two VRRP pairs, and pairs on one segment ` +
          `take each other's adverts for their own; give this pair its own virtual_router_id (e.g. ${freeVrid(vrid, segment)}) ` +
          `rather than merging them`,
        false,
        originOf(firstGroup?.[0] as Resolution, ['keepalived', 'virtual_router_id']),
      );
    }
    for (const members of groups.values()) checkPair(vrid, members, f);
  }
}

function checkPair(vrid: number, members: Resolution[], f: Findings): void {
  const prios = new Map<number, Resolution>();
  const masters: Resolution[] = [];
  for (const r of members) {
    const k = r.host.keepalived;
    if (k?.priority !== undefined) {
      const prev = prios.get(k.priority);
      if (prev) {
        f.error(
          originOf(r, ['keepalived', 'priority']),
          `priority ${k.priority} is also host '${prev.host.name}''s priority for virtual_router_id ${vrid}; nodes of a VRRP pair need different priorities`,
          false,
          originOf(prev, ['keepalived', 'priority']),
        );
      } else prios.set(k.priority, r);
    }
    if (k?.state === 'MASTER') masters.push(r);
  }
  const m0 = masters[0];
  masters
    .slice(1)
    .forEach((r) =>
      f.error(
        originOf(r, ['keepalived', 'state']),
        `host '${m0?.host.name}' is already MASTER for virtual_router_id ${vrid}; one node is MASTER, the others BACKUP`,
        false,
        m0 ? originOf(m0, ['keepalived', 'state']) : undefined,
      ),
    );
  const first = members[0];
  if (masters.length === 0 && first && members.every((m) => m.host.keepalived?.state !== undefined)) {
    f.error(
      originOf(first, ['keepalived', 'state']),
      `no MASTER among the hosts with virtual_router_id ${vrid} (${members.map((m) => m.host.name).join(', ')}); make one of them MASTER`,
    );
  }
}

/** Union-find over hosts that balance a service together. */
function pairsOf(services: readonly ServiceEntry[]): { find(h: string): string; has(h: string): boolean } {
  const parent = new Map<string, string>();
  for (const s of services) for (const b of s.balancers) if (!parent.has(b)) parent.set(b, b);
  const find = (h: string): string => {
    let root = h;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root) as string;
    let cur = h;
    while (cur !== root) {
      const next = parent.get(cur) as string;
      parent.set(cur, root);
      cur = next;
    }
    return root;
  };
  for (const s of services) {
    const [a, ...rest] = s.balancers;
    if (a === undefined) continue;
    for (const b of rest) {
      const ra = find(a);
      const rb = find(b);
      if (ra !== rb) parent.set(rb, ra);
    }
  }
  return { find, has: (h) => parent.has(h) };
}

/** Literal secrets in the document (not resolved hosts: one warning per place written). */
export function checkLiteralSecrets(inv: Inventory, f: Findings): void {
  const layers: Array<[Array<string | number>, HostSettings | undefined]> = [
    [['defaults'], inv.defaults],
    ...Object.entries(inv.groups ?? {}).map(([g, v]): [Array<string | number>, HostSettings | undefined] => [
      ['groups', g, 'vars'],
      v.vars,
    ]),
    ...Object.entries(inv.hosts).map(([h, v]): [Array<string | number>, HostSettings | undefined] => [
      ['hosts', h],
      v,
    ]),
  ];
  for (const [path, s] of layers) {
    if (typeof s?.ssh?.sudo_password === 'string') {
      f.warn(
        [...path, 'ssh', 'sudo_password'],
        'secret written literally in the inventory; prefer {env: NAME} or {file: PATH}',
      );
    }
    if (typeof s?.keepalived?.auth_pass === 'string') {
      f.warn(
        [...path, 'keepalived', 'auth_pass'],
        'secret written literally in the inventory; prefer {env: NAME} or {file: PATH}',
      );
    }
  }
}
