/**
 * The addresses on the KNI interface keepalived's VRRP runs over: `ip -o addr show dev <kni>`, one
 * line per address ("3: dpdk0.kni    inet 192.168.100.2/24 scope global dpdk0.kni\ ..."), only where
 * the device exists (no such device: ip's exit 1; its message is not read).
 *
 *   ['192.168.100.2/24', 'fe80::a236:9fff:fe00:f15/64'] | null (no such device, ip failed)
 */
import { z } from 'zod';
import { factReader, ok } from '../read.js';

export const KNI_ADDR_KEY = 'kni-addr';

export const kniAddresses = factReader<string[] | null, string>({
  name: 'addresses of the KNI interface (ip -o addr show dev)',
  keys: [KNI_ADDR_KEY],
  schema: z.array(z.string()).nullable(),
  request: (kni) => ({
    execs: {
      [KNI_ADDR_KEY]: { argv: ['ip', '-o', 'addr', 'show', 'dev', kni], onlyIf: `/sys/class/net/${kni}` },
    },
  }),
  parse: (raw) => {
    const o = raw(KNI_ADDR_KEY);
    if (!ok(o)) return null;
    const out: string[] = [];
    for (const line of o.stdout.split('\n')) {
      const m = /\binet6? (\S+)/.exec(line);
      if (m?.[1]) out.push(m[1]);
    }
    return out;
  },
});

/** The interface has `cidr`, or its address with another prefix length. */
export function hasAddress(addresses: readonly string[], cidr: string): boolean {
  const ip = cidr.split('/')[0] ?? cidr;
  return addresses.some((a) => a === cidr || a.split('/')[0] === ip);
}
