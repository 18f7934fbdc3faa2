/**
 * Host identity: hostname, OS, kernel.
 *
 *   { hostname: 'lb1',
 *     os: { id: 'debian', versionId: '12', family: 'debian', packageManager: 'apt', ... },
 *     kernel: { release: '6.1.0-50-amd64', machine: 'x86_64', headersInstalled: true, lockdown: 'none', ... } }
 *
 * One process (uname); the files go through the probe's shared read. Sets $DPVS_PROBE_RELEASE (the
 * running kernel's release) for the reads after it, which fall back to `uname -r` outside the probe.
 */
import { z } from 'zod';
import type { KernelFacts, OsFacts } from './types.js';
import { type FactModule, first, int, kvLines } from './section.js';

export interface SystemFacts {
  hostname: string;
  os: OsFacts;
  kernel: KernelFacts;
}

const HOSTNAME = '/proc/sys/kernel/hostname';
const OS_RELEASE = '/etc/os-release';
const CMDLINE = '/proc/cmdline';
const LOCKDOWN = '/sys/kernel/security/lockdown';

export const systemSchema = z.object({
  hostname: z.string(),
  os: z.object({
    id: z.string(),
    versionId: z.string(),
    prettyName: z.string(),
    family: z.enum(['debian', 'rhel', 'unknown']),
    packageManager: z.enum(['apt', 'dnf', 'yum', 'unknown']),
  }),
  kernel: z.object({
    release: z.string(),
    machine: z.string(),
    headersInstalled: z.boolean(),
    cmdline: z.string(),
    lockdown: z.enum(['none', 'integrity', 'confidentiality', 'unknown']),
    secureBoot: z.boolean().nullable(),
    ipv6: z.boolean(),
    iommuGroups: z.number().int(),
  }),
});

export const systemFacts: FactModule<SystemFacts> = {
  name: 'system',
  reads: () => [HOSTNAME, OS_RELEASE, CMDLINE, LOCKDOWN],
  snippet: () => `
u=$(uname -r -m); r=\${u% *}; DPVS_PROBE_RELEASE=$r; printf 'release\\t%s\\nmachine\\t%s\\n' "$r" "\${u##* }"
[ -e "/lib/modules/$r/build" ] && printf 'headers\\t1\\n'
for f in /sys/firmware/efi/efivars/SecureBoot-*; do [ -r "$f" ] && printf 'secureboot\\t%s\\n' "$(od -An -tu1 -j4 -N1 "$f" | tr -d ' ')"; done
[ -d /proc/sys/net/ipv6 ] && printf 'ipv6\\t1\\n'
set -- /sys/kernel/iommu_groups/*; [ -e "$1" ] || shift; printf 'iommu\\t%s\\n' $#
for pm in apt-get dnf yum; do command -v $pm >/dev/null 2>&1 && printf 'pm\\t%s\\n' $pm; done
`,
  parse(text, ctx) {
    const m = new Map<string, string>();
    const pms: string[] = [];
    for (const [k, v] of kvLines(text)) {
      if (k === 'pm') pms.push(v);
      else m.set(k, v);
    }
    const reads = ctx?.reads ?? new Map<string, string[]>();
    // /etc/os-release: the four keys, every double quote dropped (as `tr -d '"'` did)
    for (const line of reads.get(OS_RELEASE) ?? []) {
      const kv = /^(ID|VERSION_ID|PRETTY_NAME|ID_LIKE)=(.*)$/.exec(line);
      if (kv?.[1] !== undefined) m.set(`os.${kv[1]}`, (kv[2] ?? '').replace(/"/g, ''));
    }
    const id = (m.get('os.ID') ?? 'unknown').toLowerCase();
    const like = `${id} ${(m.get('os.ID_LIKE') ?? '').toLowerCase()}`;
    const family: OsFacts['family'] = /debian|ubuntu/.test(like)
      ? 'debian'
      : /rhel|fedora|centos|rocky|alma/.test(like)
        ? 'rhel'
        : 'unknown';
    const packageManager: OsFacts['packageManager'] =
      family === 'debian'
        ? 'apt'
        : family === 'rhel'
          ? pms.includes('dnf')
            ? 'dnf'
            : pms.includes('yum')
              ? 'yum'
              : 'unknown'
          : 'unknown';
    const lockdownRaw = reads.has(LOCKDOWN) ? first(reads, LOCKDOWN) : (m.get('lockdown') ?? '');
    const sel = /\[(\w+)\]/.exec(lockdownRaw)?.[1];
    const lockdown: KernelFacts['lockdown'] =
      sel === 'none' || sel === 'integrity' || sel === 'confidentiality'
        ? sel
        : lockdownRaw
          ? 'unknown'
          : 'none';
    const sb = m.get('secureboot');
    return {
      hostname: reads.has(HOSTNAME) ? first(reads, HOSTNAME) : (m.get('hostname') ?? ''),
      os: {
        id,
        versionId: m.get('os.VERSION_ID') ?? '',
        prettyName: m.get('os.PRETTY_NAME') ?? id,
        family,
        packageManager,
      },
      kernel: {
        release: m.get('release') ?? '',
        machine: m.get('machine') ?? '',
        headersInstalled: m.get('headers') === '1',
        cmdline: reads.has(CMDLINE) ? first(reads, CMDLINE) : (m.get('cmdline') ?? ''),
        lockdown,
        secureBoot: sb === undefined ? null : sb === '1',
        ipv6: m.get('ipv6') === '1',
        iommuGroups: int(m.get('iommu')),
      },
    };
  },
  schema: systemSchema,
};
