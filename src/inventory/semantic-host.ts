/** Checks of one resolved host: NICs, device references, addresses, hugepages, versions, keepalived. */
import { lookupPairing } from '../versions.js';
import { bareIp, ipFamily, listOr, type Findings } from './findings.js';
import { originOf, type Resolution } from './merge.js';
import { keepalivedEnabled, isBalancer as balancerRole } from './roles.js';
import { checkWorkers } from './semantic-workers.js';

const TIB = 1024 ** 4;
export const MAX_HUGEPAGE_BYTES = 16 * TIB;
const PAGE_BYTES = { '2M': 2 * 1024 ** 2, '1G': 1024 ** 3 } as const;

export function checkHost(r: Resolution, f: Findings): void {
  const h = r.host;
  const isBalancer = balancerRole(h);
  const o = (...p: Array<string | number>) => originOf(r, p);

  // Roles listed twice.
  h.roles.forEach((role, i) => {
    if (h.roles.indexOf(role) !== i) f.error(['hosts', h.name, 'roles', i], `role '${role}' is listed twice`);
  });

  // NICs.
  const nics = h.nics ?? [];
  if (nics.length && !isBalancer) {
    f.error(
      o('nics'),
      `host '${h.name}' has DPDK nics but no balancer role (roles: ${h.roles.join(', ')}); ` +
        `set nics on balancers only (their host entries or a balancers group)`,
      true,
    );
  }
  const names = new Map<string, number>();
  const matches = new Map<string, number>();
  nics.forEach((n, i) => {
    const prev = names.get(n.name);
    if (prev !== undefined)
      f.error(o('nics', i, 'name'), `NIC name '${n.name}' is already used by nics[${prev}]`);
    else names.set(n.name, i);
    for (const key of ['pci', 'mac', 'ifname'] as const) {
      const v = n.match[key];
      if (v === undefined) continue;
      const id = `${key}:${v.toLowerCase()}`;
      const p = matches.get(id);
      if (p !== undefined)
        f.error(
          o('nics', i, 'match', key),
          `${key} ${v} already matches nics[${p}]; a device can be one DPDK port only`,
        );
      else matches.set(id, i);
    }
  });
  const nicList = listOr(names.keys());
  const checkDev = (dev: string | undefined, path: Array<string | number>): void => {
    if (dev !== undefined && !names.has(dev)) {
      f.error(
        o(...path),
        names.size
          ? `dev '${dev}' is not one of this host's nics (${nicList})`
          : `dev '${dev}' needs a DPDK NIC, but host '${h.name}' has no nics`,
      );
    }
  };

  // Addresses and routes.
  const seenIps = new Map<string, number>();
  (h.addresses ?? []).forEach((a, i) => {
    checkDev(a.dev, ['addresses', i, 'dev']);
    const ip = bareIp(a.address);
    const prev = seenIps.get(ip);
    if (prev !== undefined)
      f.error(o('addresses', i, 'address'), `address ${ip} is already configured by addresses[${prev}]`);
    else seenIps.set(ip, i);
  });
  (h.routes ?? []).forEach((rt, i) => {
    checkDev(rt.dev, ['routes', i, 'dev']);
    const fam = rt.prefix === 'default' ? undefined : ipFamily(rt.prefix);
    for (const key of ['via', 'src'] as const) {
      const v = rt[key];
      if (v !== undefined && fam !== undefined && ipFamily(v) !== fam) {
        f.error(
          o('routes', i, key),
          `${key} ${v} is IPv${ipFamily(v)} but the prefix ${rt.prefix} is IPv${fam}`,
        );
      }
    }
  });

  if (isBalancer) checkWorkers(r, f);

  checkHugepages(r, f);
  checkVersions(r, f);
  checkKeepalived(r, f, checkDev);

  const numa = h.expect?.numa_nodes;
  const maxSocket = h.dpvs?.max_socket ?? 2;
  if (isBalancer && numa !== undefined && numa > maxSocket) {
    f.error(
      o('expect', 'numa_nodes'),
      `${numa} NUMA nodes but DPVS is built for ${maxSocket} sockets; set dpvs.max_socket: ${numa} ` +
        `(DPVS refuses to start: "DPVS_MAX_SOCKET is smaller than system numa nodes")`,
    );
  }
}

function checkHugepages(r: Resolution, f: Findings): void {
  const hp = r.host.hugepages;
  if (!hp || hp.per_node === undefined) return;
  const size = hp.size ?? '2M';
  const nodes = r.host.expect?.numa_nodes;
  let pages: number;
  if (typeof hp.per_node === 'number') {
    pages = hp.per_node * (nodes ?? 1);
  } else {
    pages = 0;
    for (const [node, count] of Object.entries(hp.per_node)) {
      const n = Number(node);
      if (n > 63)
        f.error(
          originOf(r, ['hugepages', 'per_node', node]),
          `NUMA node ${node} does not exist (nodes are 0..63)`,
          true,
        );
      else if (nodes !== undefined && n >= nodes) {
        f.error(
          originOf(r, ['hugepages', 'per_node', node]),
          `NUMA node ${node} does not exist: expect.numa_nodes is ${nodes} (nodes 0..${nodes - 1})`,
          true,
        );
      }
      pages += count;
    }
  }
  const bytes = pages * PAGE_BYTES[size];
  if (bytes > MAX_HUGEPAGE_BYTES) {
    f.error(
      originOf(r, ['hugepages', 'per_node']),
      `${pages} pages of ${size} are ${(bytes / TIB).toFixed(1)} TiB of hugepages; at most 16 TiB per host is plausible ` +
        `(per_node counts pages, not bytes: 8192 × 2M = 16 GiB)`,
    );
  }
}

function checkVersions(r: Resolution, f: Findings): void {
  const h = r.host;
  if (!balancerRole(h) && h.dpvs?.version === undefined && h.dpdk?.version === undefined) return;
  if (h.dpvs?.version === undefined && h.dpdk?.version === undefined) return;
  const res = lookupPairing(h.dpvs?.version, h.dpdk?.version);
  if (!res.ok) {
    const path = res.field === 'dpdk' ? ['dpdk', 'version'] : ['dpvs', 'version'];
    f.error(originOf(r, path), res.message);
  }
}

function checkKeepalived(
  r: Resolution,
  f: Findings,
  checkDev: (dev: string | undefined, path: Array<string | number>) => void,
): void {
  const h = r.host;
  const k = h.keepalived;
  if (!k) return;
  if (!keepalivedEnabled(r.host)) {
    if (k.kni_address !== undefined) {
      f.warn(
        originOf(r, ['keepalived', 'kni_address']),
        'kni_address is ignored: keepalived is not enabled on this host',
      );
    }
    return;
  }
  if (!balancerRole(h)) {
    f.error(
      originOf(r, ['keepalived']),
      `keepalived runs on balancers; host '${h.name}' has no balancer role`,
      true,
    );
    return;
  }
  const required: Array<[keyof typeof k, string]> = [
    ['virtual_router_id', 'the VRRP router id shared by the pair, 1-255'],
    ['state', 'MASTER or BACKUP'],
    ['priority', 'distinct within the pair, e.g. 100 on the master, 90 on the backup'],
    ['interface', 'the DPDK port carrying VRRP, e.g. dpdk0'],
    ['kni_address', 'the address VRRP uses on <interface>.kni, e.g. 192.168.100.2/24'],
  ];
  for (const [key, hint] of required) {
    if (k[key] === undefined)
      f.error(originOf(r, ['keepalived']), `keepalived is enabled but has no ${key} (${hint})`, true);
  }
  checkDev(k.interface, ['keepalived', 'interface']);
  if (h.dpvs?.kni === false) {
    f.error(
      originOf(r, ['dpvs', 'kni']),
      'keepalived needs the KNI exception path (VRRP runs on <port>.kni); remove dpvs.kni: false or disable keepalived',
    );
  }
}
