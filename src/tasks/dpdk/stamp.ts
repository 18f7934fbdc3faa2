/**
 * The build stamp: every input of a DPDK build, one per line, recorded on the host next to the build
 * (layout.stamp) after it succeeded. A build is skipped when the stamp the inventory and facts call for
 * equals the recorded one; hosts whose stamps are equal build identical artifacts (build once, copy).
 *
 * The last line, the compiler, is written on the host by the build itself from `gcc --version`, the
 * same command the probe runs (the compiler read, src/facts/reads/compiler.ts), so the planned stamp and the written one agree even
 * when the compiler was installed in the same run.
 */
import type { ControlSide } from '../../inventory/control.js';
import { createHash } from 'node:crypto';
import type { Facts } from '../../facts/types.js';
import { sourceSha256 } from './fetch.js';
import { seriesId } from './series.js';
import { builtModules, kmodKernelDir, type DpdkSpec } from './spec.js';

import { COMPILER_ARGV, COMPILER_KEY, compiler } from '../../facts/reads/compiler.js';
/** the raw reading's key (tests) */
export const COMPILER_OUTPUT = COMPILER_KEY;
export { COMPILER_ARGV };
/** Read-only: the compiler's first --version line. */
export const COMPILER_COMMAND = 'LC_ALL=C gcc --version 2>/dev/null | head -n 1';

/** make-era machine names (mk/machine/<name>) for common -march values. */
const MAKE_MACHINES: Record<string, string> = {
  native: 'native',
  default: 'default',
  'x86-64': 'default',
  corei7: 'default',
  nehalem: 'nhm',
  westmere: 'wsm',
  sandybridge: 'snb',
  ivybridge: 'ivb',
  haswell: 'hsw',
  'corei7-avx': 'snb',
  'core-avx-i': 'ivb',
  'core-avx2': 'hsw',
};

/** The 18.11 make target for a -march (T=x86_64-<machine>-linuxapp-gcc), null when 18.11 has none. */
export function makeTarget(march: string): string | null {
  const m = MAKE_MACHINES[march];
  return m ? `x86_64-${m}-linuxapp-gcc` : null;
}

/** How the CPU target reaches the build system. */
export function marchOptions(spec: DpdkSpec): string[] {
  if (spec.pairing.buildSystem === 'make') return [`T=${makeTarget(spec.march) ?? '(none)'}`];
  return spec.pairing.dpdkVersion.startsWith('20.')
    ? [`-Dmachine=${spec.march}`]
    : [`-Dcpu_instruction_set=${spec.march}`];
}

/** Build-system options beyond the CPU target. */
export function buildOptions(spec: DpdkSpec): string[] {
  if (spec.pairing.buildSystem === 'make') {
    return [
      `CONFIG_RTE_EAL_IGB_UIO=${spec.igbUioFromBuild ? 'y' : 'n'}`,
      `CONFIG_RTE_KNI_KMOD=${spec.rteKni ? 'y' : 'n'}`,
    ];
  }
  return [
    ...spec.pairing.mesonOptions.map((o) =>
      o === '-Denable_kmods=true' && !spec.rteKni ? '-Denable_kmods=false' : o,
    ),
    ...spec.mesonOptions,
  ];
}

export function compilerLine(facts: Facts): string {
  return compiler.read(facts).line;
}

/**
 * The stamp lines that come from the inventory alone: the DPDK tarball, the user's patches, the build
 * options, the prefix, the kernel modules built and the dpdk-kmods source they come from. Pure on the inventory, so the DPVS release id
 * (dpvs/release.ts) carries them: a DPDK rebuild for any of these rebuilds DPVS, whose static link
 * pulls in DPDK's libraries.
 */
export function inventoryStampLines(spec: DpdkSpec, inv: ControlSide): string[] {
  const sum = (s: DpdkSpec['dpdkSource']): string => (s ? (sourceSha256(s, inv) ?? 'unreadable') : 'none');
  return [
    `dpdk=${spec.version} ${sum(spec.dpdkSource)}`,
    ...spec.patches.map((p) => `patch=${p.sha256 ?? 'missing'} ${p.rel}`),
    `build=${spec.pairing.buildSystem} ${[...marchOptions(spec), ...buildOptions(spec)].join(' ')}`,
    `prefix=${spec.layout.root}`,
    `kmods=${builtModules(spec).join(',') || 'none'}`,
    ...(spec.igbUioFromKmods && spec.kmodsSource ? [`dpdk-kmods=${sum(spec.kmodsSource)}`] : []),
  ];
}

/**
 * The id of the inventory's part of the DPDK build (inventoryStampLines), for the DPVS release id. The
 * stamp's other lines are left out on purpose: the host's OS, kernel and CPU (the probe must know the
 * DPVS release's path before facts exist; the DPVS build target key groups by them), the DPVS patch
 * series (a function of the DPVS source, already in the release id) and the compiler (written by the
 * host itself: a fresh host that gets gcc in the same run would otherwise plan a second DPVS build).
 */
export function dpdkInputsId(spec: DpdkSpec, inv: ControlSide): string {
  return stampId(inventoryStampLines(spec, inv).join('\n'));
}

/**
 * Every stamp line but the two the build writes on the host itself: the DPVS patch series (series.ts;
 * not the whole DPVS tarball, so a DPVS-only change does not rebuild DPDK) and the compiler.
 */
export function stampHead(spec: DpdkSpec, facts: Facts, inv: ControlSide): string[] {
  const lines = [
    '# dpvs-deploy: inputs of the DPDK build in this directory',
    ...inventoryStampLines(spec, inv),
    `os=${facts.os.id} ${facts.os.versionId}`,
    // the kernel only matters to a build that compiles kernel modules (rte_kni, igb_uio), and then it is
    // the kernel they are built for (-Dkernel_dir, else the running one): userspace builds of hosts on
    // different kernels are the same build (one builds, the others copy), and so are module builds for
    // the same kernel_dir
    builtModules(spec).length
      ? `kernel=${kmodKernelDir(spec) ?? facts.kernel.release} ${facts.kernel.machine}`
      : `machine=${facts.kernel.machine}`,
  ];
  if (spec.march === 'native') lines.push(`cpu=${[...facts.cpu.flags].sort().join(' ')}`);
  return lines;
}

/** The series line's key; its value is series.ts's seriesId, then the patch directory. */
export const SERIES_KEY = 'dpvs-patches';

export function expectedStamp(spec: DpdkSpec, facts: Facts, inv: ControlSide): string {
  return [
    ...stampHead(spec, facts, inv),
    `${SERIES_KEY}=${seriesId(spec, facts, inv)} ${spec.pairing.patchDir}`,
    `compiler=${compilerLine(facts)}`,
    '',
  ].join('\n');
}

export function stampId(stamp: string): string {
  return createHash('sha256').update(stamp).digest('hex').slice(0, 16);
}
