/**
 * Network PCI devices (class 0x02): ids, driver, NUMA node, kernel interface, MAC, and whether the
 * device carries this SSH session, the default route, or any route ("Active" in dpdk-devbind terms).
 *
 *   [{ pci: '0000:04:00.0', vendorId: '8086', deviceId: '10fb', driver: 'ixgbe', numaNode: 0,
 *      ifname: 'eth2', mac: 'aa:bb:cc:23:33:33', operstate: 'up', carriesSsh: false, ... }]
 *
 * Which NIC carries SSH: the route to the SSH client's address (SSH_CONNECTION), or, when sudo hid
 * that variable, the routes to every peer of an established sshd connection.
 *
 * Processes: `ip` twice (IPv4 and IPv6 routes) and once per SSH peer, `ss` when SSH_CONNECTION is
 * hidden, `ethtool -l` once per NIC a kernel driver holds. The sysfs attributes go through the probe's
 * shared read; the driver link is resolved with the shell's own `cd -P`.
 */
import { z } from 'zod';
import type { NicFacts } from './types.js';
import { type FactModule, first, int, rawBlock, rawBlocks } from './section.js';

const PCI = '/sys/bus/pci/devices';

export const nicSchema = z.array(
  z.object({
    pci: z.string(),
    vendorId: z.string(),
    deviceId: z.string(),
    driver: z.string().nullable(),
    driverOverride: z.string().nullable(),
    numaNode: z.number().int().describe('-1 when the platform does not say'),
    ifname: z.string().nullable(),
    mac: z.string().nullable(),
    operstate: z.string().nullable(),
    carriesSsh: z.boolean(),
    defaultRoute: z.boolean(),
    active: z.boolean(),
    maxRxQueues: z.number().int().nullable(),
    maxTxQueues: z.number().int().nullable(),
  }),
);

/** The device of an `ip -o route` line: the last " dev X" (as sed's greedy match took it). */
function devOf(line: string): string | null {
  return /.* dev ([^ ]*)/.exec(line)?.[1] ?? null;
}

/** `ethtool -l` pre-set maximums: RX/TX, or Combined where it is not 0. */
function queues(lines: string[]): { rx: number | null; tx: number | null } {
  let m = false;
  let rx: string | undefined;
  let tx: string | undefined;
  for (const line of lines) {
    if (/Pre-set maximums/.test(line)) m = true;
    if (/Current hardware/.test(line)) m = false;
    const q = m ? /^(RX|TX|Combined):\s*(\S*)/.exec(line) : null;
    if (!q) continue;
    if (q[1] === 'RX') rx = q[2];
    else if (q[1] === 'TX') tx = q[2];
    else if (q[2] !== '0') rx = tx = q[2];
  }
  return { rx: rx ? int(rx) : null, tx: tx ? int(tx) : null };
}

export const nicFacts: FactModule<NicFacts[]> = {
  name: 'nics',
  reads: () =>
    ['vendor', 'device', 'numa_node', 'driver_override']
      .map((a) => `${PCI}/*/${a}`)
      .concat(
        ['address', 'operstate'].flatMap((a) => [`${PCI}/*/net/*/${a}`, `${PCI}/*/virtio*/net/*/${a}`]),
      ),
  snippet: () => `
peers=\${SSH_CONNECTION%% *}
if [ -z "$peers" ] && command -v ss >/dev/null 2>&1; then
  s=$(ss -Htnp state established 2>/dev/null)
  while IFS= read -r l; do
    case $l in *sshd*) ;; *) continue ;; esac
    set -- $l; p=\${4%:*}; p=\${p#[}; p=\${p%]}
    case " $peers " in *" $p "*) ;; *) peers="$peers $p" ;; esac
  done <<EOF
$s
EOF
fi
for p in $peers; do ${rawBlock('sshroute', 'ip -o route get "$p"')}; done
${rawBlock('route4', 'ip -o route show')}
${rawBlock('route6', 'ip -o -6 route show')}
e=; command -v ethtool >/dev/null 2>&1 && e=1
for d in ${PCI}/*; do
  read -r c < "$d/class" || continue
  case $c in 0x02*) ;; *) continue ;; esac
  drv=; [ -e "$d/driver" ] && cd -P "$d/driver" && drv=\${PWD##*/}
  ifn=; nd=; for i in "$d"/net/* "$d"/virtio*/net/*; do [ -e "$i" ] && ifn=\${i##*/} && nd=\${i%/*} && break; done
  [ -n "$ifn" ] && [ -n "$e" ] && { ${rawBlock('ethtool ${d##*/}', 'ethtool -l "$ifn"')}; }
  printf 'nic\\t%s|%s|%s|%s\\n' "\${d##*/}" "$drv" "$ifn" "$nd"
done
cd /
`,
  parse(text, ctx) {
    const reads = ctx?.reads ?? new Map<string, string[]>();
    const { lines, blocks } = rawBlocks(text);
    const ssh = new Set<string>();
    const def = new Set<string>();
    const act = new Set<string>();
    const eth = new Map<string, string[]>();
    for (const [name, out] of blocks) {
      const devs = (keep: (l: string) => boolean): string[] =>
        out
          .filter(keep)
          .map(devOf)
          .filter((d): d is string => d !== null);
      if (name === 'sshroute') for (const d of devs(() => true)) ssh.add(d);
      else if (name === 'route4') {
        for (const d of devs((l) => l.startsWith('default'))) def.add(d);
        for (const d of devs(() => true)) act.add(d);
      } else if (name === 'route6') for (const d of devs((l) => !l.startsWith('fe80'))) act.add(d);
      else if (name.startsWith('ethtool ')) eth.set(name.slice(8), out);
    }
    const nics: NicFacts[] = [];
    for (const [k, v] of lines) {
      if (k !== 'nic') continue;
      const [pci = '', drv, ifn, nd] = v.split('|');
      const d = `${PCI}/${pci}`;
      const ifname = ifn || null;
      const ovr = first(reads, `${d}/driver_override`);
      const mac = ifname ? first(reads, `${nd}/${ifname}/address`) : '';
      const op = ifname ? first(reads, `${nd}/${ifname}/operstate`) : '';
      const q = eth.has(pci) ? queues(eth.get(pci) ?? []) : { rx: null, tx: null };
      nics.push({
        pci,
        vendorId: first(reads, `${d}/vendor`).replace(/^0x/, ''),
        deviceId: first(reads, `${d}/device`).replace(/^0x/, ''),
        driver: drv || null,
        driverOverride: ovr && ovr !== '(null)' ? ovr : null,
        numaNode: int(reads.get(`${d}/numa_node`)?.[0], -1),
        ifname,
        mac: mac ? mac.toLowerCase() : null,
        operstate: op || null,
        carriesSsh: ifname !== null && ssh.has(ifname),
        defaultRoute: ifname !== null && def.has(ifname),
        active: ifname !== null && act.has(ifname),
        maxRxQueues: q.rx,
        maxTxQueues: q.tx,
      });
    }
    return nics.sort((a, b) => a.pci.localeCompare(b.pci));
  },
  schema: nicSchema,
};
