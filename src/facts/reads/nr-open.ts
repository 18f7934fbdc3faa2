/**
 * The kernel's ceiling for a process's open files (fs.nr_open, which systemd's LimitNOFILE may not
 * exceed): /proc/sys/fs/nr_open through the probe's shared read.
 *
 *   1048576 | null (not readable)
 */
import { z } from 'zod';
import { factReader, ok } from '../read.js';

export const NR_OPEN_KEY = 'fs-nr-open';

export const nrOpen = factReader<number | null>({
  name: 'fs.nr_open (/proc/sys/fs/nr_open)',
  keys: [NR_OPEN_KEY],
  schema: z.number().int().nonnegative().nullable(),
  request: () => ({ texts: { [NR_OPEN_KEY]: '/proc/sys/fs/nr_open' } }),
  parse: (raw) => {
    const o = raw(NR_OPEN_KEY);
    const n = ok(o) ? Number.parseInt(o.stdout.trim(), 10) : NaN;
    return Number.isFinite(n) ? n : null;
  },
});
