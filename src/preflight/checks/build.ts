/** Build checks: kernel headers for module builds, pkg-config for DPDK 20.11+, disk space, version pairing. */
import type { Facts } from '../../facts/types.js';
import type { ResolvedHost } from '../../inventory/types.js';
import { finding, type PreflightCheck, listText } from '../check.js';
import {
  compareVersions,
  dpdkVersion,
  dpvsLine,
  dpvsVersion,
  formatVersion,
  isBalancer,
  isRealserver,
  parseVersion,
} from '../../desired/settings.js';
import { builtModules } from './kmod.js';
import { DEFAULT_BUILD_DIR } from '../../desired/layout.js';
import { toolchainChecks } from './toolchain.js';
import { kmodKernel } from './kmod-kernel.js';
import { installedKernels, KERNELS_KEY } from '../../facts/reads/installed-kernels.js';
import { PKG_CONFIG_KEY, pkgConfigVersion as pkgConfigRead } from '../../facts/reads/pkg-config.js';

/** the keys of the raw readings behind the typed reads it uses (tests build facts with them) */
export const OUT_PKG_CONFIG = PKG_CONFIG_KEY;
export const OUT_KERNELS = KERNELS_KEY;

export function headersPackage(facts: Facts): string {
  return facts.os.family === 'rhel'
    ? `kernel-devel-${facts.kernel.release}`
    : `linux-headers-${facts.kernel.release}`;
}

function kernelKey(release: string): number[] {
  return (release.match(/\d+/g) ?? []).map(Number);
}

/** Newest kernel under /lib/modules, when the probe listed them. */
export function newestInstalledKernel(facts: Facts): string | null {
  const all = installedKernels.read(facts);
  if (!all) return null;
  let best: string | null = null;
  for (const k of all) if (best === null || compareKernels(k, best) > 0) best = k;
  return best;
}

/** Orders kernel releases by their numeric parts (6.18.0 > 6.1.0-57-amd64); <0, 0 or >0. */
export function compareKernels(a: string, b: string): number {
  const x = kernelKey(a);
  const y = kernelKey(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const headersNoPackages: PreflightCheck = {
  id: 'BUILD-001',
  title: 'kernel headers missing for module builds',
  severity: 'error',
  howToFix: 'Install the running kernel’s headers package, or set packages: true.',
  protects:
    'igb_uio, rte_kni, toa and uoa are built against /lib/modules/$(uname -r)/build; without headers the build fails.',
  run({ host, facts }) {
    const mods = builtModules(host, true);
    if (mods.length === 0 || facts.kernel.headersInstalled || host.packages !== false) return null;
    return finding(
      `no /lib/modules/${facts.kernel.release}/build; modules to build: ${listText(mods)}; packages: false`,
      `headers of the running kernel ${facts.kernel.release} installed`,
      `install ${headersPackage(facts)} on the host, or set packages: true so dpvs-deploy installs it`,
    );
  },
};

export const headersAvailable: PreflightCheck = {
  id: 'BUILD-002',
  title: 'kernel headers missing; the plan installs them',
  severity: 'warning',
  howToFix:
    'None if the headers package is installable; after a kernel update, reboot into the new kernel first.',
  protects:
    'The headers package must match the running kernel exactly; after a kernel update without reboot the repositories often no longer carry it.',
  run({ host, facts }) {
    const mods = builtModules(host, true);
    if (mods.length === 0 || facts.kernel.headersInstalled || host.packages === false) return null;
    const newest = newestInstalledKernel(facts);
    // a reboot is pending only towards a newer kernel: never suggest booting an older one
    const pending = newest !== null && compareKernels(newest, facts.kernel.release) > 0;
    return finding(
      `no /lib/modules/${facts.kernel.release}/build; modules to build: ${listText(mods)}` +
        (pending ? `; a newer kernel ${newest} is installed (reboot pending)` : ''),
      `headers of the running kernel ${facts.kernel.release} (the plan installs ${headersPackage(facts)})`,
      pending
        ? `reboot into ${newest} before applying, so headers of the running kernel are installable`
        : `none needed if ${headersPackage(facts)} is in the host's repositories; otherwise install it by hand`,
    );
  },
};

export const MIN_PKG_CONFIG = '0.29.2';

export const pkgConfigVersion: PreflightCheck = {
  id: 'BUILD-003',
  title: 'pkg-config too old for DPDK 20.11+',
  severity: 'error',
  howToFix: 'Install pkg-config 0.29.2 (RPM or source) on CentOS 7.',
  protects:
    'DPVS 1.9+ finds DPDK through pkg-config; its Makefile rejects pkg-config older than 0.29.2 (CentOS 7 ships 0.27.1).',
  run({ host, facts }) {
    if (!isBalancer(host) || dpdkVersion(host).major < 20) return null;
    const installed = facts.commands['pkg-config'] ? pkgConfigRead.read(facts) : null;
    const isCentos7 = facts.os.id === 'centos' && facts.os.versionId.startsWith('7');
    if (installed === null) {
      // Missing: the packages task installs the distro's pkg-config, which is fine except on CentOS 7.
      if (!isCentos7) return null;
    } else if (compareVersions(parseVersion(installed), parseVersion(MIN_PKG_CONFIG)) >= 0) return null;
    return finding(
      installed === null
        ? `pkg-config not installed; ${facts.os.prettyName} packages 0.27.1`
        : `pkg-config ${installed}`,
      `pkg-config ≥ ${MIN_PKG_CONFIG}`,
      'install pkg-config 0.29.2 (upstream’s CentOS 7 Dockerfile uses the pkgconfig-0.29.2 RPM, or build it from pkg-config-0.29.2.tar.gz)',
    );
  },
};

/** MiB a balancer's DPDK + DPVS build needs, and a realserver's toa/uoa build. */
export const BUILD_DISK_MB = { balancer: 2048, realserver: 256 } as const;

export function buildDir(host: ResolvedHost): string {
  return host.dpdk?.build_dir ?? DEFAULT_BUILD_DIR;
}

export const diskSpace: PreflightCheck = {
  id: 'BUILD-004',
  title: 'not enough disk space for the builds',
  severity: 'error',
  howToFix: 'Free space at the build directory, or set dpdk.build_dir on a larger filesystem.',
  protects:
    'A DPDK + DPVS build needs about 2 GiB; a full disk fails it halfway and can fill the root filesystem.',
  run({ host, facts }) {
    const need = isBalancer(host)
      ? BUILD_DISK_MB.balancer
      : isRealserver(host)
        ? BUILD_DISK_MB.realserver
        : 0;
    if (need === 0) return null;
    if (isRealserver(host) && !isBalancer(host) && builtModules(host).length === 0) return null;
    const dir = buildDir(host);
    const free = facts.diskFreeMb[dir];
    if (free === undefined || free >= need) return null;
    return finding(
      `${free} MiB free at ${dir}`,
      `at least ${need} MiB free at ${dir}`,
      `free space on the filesystem of ${dir}, or point dpdk.build_dir at a larger one`,
    );
  },
};

export const versionPairing: PreflightCheck = {
  id: 'BUILD-005',
  title: 'DPDK version does not match the DPVS release',
  severity: 'error',
  howToFix: 'Use the DPDK release the DPVS line is built against (remove dpdk.version for the default).',
  protects:
    'Each DPVS line builds against one DPDK line (1.8 → 18.11, 1.9 → 20.11, 1.10 → 24.11; 1.10 panics on older DPDK) and its patch series.',
  run({ host }) {
    if (!isBalancer(host) || host.dpdk?.version === undefined) return null;
    const dpdk = dpdkVersion(host);
    const line = dpvsLine(host);
    const want: Record<string, (v: typeof dpdk) => boolean> = {
      '1.8': (v) => (v.major === 18 && v.minor === 11) || (v.major === 17 && v.minor === 11),
      '1.9': (v) => v.major === 20 && v.minor === 11,
      '1.10': (v) => compareVersions(v, parseVersion('24.11')) >= 0,
    };
    const wantText: Record<string, string> = {
      '1.8': '18.11.2 (or 17.11.x)',
      '1.9': '20.11.x (20.11.10 for 1.9.8+)',
      '1.10': '24.11 or later',
    };
    const ok = want[line];
    if (!ok || ok(dpdk)) return null;
    return finding(
      `DPVS ${formatVersion(dpvsVersion(host))} with DPDK ${host.dpdk.version}`,
      `DPDK ${wantText[line]}`,
      `set dpdk.version to ${wantText[line]}, or remove dpdk.version to use the release DPVS ${line} is built against`,
    );
  },
};

export const buildChecks: PreflightCheck[] = [
  headersNoPackages,
  headersAvailable,
  pkgConfigVersion,
  diskSpace,
  versionPairing,
  ...toolchainChecks,
  kmodKernel,
];
