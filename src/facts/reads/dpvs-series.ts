/**
 * The DPVS patch series of a DPVS tarball in the host's download cache, as one hash (see
 * src/tasks/dpdk/series.ts): `sh -c SERIES_SCRIPT sh TARBALL PATCHDIR`, run only where the tarball is.
 *
 *   'a3f1...64 hex' | null (no tarball, no such series, unreadable)
 */
import { z } from 'zod';
import { factReader } from '../read.js';

export const DPVS_SERIES_KEY = 'dpdk-build-dpvs-series';

/**
 * `sh -c SERIES_SCRIPT sh TARBALL PATCHDIR` prints the series hash, or nothing when the tarball is
 * absent, unreadable or has no such series. Portable tar (-t, -xO; no GNU wildcards) and sha256sum.
 */
export const SERIES_SCRIPT = [
  't=$1; d=$2',
  '[ -r "$t" ] || exit 0',
  'names=$(tar -tf "$t" 2>/dev/null | grep -E "^[^/]+/$d/[^/]+$" | LC_ALL=C sort) || exit 0',
  '[ -n "$names" ] || exit 0',
  'printf \'%s\\n\' "$names" | while IFS= read -r n; do',
  '  printf \'%s %s\\n\' "${n##*/}" "$(tar -xOf "$t" "$n" | sha256sum | cut -d" " -f1)"',
  'done | sha256sum | cut -d" " -f1',
].join('\n');

export const dpvsSeries = factReader<string | null, { tarball: string; patchDir: string }>({
  name: 'DPVS patch series of the cached DPVS tarball',
  keys: [DPVS_SERIES_KEY],
  schema: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  request: ({ tarball, patchDir }) => ({
    execs: {
      [DPVS_SERIES_KEY]: {
        argv: ['sh', '-c', SERIES_SCRIPT, 'sh', tarball, patchDir],
        onlyIf: tarball,
        otherwise: { code: 0, stdout: '' },
        stderr: false,
      },
    },
  }),
  parse: (raw) => {
    const h = (raw(DPVS_SERIES_KEY)?.stdout ?? '').trim();
    return /^[0-9a-f]{64}$/.test(h) ? h : null;
  },
});
