/**
 * BUILD-008: a kernel module the DPDK build compiles does not build against the kernel it is built for
 * (the running kernel, or the one `-Dkernel_dir=/lib/modules/<release>` in dpdk.meson_options names),
 * known before the build from the module's source at its release and the kernel's version:
 *
 * - rte_kni of DPDK 20.11 (DPVS 1.9's KNI) calls strlcpy() unconditionally in its ethtool hook
 *   (v20.11.10:kernel/linux/kni/kni_net.c:835-836); Linux 6.8 removed strlcpy() (kernel commit
 *   d26270061ae6, "string: Remove strlcpy()", in v6.8-rc1), so the module stops with "implicit
 *   declaration of function 'strlcpy'" on 6.8 and later, as reported upstream for DPVS's own
 *   dpdk-build.sh on Ubuntu's 6.8.0-49 (iqiyi/dpvs issue #1008, "kernel 6.8 编译dpdk失败"). Its
 *   compat.h follows the kernel up to 6.5 (v20.11.10:kernel/linux/kni/compat.h:155) and builds on
 *   Debian 12's 6.1 (the VM tier builds and loads it, test/vm/06-realdpdk.test.ts).
 *
 * Only upstream's tree is judged: with dpdk.patches the user may carry a fix, and the check says nothing.
 * The samples and their sources: test/fixtures/upstream/kmods.yaml.
 */
import type { Facts } from '../../facts/types.js';
import type { ResolvedHost } from '../../inventory/types.js';
import { finding, type PreflightCheck } from '../check.js';
import {
  bindDriver,
  compareVersions,
  dpdkVersion,
  dpvsLine,
  formatVersion,
  isBalancer,
  kniEnabled,
  parseVersion,
  type Version,
} from '../../desired/settings.js';

export interface KmodKernelLimit {
  module: 'rte_kni' | 'igb_uio';
  /** the DPDK line whose module it is (major.minor) */
  dpdkLine: string;
  /** the first kernel (major.minor) it does not build on */
  fromKernel: string;
  /** why, with the source lines */
  cause: string;
  /** the way out, for the fix */
  wayOut: string;
}

/** The known limits (test/fixtures/upstream/kmods.yaml). */
export const KMOD_KERNEL_LIMITS: readonly KmodKernelLimit[] = [
  {
    module: 'rte_kni',
    dpdkLine: '20.11',
    fromKernel: '6.8',
    cause:
      'its kni_net.c calls strlcpy() (v20.11.10:kernel/linux/kni/kni_net.c:835), which Linux 6.8 removed',
    wayOut:
      'set dpvs.kni: false (DPVS runs without the KNI exception path), or build for a kernel before 6.8 (boot one, or -Dkernel_dir=/lib/modules/<release> in dpdk.meson_options), or move to DPVS 1.10 (DPDK 24.11, KNI through virtio-user and vhost_net)',
  },
];

/** The kernel release the DPDK build compiles its modules for: -Dkernel_dir=/lib/modules/<r>, else the running one. */
export function kmodKernelRelease(host: ResolvedHost, facts: Facts): string {
  let dir: string | null = null;
  for (const o of host.dpdk?.meson_options ?? []) {
    const m = /^-Dkernel_dir=(.+)$/.exec(o);
    if (m) dir = (m[1] as string).replace(/\/+$/, '');
  }
  const r = dir ? /^\/lib\/modules\/([^/]+)$/.exec(dir)?.[1] : undefined;
  return r ?? facts.kernel.release;
}

/** The modules the DPDK build compiles for this balancer (meson era: rte_kni for 1.9, igb_uio from dpdk-kmods). */
function dpdkBuiltModules(host: ResolvedHost): Array<'rte_kni' | 'igb_uio'> {
  const out: Array<'rte_kni' | 'igb_uio'> = [];
  if (!isBalancer(host)) return out;
  if (kniEnabled(host) && dpvsLine(host) === '1.9') out.push('rte_kni');
  if (bindDriver(host) === 'igb_uio' && host.dpdk?.kmods) out.push('igb_uio');
  return out;
}

const line = (v: Version): string => `${v.major}.${v.minor}`;

/** Each module of this host's DPDK build that does not build on its kernel, as the finding's text. */
export function kmodKernelProblems(host: ResolvedHost, facts: Facts): Array<{ found: string; fix: string }> {
  if ((host.dpdk?.patches ?? []).length) return [];
  const dpdk = dpdkVersion(host);
  const release = kmodKernelRelease(host, facts);
  const kernel = parseVersion(release);
  const out: Array<{ found: string; fix: string }> = [];
  for (const m of dpdkBuiltModules(host))
    for (const l of KMOD_KERNEL_LIMITS) {
      if (l.module !== m || l.dpdkLine !== line(dpdk)) continue;
      if (compareVersions(kernel, parseVersion(l.fromKernel)) < 0) continue;
      out.push({
        found: `${m} of DPDK ${formatVersion(dpdk)} does not build against kernel ${release} (${l.fromKernel} or later): ${l.cause}`,
        fix: l.wayOut,
      });
    }
  return out;
}

export const kmodKernel: PreflightCheck = {
  id: 'BUILD-008',
  title: 'a kernel module of the DPDK build does not build against this kernel',
  severity: 'error',
  howToFix:
    'Turn the module off (dpvs.kni: false for rte_kni; another dpdk.driver for igb_uio), build for a kernel it supports (-Dkernel_dir in dpdk.meson_options), or carry a fix in dpdk.patches.',
  protects:
    "DPDK 20.11's rte_kni calls strlcpy(), which Linux 6.8 removed: the DPDK build would stop minutes in, at the module.",
  run({ host, facts }) {
    const p = kmodKernelProblems(host, facts);
    if (!p.length) return null;
    return finding(
      p.map((x) => x.found).join('; '),
      'every kernel module of the DPDK build builds against the kernel it is built for',
      p.map((x) => x.fix).join('; '),
    );
  },
};
