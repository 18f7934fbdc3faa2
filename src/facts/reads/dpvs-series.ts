/**
 * The DPVS patch series of a DPVS tarball in the host's download cache, as one hash (see
 * src/tasks/dpdk/series.ts): the memo the host keeps next to the tarball (seriesMemoPath, one line read
 * by the probe's shared read), else `sh -c SERIES_SCRIPT sh TARBALL PATCHDIR`, run only where the
 * tarball is and the memo is not.
 *
 *   { hash: 'a3f1...64 hex', memoised: true } | { hash: null, memoised: false } (no tarball, no such
 *   series, unreadable)
 */
import { z } from 'zod';
import { projectedReader } from '../read.js';

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

/**
 * Where the host keeps the series hash of a cached tarball once it is known: next to the tarball,
 * whose name is its own sha256, so the memo never goes stale. Without it every plan would read the
 * whole tarball again, once for its listing and once per patch (about 2.5 s of CPU for a 20 MB one).
 */
export function seriesMemoPath(tarball: string, patchDir: string): string {
  return `${tarball}.series-${patchDir.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

export const DPVS_SERIES_MEMO_KEY = 'dpdk-build-dpvs-series-memo';

const HASH = /^[0-9a-f]{64}$/;

export const dpvsSeriesSchema = z.object({
  /** the series hash, null where it cannot be known (no tarball, no such series, unreadable) */
  hash: z.string().regex(HASH).nullable(),
  /** the host has it recorded (seriesMemoPath): later probes read one line instead of the tarball */
  memoised: z.boolean(),
});
export type DpvsSeriesReading = z.infer<typeof dpvsSeriesSchema>;

/**
 * The series of the cached DPVS tarball: the memo's line where the host has one (the script does not
 * run then), else the script's answer where the tarball is cached.
 */
export const dpvsSeries = projectedReader<DpvsSeriesReading, { tarball: string; patchDir: string }>({
  name: 'DPVS patch series of the cached DPVS tarball',
  keys: [DPVS_SERIES_KEY, DPVS_SERIES_MEMO_KEY],
  schema: dpvsSeriesSchema,
  request: ({ tarball, patchDir }) => {
    const memo = seriesMemoPath(tarball, patchDir);
    return {
      texts: { [DPVS_SERIES_MEMO_KEY]: memo },
      execs: {
        [DPVS_SERIES_KEY]: {
          argv: ['sh', '-c', SERIES_SCRIPT, 'sh', tarball, patchDir],
          onlyIf: tarball,
          unless: memo,
          otherwise: { code: 0, stdout: '' },
          stderr: false,
        },
      },
    };
  },
  parse: (raw) => {
    const memo = raw(DPVS_SERIES_MEMO_KEY);
    const m = memo?.code === 0 ? memo.stdout.trim() : '';
    if (HASH.test(m)) return { hash: m, memoised: true };
    const h = (raw(DPVS_SERIES_KEY)?.stdout ?? '').trim();
    return { hash: HASH.test(h) ? h : null, memoised: false };
  },
  render: (v) => ({
    [DPVS_SERIES_MEMO_KEY]: v.memoised && v.hash ? { code: 0, stdout: v.hash } : { code: 1, stdout: '' },
    [DPVS_SERIES_KEY]: { code: 0, stdout: v.memoised ? '' : (v.hash ?? '') },
  }),
});
