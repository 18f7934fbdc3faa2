/**
 * packages: the build and run prerequisites, installed with the host's package manager (apt on the
 * Debian family, dnf/yum on the RHEL family), only those missing. Balancers get the DPDK/DPVS build
 * set; realservers the toa/uoa module build set. Kernel headers are for the running kernel
 * (linux-headers-<release> / kernel-devel-<release>) and asked for by the kernel fact (headersInstalled),
 * since the probe request is made before the kernel release is known. `packages: false` in the
 * inventory turns installing off.
 */
import { isBalancer, isRealserver } from '../inventory/roles.js';
import type { Facts } from '../facts/types.js';
import type { ResolvedHost } from '../inventory/types.js';
import type { Change } from '../plan/change.js';
import { sh } from '../transport/quote.js';
import { failStep } from './dpdk/fail.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

const TASK = 'packages';
type Family = 'debian' | 'rhel';

/**
 * Logical prerequisite → package name per family, with where the need comes from. "link line" is what
 * the real DPDK 20.11.10 build on Debian 12 put in its `libdpdk.pc` (`pkg-config --static --libs libdpdk`:
 * `... -lcrypto -ldbus-1 -lnuma -lpcap -lsystemd -lz`), which DPVS's Makefile links with; upstream
 * references are iqiyi/dpvs tag:path:line.
 */
const NAMES: Record<string, Record<Family, string>> = {
  // DPDK and DPVS compile C; DPVS's and keepalived's builds are make
  gcc: { debian: 'gcc', rhel: 'gcc' },
  make: { debian: 'make', rhel: 'make' },
  // DPVS's patch series and dpdk.patches (patch -p1)
  patch: { debian: 'patch', rhel: 'patch' },
  // DPVS 1.9+ finds DPDK with pkg-config (v1.9.10:README.md:182, "pkg-config (version 0.29.2+")
  pkgconfig: { debian: 'pkg-config', rhel: 'pkgconf-pkg-config' },
  // DPDK 20.11+ builds with meson/ninja; its buildtools need pyelftools (pmdinfogen)
  meson: { debian: 'meson', rhel: 'meson' },
  ninja: { debian: 'ninja-build', rhel: 'ninja-build' },
  pyelftools: { debian: 'python3-pyelftools', rhel: 'python3-pyelftools' },
  // link line -lnuma; dpip and ipvsadm link -lnuma too (v1.9.10:tools/dpip/Makefile:37,
  // v1.9.10:tools/ipvsadm/Makefile:86); README.md:182 "numactl"
  numa: { debian: 'libnuma-dev', rhel: 'numactl-devel' },
  // link line -lpcap (DPDK's pcap PMD)
  pcap: { debian: 'libpcap-dev', rhel: 'libpcap-devel' },
  // link line -lsystemd: the real libdpdk.pc links libpcap statically: libpcap.pc requires dbus-1, whose
  // Libs.private is -lsystemd, and neither libdbus-1-dev nor dbus-devel pulls the systemd library's
  // headers package ("ld: cannot find -lsystemd" without it)
  systemd: { debian: 'libsystemd-dev', rhel: 'systemd-devel' },
  // link line -lcrypto; DPVS's synproxy uses OpenSSL's MD5; keepalived needs it
  // (v1.9.10:tools/keepalived/INSTALL:27 openssl-devel, :53 libssl-dev)
  openssl: { debian: 'libssl-dev', rhel: 'openssl-devel' },
  // ipvsadm links -lpopt (v1.9.10:tools/ipvsadm/Makefile:79); README.md:182 "popt-devel"/"libpopt-dev"
  popt: { debian: 'libpopt-dev', rhel: 'popt-devel' },
  // keepalived (v1.9.10:tools/keepalived/INSTALL:27 libnl3-devel, :53 libnl-3-dev libnl-genl-3-dev)
  nl3: { debian: 'libnl-3-dev', rhel: 'libnl3-devel' },
  nlgenl3: { debian: 'libnl-genl-3-dev', rhel: 'libnl3-devel' },
  // DPVS's tools/Makefile always runs keepalived's build_setup (aclocal, autoheader, automake,
  // autoreconf) before ./configure (v1.9.10:tools/Makefile:33-41, tools/keepalived/build_setup:3-6);
  // keepalived's INSTALL asks for them "to build from git" (v1.9.10:tools/keepalived/INSTALL:25, :51)
  autoconf: { debian: 'autoconf', rhel: 'autoconf' },
  automake: { debian: 'automake', rhel: 'automake' },
  // fetching and unpacking sources, NIC and module handling
  curl: { debian: 'curl', rhel: 'curl' },
  pciutils: { debian: 'pciutils', rhel: 'pciutils' },
  kmod: { debian: 'kmod', rhel: 'kmod' },
  xz: { debian: 'xz-utils', rhel: 'xz' },
  tar: { debian: 'tar', rhel: 'tar' },
};

const BALANCER = Object.keys(NAMES);
const REALSERVER = ['gcc', 'make', 'kmod', 'curl', 'tar', 'xz'];

function familyOf(facts: Facts): Family | null {
  if (facts.os.family === 'debian' || facts.os.family === 'rhel') return facts.os.family;
  return null;
}

/** The packages a host needs on its OS family, without the kernel headers. */
export function requiredPackages(host: ResolvedHost, family: Family): string[] {
  const logical = new Set<string>();
  if (isBalancer(host)) BALANCER.forEach((x) => logical.add(x));
  if (isRealserver(host) && host.realserver?.toa !== false) REALSERVER.forEach((x) => logical.add(x));
  return [...new Set([...logical].map((l) => (NAMES[l] as Record<Family, string>)[family]))];
}

export function headersPackage(family: Family, release: string): string {
  return family === 'debian' ? `linux-headers-${release}` : `kernel-devel-${release}`;
}

export function installCommand(pm: Facts['os']['packageManager'], pkgs: string[]): string | null {
  switch (pm) {
    case 'apt':
      return sh`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs}`;
    case 'dnf':
      return sh`dnf install -y ${pkgs}`;
    case 'yum':
      return sh`yum install -y ${pkgs}`;
    default:
      return null;
  }
}

function allNames(): string[] {
  return [...new Set(Object.values(NAMES).flatMap((n) => [n.debian, n.rhel]))].sort();
}

export const packagesTask: Task = {
  name: TASK,
  probe(host) {
    if (!isBalancer(host) && !isRealserver(host)) return {};
    return { packages: allNames() };
  },

  plan(ctx: PlanContext): TaskPlan {
    const { host, facts } = ctx;
    if (host.packages === false) return { changes: [] };
    if (!isBalancer(host) && !isRealserver(host)) return { changes: [] };
    const family = familyOf(facts);
    const wanted = family ? requiredPackages(host, family) : [];
    const needsHeaders = isBalancer(host) || (isRealserver(host) && host.realserver?.toa !== false);
    const missing = wanted.filter((p) => !facts.packages[p]);
    if (family && needsHeaders && !facts.kernel.headersInstalled)
      missing.push(headersPackage(family, facts.kernel.release));
    if (family && !missing.length) return { changes: [] };
    const cmd = family ? installCommand(facts.os.packageManager, missing) : null;
    if (!cmd) {
      return {
        changes: [
          {
            id: `${TASK}/install`,
            task: TASK,
            summary: `cannot install prerequisites: unknown package manager on ${facts.os.prettyName || facts.os.id}`,
            action: 'run',
            steps: [
              failStep(
                `${facts.os.prettyName || facts.os.id}: no apt, dnf or yum; install the DPDK/DPVS prerequisites by hand (gcc, make, patch, pkg-config, meson, ninja, pyelftools, autoconf, automake, numactl/libpcap/systemd/openssl/popt/libnl3 development files, kernel headers for ${facts.kernel.release}) or set packages: false`,
              ),
            ],
          },
        ],
      };
    }
    const change: Change = {
      id: `${TASK}/install`,
      task: TASK,
      summary: `install ${missing.length} package(s) with ${facts.os.packageManager}: ${missing.join(' ')}`,
      action: 'create',
      after: missing.join('\n'),
      steps: [{ kind: 'exec', command: cmd, timeoutMs: 30 * 60_000 }],
    };
    const projected = structuredClone(facts);
    for (const p of missing) projected.packages[p] = projected.packages[p] ?? '(installed by this run)';
    if (needsHeaders) projected.kernel.headersInstalled = true;
    return { changes: [change], projected };
  },

  verify(ctx: PlanContext): string[] {
    const left = packagesTask.plan(ctx).changes;
    return left.map((c) => `still missing after install: ${c.after?.split('\n').join(' ') ?? c.summary}`);
  },
};
