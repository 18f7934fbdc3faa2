/**
 * Fetching the real DPDK and dpdk-kmods sources, and the DPDK tarball's driver trim for the suites that build it through the tool (dpdk-real on the
 * lab, 06-realdpdk on the VM build host): every driver class but net, the buses and mempools neither
 * uses, and every net driver but the kept ones, read from the tarball's own drivers/net/ directories.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const CLASSES = ['baseband', 'common', 'compress', 'crypto', 'event', 'raw', 'regex', 'vdpa'];
const BUSES = ['dpaa', 'fslmc', 'ifpga', 'vmbus'];
const MEMPOOLS = ['bucket', 'dpaa', 'dpaa2', 'octeontx', 'octeontx2'];

/** The value of meson's -Ddisable_drivers: every listed class, bus and mempool (and `extraMempools`), and each net driver not in `netKept`. */
export function disabledDrivers(
  tarball: string,
  netKept: readonly string[],
  extraMempools: readonly string[] = [],
): string {
  const net = execFileSync('tar', ['-tf', tarball], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .map((l) => /^[^/]+\/drivers\/net\/([^/]+)\/$/.exec(l)?.[1])
    .filter((d): d is string => !!d && !netKept.includes(d))
    .sort()
    .map((d) => `net/${d}`);
  return [
    ...CLASSES.map((c) => `${c}/*`),
    ...BUSES.map((b) => `bus/${b}`),
    ...[...MEMPOOLS, ...extraMempools].map((m) => `mempool/${m}`),
    ...net,
  ].join(',');
}

/**
 * A source the project's scripts/fetch-dpdk-src.sh fetches (or finds in ~/.cache/dpvs-deploy/dpdk-src):
 * `what` is a DPDK version or `kmods`; its last line is "FILE TOPDIR", and `top` must accept TOPDIR.
 */
export function fetchDpdkSource(
  repo: string,
  what: string,
  top: (dir: string) => boolean,
): { file: string; error?: string } {
  const r = spawnSync('bash', [join(repo, 'scripts/fetch-dpdk-src.sh'), what], { encoding: 'utf8' });
  const [file, dir] = (r.stdout.trim().split('\n').at(-1) ?? '').split(' ');
  if (r.status !== 0 || !file || !dir || !top(dir))
    return { file: '', error: `scripts/fetch-dpdk-src.sh ${what} failed (${r.status}): ${r.stderr.trim()}` };
  return { file };
}
