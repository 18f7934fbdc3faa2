/**
 * The CPUs the running kernel isolates (isolcpus=): /sys/devices/system/cpu/isolated, a CPU list
 * ("2-7,10"), read through the probe's shared read. Changed by kernel-cmdline (after its reboot).
 *
 *   [2, 3, 4, 5, 6, 7, 10] | null (not readable)
 */
import { z } from 'zod';
import { ok, projectedReader } from '../read.js';
import { parseCpuList } from '../section.js';

export const ISOLATED_KEY = 'kernel-cmdline:isolated';
export const ISOLATED_CPUS = '/sys/devices/system/cpu/isolated';

/** [0,1,2,5] -> "0-2,5", as the kernel prints a CPU list */
export function cpuList(cpus: readonly number[]): string {
  const out: string[] = [];
  const s = [...cpus].sort((a, b) => a - b);
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && (s[j + 1] as number) === (s[j] as number) + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

export const isolatedCpus = projectedReader<number[] | null>({
  name: `isolated CPUs (${ISOLATED_CPUS})`,
  keys: [ISOLATED_KEY],
  schema: z.array(z.number().int().nonnegative()).nullable(),
  request: () => ({ texts: { [ISOLATED_KEY]: ISOLATED_CPUS } }),
  parse: (raw) => {
    const o = raw(ISOLATED_KEY);
    return ok(o) ? parseCpuList(o.stdout) : null;
  },
  render: (v) => ({ [ISOLATED_KEY]: v === null ? { code: 1, stdout: '' } : { code: 0, stdout: cpuList(v) } }),
});
