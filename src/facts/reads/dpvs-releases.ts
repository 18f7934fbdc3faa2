/**
 * The DPVS releases a balancer has: the directories under <prefix>/releases and where the `current`
 * symlink points. Changed by dpvs-build (a new release, `current` switched) and rollback.
 *
 *   { current: '/opt/dpvs/releases/1.9.8-3f2a9c1e', releases: ['1.9.6-0a1b2c3d', '1.9.8-3f2a9c1e'] }
 *
 * `readlink -- CURRENT` only where `current` exists (readlink's own answer for a path that is not a
 * link: exit 1, nothing printed); the listing is the probe shell's own glob, no process.
 */
import { z } from 'zod';
import { lines, ok, projectedReader } from '../read.js';

const CURRENT = 'dpvs-current';
const RELEASES = 'dpvs-releases';

export const dpvsReleasesSchema = z.object({
  /** where `current` points, '' when it is absent or not a link */
  current: z.string(),
  /** release directory names, `ls -1` order, without the download (.tar.gz) and temporary (.tmp) names */
  releases: z.array(z.string()),
});
export type DpvsReleases = z.infer<typeof dpvsReleasesSchema>;

export const dpvsReleases = projectedReader<DpvsReleases, { current: string; releases: string }>({
  name: 'DPVS releases (readlink of current, the releases directory)',
  keys: [CURRENT, RELEASES],
  schema: dpvsReleasesSchema,
  request: (l) => ({
    execs: { [CURRENT]: { argv: ['readlink', '--', l.current], onlyIf: l.current } },
    // `ls -1 RELEASES | grep -v -e '\.tar\.gz$' -e '\.tmp$'`, read by the probe's shell
    listings: { [RELEASES]: { dir: l.releases, exclude: ['.tar.gz', '.tmp'] } },
  }),
  parse: (raw) => {
    const c = raw(CURRENT);
    const r = raw(RELEASES);
    return { current: ok(c) ? c.stdout.trim() : '', releases: ok(r) ? lines(r.stdout) : [] };
  },
  render: (v) => ({
    [CURRENT]: v.current ? { code: 0, stdout: `${v.current}\n` } : { code: 1, stdout: '' },
    [RELEASES]: { code: 0, stdout: v.releases.length ? [...v.releases].sort().join('\n') + '\n' : '' },
  }),
});
