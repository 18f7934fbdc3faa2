/**
 * CPUs: model, flags, online list, SMT and sockets.
 *
 *   { model: 'Intel(R) Xeon(R) CPU E5-2630 v4', online: [0..19], flags: ['sse4_2', ...],
 *     threadsPerCore: 1, smtActive: false, sockets: 2 }
 */
import type { CpuFacts } from './types.js';
import { type FactModule, int, kvLines, parseCpuList } from './section.js';

export const cpuFacts: FactModule<CpuFacts> = {
  name: 'cpu',
  snippet: () => `
printf 'model\\t%s\\n' "$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)"
printf 'flags\\t%s\\n' "$(sed -n 's/^flags[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)"
printf 'online\\t%s\\n' "$(cat /sys/devices/system/cpu/online 2>/dev/null)"
[ -r /sys/devices/system/cpu/smt/active ] && printf 'smt\\t%s\\n' "$(cat /sys/devices/system/cpu/smt/active)"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  [ -r "$c/topology/thread_siblings_list" ] || continue
  printf 'topo\\t%s %s %s\\n' "\${c##*/cpu}" "$(cat $c/topology/physical_package_id)" "$(cat $c/topology/thread_siblings_list)"
done
`,
  parse(text) {
    const m = new Map<string, string>();
    const packages = new Set<string>();
    let maxSiblings = 1;
    for (const [k, v] of kvLines(text)) {
      if (k === 'topo') {
        const [, pkg, siblings] = v.split(' ');
        if (pkg !== undefined) packages.add(pkg);
        maxSiblings = Math.max(maxSiblings, parseCpuList(siblings ?? '').length);
      } else m.set(k, v);
    }
    const smtRaw = m.get('smt');
    return {
      model: m.get('model') ?? '',
      online: parseCpuList(m.get('online') ?? ''),
      flags: (m.get('flags') ?? '').split(/\s+/).filter(Boolean),
      threadsPerCore: maxSiblings,
      smtActive: smtRaw !== undefined ? int(smtRaw) === 1 : maxSiblings > 1,
      sockets: Math.max(1, packages.size),
    };
  },
};
