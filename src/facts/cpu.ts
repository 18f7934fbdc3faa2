/**
 * CPUs: model, flags, online list, SMT and sockets.
 *
 *   { model: 'Intel(R) Xeon(R) CPU E5-2630 v4', online: [0..19], flags: ['sse4_2', ...],
 *     threadsPerCore: 1, smtActive: false, sockets: 2 }
 *
 * One process (the first model name and flags lines of /proc/cpuinfo); the sysfs files go through the
 * probe's shared read.
 */
import { z } from 'zod';
import type { CpuFacts } from './types.js';
import { type FactModule, first, int, kvLines, readDirs } from './section.js';
import { parseCpuList } from '../cpu-list.js';

const CPU = '/sys/devices/system/cpu';

export const cpuSchema = z.object({
  model: z.string(),
  online: z.array(z.number().int()),
  flags: z.array(z.string()),
  threadsPerCore: z.number().int().positive(),
  smtActive: z.boolean(),
  sockets: z.number().int().positive(),
});

export const cpuFacts: FactModule<CpuFacts> = {
  name: 'cpu',
  reads: () => [
    `${CPU}/online`,
    `${CPU}/smt/active`,
    `${CPU}/cpu[0-9]*/topology/physical_package_id`,
    `${CPU}/cpu[0-9]*/topology/thread_siblings_list`,
  ],
  // the first "model name" and "flags" lines, read by the shell itself (it stops at the first flags)
  snippet: () => `
while IFS= read -r l; do
  case $l in
    'model name'[[:space:]]*:*) [ -n "$mn" ] || { mn=1; printf 'model\\t%s\\n' "\${l#*:}"; } ;;
    flags[[:space:]]*:*) printf 'flags\\t%s\\n' "\${l#*:}"; break ;;
  esac
done < /proc/cpuinfo
`,
  parse(text, ctx) {
    const m = new Map<string, string>();
    // the value after the colon, its leading blanks dropped (as the sed before did)
    for (const [k, v] of kvLines(text)) if (!m.has(k)) m.set(k, v.replace(/^[ \t]+/, ''));
    const reads = ctx?.reads ?? new Map<string, string[]>();
    const packages = new Set<string>();
    let maxSiblings = 1;
    for (const c of readDirs(reads, `${CPU}/cpu`, '/topology/thread_siblings_list')) {
      if (!/^[0-9]+$/.test(c)) continue;
      packages.add(first(reads, `${CPU}/cpu${c}/topology/physical_package_id`));
      maxSiblings = Math.max(
        maxSiblings,
        parseCpuList(first(reads, `${CPU}/cpu${c}/topology/thread_siblings_list`)).length,
      );
    }
    const smtRaw = reads.get(`${CPU}/smt/active`)?.[0];
    return {
      model: m.get('model') ?? '',
      online: parseCpuList(first(reads, `${CPU}/online`)),
      flags: (m.get('flags') ?? '').split(/\s+/).filter(Boolean),
      threadsPerCore: maxSiblings,
      smtActive: smtRaw !== undefined ? int(smtRaw) === 1 : maxSiblings > 1,
      sockets: Math.max(1, packages.size),
    };
  },
  schema: cpuSchema,
};
