/**
 * Is a kernel build tree usable? The check DPDK 20.11's kernel/linux/meson.build makes before it builds
 * kernel modules: `make -sC <kernel_dir>/build kernelversion` (DPDK 20.11 kernel/linux/meson.build).
 * The tree is <kernel_dir>/build when dpdk.meson_options names -Dkernel_dir, else the running kernel's
 * /lib/modules/<release>/build. Run only where the tree exists; stderr is kept (make's message).
 *
 *   { state: 'ok' } | { state: 'absent' } | { state: 'nomake' } | { state: 'fail', message: 'make: *** ...' }
 */
import { z } from 'zod';
import { kernelPath } from '../types.js';
import { factReader } from '../read.js';

export const KBUILD_KEY = 'dpdk-build-kbuild';
/** What the probe records when the tree does not exist (make never prints this alone). */
const ABSENT = { code: 2, stdout: 'absent' };

/** The build tree the modules are built against: <kernelDir>/build, else the running kernel's. */
export function kbuildTree(kernelDir: string | null): string {
  return kernelDir === null ? kernelPath('/lib/modules/', '/build') : `${kernelDir}/build`;
}

export const kbuildSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('ok') }),
  z.object({ state: z.literal('absent') }),
  z.object({ state: z.literal('nomake') }),
  /** make's first line of output, '' when it printed nothing */
  z.object({ state: z.literal('fail'), message: z.string() }),
  /** not probed (no kernel modules are built) */
  z.object({ state: z.literal('unknown') }),
]);
export type Kbuild = z.infer<typeof kbuildSchema>;

export const kbuild = factReader<Kbuild, string | null>({
  name: 'kernel build tree (make -sC <tree> kernelversion)',
  keys: [KBUILD_KEY],
  schema: kbuildSchema,
  request: (kernelDir) => {
    const tree = kbuildTree(kernelDir);
    return {
      execs: {
        [KBUILD_KEY]: { argv: ['make', '-sC', tree, 'kernelversion'], onlyIf: tree, otherwise: ABSENT },
      },
    };
  },
  parse: (raw) => {
    const o = raw(KBUILD_KEY);
    if (!o) return { state: 'unknown' };
    if (o.code === ABSENT.code && o.stdout === ABSENT.stdout) return { state: 'absent' };
    if (o.code === 127 && o.stdout === '') return { state: 'nomake' };
    if (o.code === 0) return { state: 'ok' };
    return { state: 'fail', message: o.stdout.split('\n')[0]?.trim() ?? '' };
  },
});
