/**
 * Memory and hugepages: /proc/meminfo, NUMA nodes with CPUs, memory and per-node hugepage counters,
 * global hugepage counters, hugetlbfs mounts.
 *
 *   numa: [{ id: 0, cpus: [0,2,4], memTotalKb: 65724416, memFreeKb: 4800000,
 *            hugepages: [{ sizeKb: 2048, total: 8192, free: 8192 }, { sizeKb: 1048576, total: 0, free: 0 }] }]
 *
 * No process: every file goes through the probe's shared read.
 */
import { z } from 'zod';
import type { Facts, HugepageCounter, MountFacts, NumaNodeFacts } from './types.js';
import { type FactModule, first, int, type ReadMap, readDirs } from './section.js';
import { parseCpuList } from '../cpu-list.js';

export type MemoryFacts = Pick<Facts, 'memory' | 'numa' | 'hugepages' | 'mounts'>;

const HP = '/sys/kernel/mm/hugepages';
const NODE = '/sys/devices/system/node';

const counter = z.object({
  sizeKb: z.number().int().describe('hugepage size in kB'),
  total: z.number().int().describe('pages reserved'),
  free: z.number().int().describe('pages not in use'),
});
export const memorySchema = z.object({
  memory: z.object({
    totalKb: z.number().int(),
    freeKb: z.number().int(),
    hugepagesTotal: z.number().int(),
    hugepagesFree: z.number().int(),
    hugepageSizeKb: z.number().int(),
  }),
  numa: z.array(
    z.object({
      id: z.number().int(),
      cpus: z.array(z.number().int()),
      memTotalKb: z.number().int(),
      memFreeKb: z.number().int(),
      hugepages: z.array(counter),
    }),
  ),
  hugepages: z.array(counter),
  mounts: z.array(
    z.object({ source: z.string(), target: z.string(), fstype: z.string(), options: z.string() }),
  ),
});

/** The hugepage counters under `dir` (hugepages-<size>kB/{nr,free}_hugepages), by size. */
function counters(reads: ReadMap, dir: string): HugepageCounter[] {
  return readDirs(reads, `${dir}/hugepages-`, 'kB/nr_hugepages')
    .filter((s) => /^[0-9]+$/.test(s))
    .map((s) => ({
      sizeKb: int(s),
      total: int(first(reads, `${dir}/hugepages-${s}kB/nr_hugepages`)),
      free: int(first(reads, `${dir}/hugepages-${s}kB/free_hugepages`)),
    }))
    .sort((a, b) => a.sizeKb - b.sizeKb);
}

export const memoryFacts: FactModule<MemoryFacts> = {
  name: 'memory',
  reads: () => [
    '/proc/meminfo',
    `${HP}/hugepages-*kB/nr_hugepages`,
    `${HP}/hugepages-*kB/free_hugepages`,
    `${NODE}/node[0-9]*/cpulist`,
    `${NODE}/node[0-9]*/meminfo`,
    `${NODE}/node[0-9]*/hugepages/hugepages-*kB/nr_hugepages`,
    `${NODE}/node[0-9]*/hugepages/hugepages-*kB/free_hugepages`,
    '/proc/mounts',
  ],
  snippet: () => '',
  parse(_text, ctx) {
    const reads = ctx?.reads ?? new Map<string, string[]>();
    const mem = new Map<string, number>();
    for (const line of reads.get('/proc/meminfo') ?? []) {
      const m = /^(MemTotal|MemFree|HugePages_Total|HugePages_Free|Hugepagesize):\s*([0-9]*)/.exec(line);
      if (m?.[1]) mem.set(m[1], int(m[2]));
    }
    const ids = new Set<string>();
    for (const p of reads.keys()) {
      const m = /^\/sys\/devices\/system\/node\/node([0-9]+)\//.exec(p);
      if (m?.[1]) ids.add(m[1]);
    }
    const numa: NumaNodeFacts[] = [...ids]
      .map((id) => {
        const dir = `${NODE}/node${id}`;
        const n: NumaNodeFacts = {
          id: int(id),
          cpus: parseCpuList(first(reads, `${dir}/cpulist`)),
          memTotalKb: 0,
          memFreeKb: 0,
          hugepages: counters(reads, `${dir}/hugepages`),
        };
        for (const line of reads.get(`${dir}/meminfo`) ?? []) {
          const m = /^Node [0-9]+ (MemTotal|MemFree):\s*([0-9]*)/.exec(line);
          if (m?.[1] === 'MemTotal') n.memTotalKb = int(m[2]);
          else if (m?.[1] === 'MemFree') n.memFreeKb = int(m[2]);
        }
        return n;
      })
      .sort((a, b) => a.id - b.id);
    const mounts: MountFacts[] = [];
    for (const line of reads.get('/proc/mounts') ?? []) {
      const f = line.split(' ');
      if (f[2] === 'hugetlbfs')
        mounts.push({ source: f[0] ?? '', target: f[1] ?? '', fstype: f[2], options: f[3] ?? '' });
    }
    return {
      memory: {
        totalKb: mem.get('MemTotal') ?? 0,
        freeKb: mem.get('MemFree') ?? 0,
        hugepagesTotal: mem.get('HugePages_Total') ?? 0,
        hugepagesFree: mem.get('HugePages_Free') ?? 0,
        hugepageSizeKb: mem.get('Hugepagesize') ?? 2048,
      },
      numa,
      hugepages: counters(reads, HP),
      mounts,
    };
  },
  schema: memorySchema,
};
