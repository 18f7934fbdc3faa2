/**
 * The CPUs the running kernel isolates (isolcpus=): /sys/devices/system/cpu/isolated, a CPU list
 * ("2-7,10"), read through the probe's shared read. Changed by kernel-cmdline (after its reboot).
 *
 *   [2, 3, 4, 5, 6, 7, 10] | null (not readable)
 */
import { z } from 'zod';
import { ok, projectedReader } from '../read.js';
import { formatCpuList, parseCpuList } from '../../cpu-list.js';

export const ISOLATED_KEY = 'kernel-cmdline:isolated';
export const ISOLATED_CPUS = '/sys/devices/system/cpu/isolated';

export const isolatedCpus = projectedReader<number[] | null>({
  name: `isolated CPUs (${ISOLATED_CPUS})`,
  keys: [ISOLATED_KEY],
  schema: z.array(z.number().int().nonnegative()).nullable(),
  request: () => ({ texts: { [ISOLATED_KEY]: ISOLATED_CPUS } }),
  parse: (raw) => {
    const o = raw(ISOLATED_KEY);
    return ok(o) ? parseCpuList(o.stdout) : null;
  },
  render: (v) => ({
    [ISOLATED_KEY]: v === null ? { code: 1, stdout: '' } : { code: 0, stdout: formatCpuList(v) },
  }),
});
