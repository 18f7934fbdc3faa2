/**
 * The lab network: a bridge in its own namespace (dd-lab), one namespace per host joined to it by a
 * veth whose host end is eth0, and one uplink veth (dd-up0, 10.241.0.254/16) into the root namespace
 * so the control side runs unwrapped. An nftables table in the root namespace drops connections that
 * hosts open towards the root namespace (replies to the root's own connections pass).
 *
 * The balancers' data NICs are cabled too: each gets a "wire", a veth whose host end (dw<bdf digits>,
 * down, no address) waits in the host's namespace and whose other end sits on one switch per PCI
 * address in dd-lab (lb1's and lb2's 0000:00:10.0 share a segment, like two balancers' LAN ports on
 * one switch). The DPVS simulator turns a port's wire into its `<port>.kni` netdev while dpvs runs,
 * so what goes out of lb1's dpdk0.kni (VRRP adverts) arrives on lb2's dpdk0.kni.
 */
import { readdir, readlink, stat } from 'node:fs/promises';
import { execa } from 'execa';
import { NAME_PREFIX } from './instance.js';
import { LAB_BRIDGE_ADDRESS, LAB_PREFIX_LEN, LAB_UPLINK_ADDRESS } from './profiles.js';

/** dd- for the default lab, dd<name>- for another instance (test/lab/instance.ts). */
export const NS_PREFIX = NAME_PREFIX;
export const LAB_NS = `${NAME_PREFIX}lab`;
export const UPLINK = `${NAME_PREFIX}up0`;
export const NFT_TABLE = `${NAME_PREFIX}lab`;

export function hostNetns(host: string): string {
  return NS_PREFIX + 'h-' + host;
}

export interface NetHost {
  name: string;
  mac: string;
  /** PCI addresses of the host's cabled data NICs */
  wires?: string[];
}

/** The host-side name of a data NIC's wire: "dw" and the BDF's digits (0000:00:10.0 -> dw000000100). */
export function wireName(bdf: string): string {
  return 'dw' + bdf.toLowerCase().replace(/[^0-9a-f]/g, '');
}

async function ipBatch(lines: string[], netns?: string): Promise<void> {
  const args = netns ? ['-n', netns, '-batch', '-'] : ['-batch', '-'];
  await execa('ip', args, { input: lines.join('\n') + '\n' });
}

export async function createNetwork(hosts: NetHost[]): Promise<void> {
  await ipBatch([
    `netns add ${LAB_NS}`,
    ...hosts.map((h) => `netns add ${hostNetns(h.name)}`),
    `link add ${UPLINK} type veth peer name up0 netns ${LAB_NS}`,
    `addr add ${LAB_UPLINK_ADDRESS}/${LAB_PREFIX_LEN} dev ${UPLINK}`,
    `link set ${UPLINK} up`,
  ]);
  await ipBatch(
    [
      'link set lo up',
      'link add br0 type bridge stp_state 0 forward_delay 0',
      `addr add ${LAB_BRIDGE_ADDRESS}/${LAB_PREFIX_LEN} dev br0`,
      'link set br0 up',
      'link set up0 master br0',
      'link set up0 up',
      ...hosts.flatMap((h, i) => [
        `link add v${i} type veth peer name eth0 address ${h.mac} netns ${hostNetns(h.name)}`,
        `link set v${i} master br0`,
        `link set v${i} up`,
      ]),
      ...wireLines(hosts),
    ],
    LAB_NS,
  );
}

/** One switch (bridge "s<bdf digits>") per cabled PCI address, and each host's wire on it. */
function wireLines(hosts: NetHost[]): string[] {
  const segments = [...new Set(hosts.flatMap((h) => h.wires ?? []))];
  const seg = (bdf: string): string => 's' + wireName(bdf).slice(2);
  return [
    ...segments.flatMap((b) => [
      `link add ${seg(b)} type bridge stp_state 0 forward_delay 0 mcast_snooping 0`,
      `link set ${seg(b)} up`,
    ]),
    ...hosts.flatMap((h, i) =>
      (h.wires ?? []).flatMap((b, j) => [
        `link add w${i}x${j} type veth peer name ${wireName(b)} netns ${hostNetns(h.name)}`,
        `link set w${i}x${j} master ${seg(b)}`,
        `link set w${i}x${j} up`,
      ]),
    ),
  ];
}

/** Drop NEW connections from the lab towards the root namespace; returns false when nft is missing. */
export async function addUplinkFirewall(): Promise<boolean> {
  const rules = `table inet ${NFT_TABLE} {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "${UPLINK}" ct state established,related accept
    iifname "${UPLINK}" drop
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "${UPLINK}" drop
  }
}
`;
  const r = await execa('nft', ['-f', '-'], { input: rules, reject: false });
  return r.exitCode === 0;
}

export async function labNamespaces(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NS_PREFIX));
}

/**
 * Processes in each of the named namespaces (what `ip netns pids` does, for all of them in one walk
 * of /proc instead of one spawn per namespace).
 */
export async function netnsPids(nss: string[]): Promise<Map<string, number[]>> {
  const byIno = new Map<number, string>();
  const out = new Map<string, number[]>();
  for (const ns of nss) {
    out.set(ns, []);
    const st = await stat(`/run/netns/${ns}`).catch(() => null);
    if (st) byIno.set(st.ino, ns);
  }
  if (!byIno.size) return out;
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d));
  await Promise.all(
    pids.map(async (pid) => {
      const link = await readlink(`/proc/${pid}/ns/net`).catch(() => '');
      const ino = Number(/^net:\[(\d+)\]$/.exec(link)?.[1] ?? NaN);
      const ns = byIno.get(ino);
      if (ns !== undefined) out.get(ns)?.push(Number(pid));
    }),
  );
  return out;
}

/** Deletes every dd-* namespace, the uplink and the firewall table. Processes must be gone first. */
export async function destroyNetwork(): Promise<void> {
  const nss = await labNamespaces();
  if (nss.length) await ipBatch(nss.map((n) => `netns del ${n}`)).catch(() => undefined);
  await execa('ip', ['link', 'del', UPLINK], { reject: false });
  await execa('nft', ['delete', 'table', 'inet', NFT_TABLE], { reject: false });
}
