/**
 * Host identity: hostname, OS, kernel.
 *
 *   { hostname: 'lb1',
 *     os: { id: 'debian', versionId: '12', family: 'debian', packageManager: 'apt', ... },
 *     kernel: { release: '6.1.0-50-amd64', machine: 'x86_64', headersInstalled: true, lockdown: 'none', ... } }
 */
import type { KernelFacts, OsFacts } from './types.js';
import { type FactModule, int, kvLines } from './section.js';

export interface SystemFacts {
  hostname: string;
  os: OsFacts;
  kernel: KernelFacts;
}

export const systemFacts: FactModule<SystemFacts> = {
  name: 'system',
  snippet: () => `
printf 'hostname\\t%s\\n' "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
if [ -r /etc/os-release ]; then sed -n 's/^\\(ID\\|VERSION_ID\\|PRETTY_NAME\\|ID_LIKE\\)=/os.\\1\\t/p' /etc/os-release | tr -d '"'; fi
r=$(uname -r); printf 'release\\t%s\\nmachine\\t%s\\n' "$r" "$(uname -m)"
[ -e "/lib/modules/$r/build" ] && printf 'headers\\t1\\n'
printf 'cmdline\\t%s\\n' "$(cat /proc/cmdline 2>/dev/null)"
[ -r /sys/kernel/security/lockdown ] && printf 'lockdown\\t%s\\n' "$(cat /sys/kernel/security/lockdown)"
for f in /sys/firmware/efi/efivars/SecureBoot-*; do [ -r "$f" ] && printf 'secureboot\\t%s\\n' "$(od -An -tu1 -j4 -N1 "$f" | tr -d ' ')"; done
[ -d /proc/sys/net/ipv6 ] && printf 'ipv6\\t1\\n'
printf 'iommu\\t%s\\n' "$(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)"
for pm in apt-get dnf yum; do command -v $pm >/dev/null 2>&1 && printf 'pm\\t%s\\n' $pm; done
`,
  parse(text) {
    const m = new Map<string, string>();
    const pms: string[] = [];
    for (const [k, v] of kvLines(text)) {
      if (k === 'pm') pms.push(v);
      else m.set(k, v);
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
    const lockdownRaw = m.get('lockdown') ?? '';
    const sel = /\[(\w+)\]/.exec(lockdownRaw)?.[1];
    const lockdown: KernelFacts['lockdown'] =
      sel === 'none' || sel === 'integrity' || sel === 'confidentiality'
        ? sel
        : lockdownRaw
          ? 'unknown'
          : 'none';
    const sb = m.get('secureboot');
    return {
      hostname: m.get('hostname') ?? '',
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
        cmdline: m.get('cmdline') ?? '',
        lockdown,
        secureBoot: sb === undefined ? null : sb === '1',
        ipv6: m.get('ipv6') === '1',
        iommuGroups: int(m.get('iommu')),
      },
    };
  },
};
