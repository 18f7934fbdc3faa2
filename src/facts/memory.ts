/**
 * Memory and hugepages: /proc/meminfo, NUMA nodes with CPUs, memory and per-node hugepage counters,
 * global hugepage counters, hugetlbfs mounts.
 *
 *   numa: [{ id: 0, cpus: [0,2,4], memTotalKb: 65724416, memFreeKb: 4800000,
 *            hugepages: [{ sizeKb: 2048, total: 8192, free: 8192 }, { sizeKb: 1048576, total: 0, free: 0 }] }]
 */
import type { Facts, HugepageCounter, MountFacts, NumaNodeFacts } from './types.js';
import { type FactModule, int, kvLines, parseCpuList } from './section.js';

export type MemoryFacts = Pick<Facts, 'memory' | 'numa' | 'hugepages' | 'mounts'>;

export const memoryFacts: FactModule<MemoryFacts> = {
  name: 'memory',
  snippet: () => `
sed -n 's/^\\(MemTotal\\|MemFree\\|HugePages_Total\\|HugePages_Free\\|Hugepagesize\\):[[:space:]]*\\([0-9]*\\).*/mem.\\1\\t\\2/p' /proc/meminfo
for h in /sys/kernel/mm/hugepages/hugepages-*kB; do
  [ -d "$h" ] || continue; s=\${h##*hugepages-}; s=\${s%kB}
  printf 'hp\\t%s %s %s\\n' "$s" "$(cat $h/nr_hugepages)" "$(cat $h/free_hugepages)"
done
for n in /sys/devices/system/node/node[0-9]*; do
  [ -d "$n" ] || continue; id=\${n##*node}
  printf 'node\\t%s %s\\n' "$id" "$(cat $n/cpulist)"
  sed -n "s/^Node $id \\(MemTotal\\|MemFree\\):[[:space:]]*\\([0-9]*\\).*/nodemem\\t$id \\1 \\2/p" $n/meminfo
  for h in $n/hugepages/hugepages-*kB; do
    [ -d "$h" ] || continue; s=\${h##*hugepages-}; s=\${s%kB}
    printf 'nodehp\\t%s %s %s %s\\n' "$id" "$s" "$(cat $h/nr_hugepages)" "$(cat $h/free_hugepages)"
  done
done
awk '$3 == "hugetlbfs" { printf "mount\\t%s %s %s %s\\n", $1, $2, $3, $4 }' /proc/mounts
`,
  parse(text) {
    const mem = new Map<string, number>();
    const hugepages: HugepageCounter[] = [];
    const nodes = new Map<number, NumaNodeFacts>();
    const mounts: MountFacts[] = [];
    const node = (id: number): NumaNodeFacts => {
      let n = nodes.get(id);
      if (!n) {
        n = { id, cpus: [], memTotalKb: 0, memFreeKb: 0, hugepages: [] };
        nodes.set(id, n);
      }
      return n;
    };
    for (const [k, v] of kvLines(text)) {
      const f = v.split(' ');
      if (k.startsWith('mem.')) mem.set(k.slice(4), int(v));
      else if (k === 'hp') hugepages.push({ sizeKb: int(f[0]), total: int(f[1]), free: int(f[2]) });
      else if (k === 'node') node(int(f[0])).cpus = parseCpuList(f[1] ?? '');
      else if (k === 'nodemem') {
        const n = node(int(f[0]));
        if (f[1] === 'MemTotal') n.memTotalKb = int(f[2]);
        else n.memFreeKb = int(f[2]);
      } else if (k === 'nodehp')
        node(int(f[0])).hugepages.push({ sizeKb: int(f[1]), total: int(f[2]), free: int(f[3]) });
      else if (k === 'mount')
        mounts.push({ source: f[0] ?? '', target: f[1] ?? '', fstype: f[2] ?? '', options: f[3] ?? '' });
    }
    const byId = (a: { sizeKb: number }, b: { sizeKb: number }) => a.sizeKb - b.sizeKb;
    hugepages.sort(byId);
    const numa = [...nodes.values()].sort((a, b) => a.id - b.id);
    for (const n of numa) n.hugepages.sort(byId);
    return {
      memory: {
        totalKb: mem.get('MemTotal') ?? 0,
        freeKb: mem.get('MemFree') ?? 0,
        hugepagesTotal: mem.get('HugePages_Total') ?? 0,
        hugepagesFree: mem.get('HugePages_Free') ?? 0,
        hugepageSizeKb: mem.get('Hugepagesize') ?? 2048,
      },
      numa,
      hugepages,
      mounts,
    };
  },
};
