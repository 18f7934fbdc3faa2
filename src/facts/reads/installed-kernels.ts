/**
 * The kernels installed on a host: the directories under /lib/modules (the probe shell's own glob).
 *
 *   ['6.1.0-18-amd64', '6.1.0-57-amd64'] | null (no /lib/modules)
 */
import { z } from 'zod';
import { factReader, lines, ok } from '../read.js';

export const KERNELS_KEY = 'kernels-installed';

export const installedKernels = factReader<string[] | null>({
  name: 'installed kernels (/lib/modules)',
  keys: [KERNELS_KEY],
  schema: z.array(z.string()).nullable(),
  request: () => ({ listings: { [KERNELS_KEY]: { dir: '/lib/modules' } } }),
  parse: (raw) => {
    const o = raw(KERNELS_KEY);
    return ok(o) ? lines(o.stdout) : null;
  },
});
