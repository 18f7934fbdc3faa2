/**
 * keepalived.conf for the DPVS fork of keepalived (bin/keepalived): VRRP on the KNI netdev of a DPDK
 * port (`interface <port>.kni`), one vrrp_instance per port that carries VIPs (`dpdk_interface <port>`,
 * see vrrpInstances), and — when keepalived owns the services — virtual_server blocks (lb_kind FNAT|DR|
 * TUN|NAT, SNAT as `virtual_server match`), FullNAT local addresses as a per-balancer
 * local_address_group (each member of an HA pair has its own LIPs), real servers with weight and an
 * optional TCP_CHECK/HTTP_GET.
 *
 * The password is rendered into the file; `redactKeepalived` replaces it for anything shown to people.
 */
import type { ServiceEntry } from '../inventory/schema.js';
import type { ResolvedHost } from '../inventory/types.js';
import { canonicalIp, familyOf, maxPrefixLen } from '../inventory/ip.js';
import { DEFAULT_SCHEDULER } from './desired.js';
import { keepalivedToken } from '../escape.js';

export const KEEPALIVED_CONF_PATH = '/etc/keepalived/keepalived.conf';
export const REDACTED = '******';

export interface KeepalivedInput {
  host: ResolvedHost;
  /** services this host balances */
  services: readonly ServiceEntry[];
  /** resolved auth_pass, when set */
  authPass?: string;
}

const lbKind: Record<ServiceEntry['mode'], string> = {
  fullnat: 'FNAT',
  dr: 'DR',
  tun: 'TUN',
  nat: 'NAT',
  snat: 'SNAT',
};

export function keepalivedSettings(host: ResolvedHost) {
  const k = host.keepalived ?? {};
  const state = k.state ?? 'BACKUP';
  const iface = k.interface ?? host.nics?.[0]?.name ?? 'dpdk0';
  const kniName = host.nics?.find((n) => n.name === iface)?.kni_name ?? `${iface}.kni`;
  return {
    routerId: k.router_id ?? host.name,
    instance: k.vrrp_instance ?? 'VI_1',
    state,
    priority: k.priority ?? (state === 'MASTER' ? 100 : 90),
    virtualRouterId: k.virtual_router_id ?? 51,
    advertInt: k.advert_int ?? 1,
    iface,
    kniName,
    ownsServices: k.owns_services === true,
  };
}

export const laddrGroupName = (s: ServiceEntry): string => `laddr_g_${s.name.replace(/[^A-Za-z0-9_]/g, '_')}`;

function check(s: ServiceEntry, port: number, ind: string): string[] {
  const hc = s.health_check;
  if (!hc) return [];
  if (hc.type === 'tcp')
    return [`${ind}TCP_CHECK {`, `${ind}    connect_timeout 3`, `${ind}    connect_port ${port}`, `${ind}}`];
  return [
    `${ind}HTTP_GET {`,
    `${ind}    url {`,
    `${ind}        path ${keepalivedToken(hc.path ?? '/', 'health_check.path')}`,
    `${ind}        status_code 200`,
    `${ind}    }`,
    `${ind}    connect_timeout 3`,
    `${ind}    connect_port ${port}`,
    `${ind}}`,
  ];
}

function virtualServer(host: ResolvedHost, s: ServiceEntry): string[] {
  const out: string[] = [];
  const proto = (s.match?.proto ?? s.protocol ?? 'tcp').toUpperCase();
  if (s.mode === 'snat') {
    out.push(`virtual_server match ${s.name} {`);
    if (s.match?.src_range) out.push(`    src-range ${s.match.src_range}`);
    if (s.match?.dst_range) out.push(`    dst-range ${s.match.dst_range}`);
    if (s.match?.iif) out.push(`    iif ${s.match.iif}`);
    if (s.match?.oif) out.push(`    oif ${s.match.oif}`);
  } else {
    out.push(`virtual_server ${canonicalIp(s.vip)} ${s.port} {`);
  }
  out.push(`    delay_loop ${Math.max(1, Math.round(s.health_check?.interval_s ?? 3))}`);
  out.push(`    lb_algo ${s.scheduler ?? DEFAULT_SCHEDULER}`);
  out.push(`    lb_kind ${lbKind[s.mode]}`);
  out.push(`    protocol ${proto}`);
  if (s.persistence_s !== undefined) out.push(`    persistence_timeout ${s.persistence_s}`);
  if (s.mode === 'fullnat' && (s.local_addresses?.[host.name]?.length ?? 0) > 0)
    out.push(`    laddr_group_name ${laddrGroupName(s)}`);
  const rsList = s.real_servers ?? (s.mode === 'snat' ? [{ address: s.vip, port: 0 }] : []);
  for (const rs of rsList) {
    const port = rs.port ?? (s.mode === 'snat' ? 0 : s.port);
    out.push('', `    real_server ${canonicalIp(rs.address)} ${port} {`, `        weight ${rs.weight ?? 1}`);
    if (s.health_check) out.push('        inhibit_on_failure', ...check(s, port, '        '));
    out.push('    }');
  }
  out.push('}');
  return out;
}

export function renderKeepalivedConf(input: KeepalivedInput): string {
  const { host, services } = input;
  const k = keepalivedSettings(host);
  const lines: string[] = [
    '! Managed by dpvs-deploy: changes here are overwritten by the next apply.',
    '! keepalived (DPVS fork) for ' + host.name,
    '',
    'global_defs {',
    `    router_id ${k.routerId}`,
    '}',
    '',
  ];
  if (k.ownsServices) {
    for (const s of services) {
      const lips = s.mode === 'fullnat' ? (s.local_addresses?.[host.name] ?? []) : [];
      if (lips.length === 0) continue;
      lines.push(`local_address_group ${laddrGroupName(s)} {`);
      for (const l of lips) lines.push(`    ${canonicalIp(l.address)} ${l.dev}`);
      lines.push('}', '');
    }
  }
  lines.push(...vrrpInstances(k, services, input.authPass));
  if (k.ownsServices) for (const s of services) lines.push(...virtualServer(host, s), '');
  return lines.join('\n');
}

interface VipGroup {
  dev: string;
  vips: string[];
}

/** The VIPs of the host's services by the DPDK port they go on (vip_dev, else keepalived.interface). */
function vipGroups(iface: string, services: readonly ServiceEntry[]): VipGroup[] {
  const groups: VipGroup[] = [{ dev: iface, vips: [] }];
  const seen = new Set<string>();
  for (const s of services) {
    if (s.mode === 'snat') continue;
    const ip = canonicalIp(s.vip);
    if (seen.has(ip)) continue;
    seen.add(ip);
    const dev = s.vip_dev ?? iface;
    let g = groups.find((x) => x.dev === dev);
    if (!g) groups.push((g = { dev, vips: [] }));
    g.vips.push(ip);
  }
  const used = groups.filter((g) => g.vips.length > 0);
  return used.length > 0 ? used : groups;
}

/**
 * One vrrp_instance per DPDK port that carries VIPs. The DPVS fork pushes an instance's VIPs to dpvs on
 * its `dpdk_interface` only, and drops a VIP whose `dev` is no kernel netdev
 * (test/fixtures/upstream/keepalived.yaml: keepalived-vips-go-to-dpdk-interface,
 * keepalived-vip-dev-not-a-netdev), so VIPs carry no `dev` and the instance's dpdk_interface is their
 * port. VRRP itself runs on keepalived.interface's KNI netdev for every instance. A VIP of the other
 * family than the instance's first goes to virtual_ipaddress_excluded, which takes either family
 * (keepalived-vip-family). Instances beyond the first are named <instance>_<port>, take the next
 * virtual_router_ids and share a vrrp_sync_group, so they fail over together.
 */
function vrrpInstances(
  k: ReturnType<typeof keepalivedSettings>,
  services: readonly ServiceEntry[],
  authPass: string | undefined,
): string[] {
  const groups = vipGroups(k.iface, services);
  const name = (i: number, g: VipGroup): string => (i === 0 ? k.instance : `${k.instance}_${g.dev}`);
  const lines: string[] = [];
  if (groups.length > 1) {
    lines.push(`vrrp_sync_group ${k.instance}_group {`, '    group {');
    groups.forEach((g, i) => lines.push(`        ${name(i, g)}`));
    lines.push('    }', '}', '');
  }
  groups.forEach((g, i) => {
    lines.push(
      `vrrp_instance ${name(i, g)} {`,
      `    state ${k.state}`,
      `    interface ${k.kniName}`,
      `    dpdk_interface ${g.dev}`,
      `    virtual_router_id ${k.virtualRouterId + i}`,
      `    priority ${k.priority}`,
      `    advert_int ${k.advertInt}`,
    );
    if (authPass !== undefined)
      lines.push(
        '    authentication {',
        '        auth_type PASS',
        `        auth_pass ${keepalivedToken(authPass, 'keepalived.auth_pass')}`,
        '    }',
      );
    const family = g.vips[0] === undefined ? undefined : familyOf(g.vips[0]);
    const block = (title: string, ips: string[]): void => {
      if (ips.length === 0) return;
      lines.push(
        `    ${title} {`,
        ...ips.map((ip) => `        ${ip}/${maxPrefixLen(familyOf(ip))}`),
        '    }',
      );
    };
    block(
      'virtual_ipaddress',
      g.vips.filter((ip) => familyOf(ip) === family),
    );
    block(
      'virtual_ipaddress_excluded',
      g.vips.filter((ip) => familyOf(ip) !== family),
    );
    lines.push('}', '');
  });
  return lines;
}

/** The file with every auth_pass value replaced by ******, for diffs, plans and logs. */
export function redactKeepalived(text: string): string {
  return text.replace(/^(\s*auth_pass\s+)\S.*$/gm, `$1${REDACTED}`);
}

/** LIPs that another balancer of the same service also uses (an HA pair needs distinct LIPs). */
export function sharedLocalAddresses(services: readonly ServiceEntry[]): string[] {
  const problems: string[] = [];
  for (const s of services) {
    const owner = new Map<string, string>();
    for (const [bal, lips] of Object.entries(s.local_addresses ?? {}))
      for (const l of lips) {
        const ip = canonicalIp(l.address);
        const first = owner.get(ip);
        if (first && first !== bal)
          problems.push(`service ${s.name}: local address ${ip} is used by both ${first} and ${bal}`);
        else owner.set(ip, bal);
      }
  }
  return problems;
}
