/**
 * Network PCI devices (class 0x02): ids, driver, NUMA node, kernel interface, MAC, and whether the
 * device carries this SSH session, the default route, or any route ("Active" in dpdk-devbind terms).
 *
 *   [{ pci: '0000:04:00.0', vendorId: '8086', deviceId: '10fb', driver: 'ixgbe', numaNode: 0,
 *      ifname: 'eth2', mac: 'aa:bb:cc:23:33:33', operstate: 'up', carriesSsh: false, ... }]
 *
 * Which NIC carries SSH: the route to the SSH client's address (SSH_CONNECTION), or, when sudo hid
 * that variable, the routes to every peer of an established sshd connection.
 */
import type { NicFacts } from './types.js';
import { type FactModule, int, kvLines } from './section.js';

export const nicFacts: FactModule<NicFacts[]> = {
  name: 'nics',
  snippet: () => `
peers=\${SSH_CONNECTION%% *}
if [ -z "$peers" ] && command -v ss >/dev/null 2>&1; then
  peers=$(ss -Htnp state established 2>/dev/null | awk '/sshd/ { p=$4; sub(/:[0-9]+$/, "", p); gsub(/[][]/, "", p); print p }' | sort -u)
fi
for p in $peers; do ip -o route get "$p" 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/sshdev\\t\\1/p'; done
ip -o route show default 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/defdev\\t\\1/p'
{ ip -o route show 2>/dev/null; ip -o -6 route show 2>/dev/null | grep -v '^fe80'; } | sed -n 's/.* dev \\([^ ]*\\).*/actdev\\t\\1/p' | sort -u
for d in /sys/bus/pci/devices/*; do
  [ -r "$d/class" ] || continue
  case $(cat "$d/class") in 0x02*) ;; *) continue ;; esac
  drv=; [ -e "$d/driver" ] && drv=$(readlink "$d/driver") && drv=\${drv##*/}
  ifn=; nd=; for i in "$d"/net/* "$d"/virtio*/net/*; do [ -e "$i" ] && ifn=\${i##*/} && nd=\${i%/*} && break; done
  mac=; op=; rxq=; txq=
  if [ -n "$ifn" ]; then
    mac=$(cat "$nd/$ifn/address" 2>/dev/null); op=$(cat "$nd/$ifn/operstate" 2>/dev/null)
    if command -v ethtool >/dev/null 2>&1; then
      set -- $(ethtool -l "$ifn" 2>/dev/null | awk '/Pre-set maximums/{m=1} /Current hardware/{m=0} m && /^(RX|TX|Combined):/{print $1 $2}')
      for q in "$@"; do case $q in RX:*) rxq=\${q#RX:};; TX:*) txq=\${q#TX:};; Combined:*) [ "\${q#Combined:}" != 0 ] && rxq=\${q#Combined:} && txq=\${q#Combined:};; esac; done
    fi
  fi
  ovr=$(cat "$d/driver_override" 2>/dev/null)
  printf 'nic\\t%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\\n' "\${d##*/}" "$(cat $d/vendor)" "$(cat $d/device)" "$drv" "$ovr" "$(cat $d/numa_node 2>/dev/null)" "$ifn" "$mac" "$op" "$rxq" "$txq"
done
`,
  parse(text) {
    const ssh = new Set<string>();
    const def = new Set<string>();
    const act = new Set<string>();
    const nics: NicFacts[] = [];
    for (const [k, v] of kvLines(text)) {
      if (k === 'sshdev') ssh.add(v);
      else if (k === 'defdev') def.add(v);
      else if (k === 'actdev') act.add(v);
      else if (k === 'nic') {
        const [pci, vendor, device, drv, ovr, numa, ifn, mac, op, rxq, txq] = v.split('|');
        const ifname = ifn || null;
        nics.push({
          pci: pci ?? '',
          vendorId: (vendor ?? '').replace(/^0x/, ''),
          deviceId: (device ?? '').replace(/^0x/, ''),
          driver: drv || null,
          driverOverride: ovr && ovr !== '(null)' ? ovr : null,
          numaNode: int(numa, -1),
          ifname,
          mac: mac ? mac.toLowerCase() : null,
          operstate: op || null,
          carriesSsh: ifname !== null && ssh.has(ifname),
          defaultRoute: ifname !== null && def.has(ifname),
          active: ifname !== null && act.has(ifname),
          maxRxQueues: rxq ? int(rxq) : null,
          maxTxQueues: txq ? int(txq) : null,
        });
      }
    }
    return nics.sort((a, b) => a.pci.localeCompare(b.pci));
  },
};
