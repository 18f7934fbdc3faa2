/**
 * What the host's compiler, OpenSSL and kernel make of the DPVS release's sources, known before a build:
 *
 * Both judge upstream's release sources only (upstreamSource): a tarball or another tree may carry fixes.
 *
 * - BUILD-006: DPVS builds with -Werror (v1.8.12:src/Makefile:50, v1.9.10:src/Makefile:51,
 *   v1.10.2:src/Makefile:51) and calls OpenSSL's MD5() in its synproxy (v1.8.12:src/ipvs/ip_vs_synproxy.c:191,
 *   v1.9.10:src/ipvs/ip_vs_synproxy.c:216, v1.10.2:src/ipvs/ip_vs_synproxy.c:216), which OpenSSL 3
 *   deprecates: "'MD5' is deprecated [-Werror=deprecated-declarations]" on every release. GCC 12+ stops
 *   1.9.6-1.9.10 with -Werror=array-bounds in src/ipvs/ip_vs_proxy_proto.c, where DPDK 20.11's rte_memcpy
 *   is inlined (v1.9.10:src/ipvs/ip_vs_proxy_proto.c:256). Both were seen building upstream's 1.9.10
 *   against the real DPDK 20.11.10 on Debian 12 (GCC 12.2, OpenSSL 3.0); the fix is dpvs.build_env
 *   (docs/operations.md, known issue).
 * - BUILD-007: DPVS's toa.ko calls the kernel's tcp_v4_syn_recv_sock with the 6 arguments of Linux 4.4.1+
 *   (v1.9.10:kmod/toa/toa.c:754). A kernel whose tcp_v4_syn_recv_sock takes another number stops the build
 *   ("too few arguments to function 'tcp_v4_syn_recv_sock'"): seen on Debian 12's 6.1.0-57-amd64, where
 *   a change of that signature was backported into the 6.1 stable series; uoa.ko does not call it and
 *   builds. Read from the kernel's own headers when they are installed (include/net/tcp.h), else
 *   predicted for the kernels it was seen on.
 */
import { compiler } from '../../facts/reads/compiler.js';
import { tcpSynRecv } from '../../facts/reads/tcp-syn-recv.js';
import type { Facts } from '../../facts/types.js';
import type { ResolvedHost } from '../../inventory/types.js';
import { DEFAULT_DPVS_VERSION } from '../../versions.js';
import { finding, type PreflightCheck } from '../check.js';
import {
  compareVersions,
  dpvsLine,
  dpvsVersion,
  formatVersion,
  isBalancer,
  isRealserver,
  parseVersion,
} from '../../desired/settings.js';

/** The OpenSSL headers DPVS compiles against; OPENSSL_VERSION_TEXT names the version. */
export const OPENSSL_HEADER = '/usr/include/openssl/opensslv.h';

/** The toolchain the OS family's packages install, for a host that has none yet (packages task). */
const DISTRO_TOOLCHAIN: Array<{
  ids: string[];
  version: string;
  gcc: string;
  openssl: string;
  name: string;
}> = [
  { ids: ['debian'], version: '11', gcc: '10.2', openssl: '1.1.1', name: 'Debian 11' },
  { ids: ['debian'], version: '12', gcc: '12.2', openssl: '3.0', name: 'Debian 12' },
  { ids: ['debian'], version: '13', gcc: '14.2', openssl: '3.5', name: 'Debian 13' },
  { ids: ['ubuntu'], version: '20.04', gcc: '9.4', openssl: '1.1.1', name: 'Ubuntu 20.04' },
  { ids: ['ubuntu'], version: '22.04', gcc: '11.4', openssl: '3.0', name: 'Ubuntu 22.04' },
  { ids: ['ubuntu'], version: '24.04', gcc: '13.3', openssl: '3.0', name: 'Ubuntu 24.04' },
  { ids: ['centos'], version: '7', gcc: '4.8.5', openssl: '1.0.2', name: 'CentOS 7' },
  {
    ids: ['rhel', 'rocky', 'almalinux', 'centos', 'ol'],
    version: '8',
    gcc: '8.5',
    openssl: '1.1.1',
    name: 'EL 8',
  },
  {
    ids: ['rhel', 'rocky', 'almalinux', 'centos', 'ol'],
    version: '9',
    gcc: '11.5',
    openssl: '3.0',
    name: 'EL 9',
  },
];

export interface Toolchain {
  gcc: string | null;
  openssl: string | null;
  /** where each value comes from: the host, or the distribution's packages (installed by the plan) */
  gccFrom: 'host' | 'distro' | null;
  opensslFrom: 'host' | 'distro' | null;
  distro: string | null;
}

export function toolchainOf(facts: Facts): Toolchain {
  const gcc = compiler.read(facts).version;
  const header = facts.files[OPENSSL_HEADER]?.content ?? '';
  const text = /^#\s*define\s+OPENSSL_VERSION_TEXT\s+"([^"]*)"/m.exec(header)?.[1] ?? '';
  const openssl = /^OpenSSL (\d+\.\d+\.\d+\w*)/.exec(text)?.[1] ?? null;
  const major = facts.os.versionId.split('.')[0] ?? '';
  const d =
    DISTRO_TOOLCHAIN.find((x) => x.ids.includes(facts.os.id) && x.version === facts.os.versionId) ??
    DISTRO_TOOLCHAIN.find((x) => x.ids.includes(facts.os.id) && x.version === major) ??
    null;
  return {
    gcc: gcc ?? d?.gcc ?? null,
    openssl: openssl ?? d?.openssl ?? null,
    gccFrom: gcc ? 'host' : d ? 'distro' : null,
    opensslFrom: openssl ? 'host' : d ? 'distro' : null,
    distro: d?.name ?? null,
  };
}

/**
 * The host builds upstream's release source: no dpvs.source (upstream's git tag v<version>), or a git
 * source at iqiyi/dpvs's tag of the version. Only for those is what the compiler makes of the tree known;
 * a tarball or another git tree may carry its own fixes (its build's failure still names the cause).
 */
export function upstreamSource(host: ResolvedHost): boolean {
  const s = host.dpvs?.source;
  if (!s) return true;
  if (!('git' in s)) return false;
  const version = host.dpvs?.version ?? DEFAULT_DPVS_VERSION;
  return /^(https?:\/\/|git@)github\.com[/:]iqiyi\/dpvs(\.git)?\/?$/.test(s.git) && s.ref === `v${version}`;
}

/** The CFLAGS tokens of dpvs.build_env. */
function cflags(host: ResolvedHost): string[] {
  return (host.dpvs?.build_env?.CFLAGS ?? '').split(/\s+/).filter(Boolean);
}

/** dpvs.build_env turns the warning off, or keeps it from being an error. */
function fixed(host: ResolvedHost, warning: string): boolean {
  const f = cflags(host);
  return f.includes('-Wno-error') || f.includes(`-Wno-error=${warning}`) || f.includes(`-Wno-${warning}`);
}

export const KNOWN_FIX_CFLAGS = '-Wno-error=array-bounds -Wno-error=deprecated-declarations';

export const compilerOpenssl: PreflightCheck = {
  id: 'BUILD-006',
  title: 'DPVS does not compile with this GCC or OpenSSL unless dpvs.build_env says so',
  severity: 'error',
  howToFix: `Set dpvs.build_env CFLAGS: ${KNOWN_FIX_CFLAGS} (docs/operations.md, known issue).`,
  protects:
    "DPVS builds with -Werror: OpenSSL 3 deprecates the MD5() its synproxy calls (every release), and GCC 12+ reports array-bounds in 1.9.6-1.9.10's proxy protocol code (DPDK 20.11's inlined rte_memcpy); the dpvs-build task would fail minutes into the build.",
  run({ host, facts }) {
    if (!isBalancer(host)) return null;
    const { problems } = toolchainProblems(host, facts);
    if (!problems.length) return null;
    const have = host.dpvs?.build_env?.CFLAGS;
    const v = dpvsVersion(host);
    return finding(
      `DPVS ${formatVersion(v)} with ${problems.join('; ')}` +
        (have ? `; dpvs.build_env CFLAGS is "${have}"` : ''),
      'a compiler and OpenSSL DPVS builds with, or dpvs.build_env that keeps their warnings from being errors',
      `set dpvs.build_env CFLAGS: ${have ? `${have} ` : ''}${KNOWN_FIX_CFLAGS} (docs/operations.md, known issue: both are warnings turned into errors, not miscompilations)`,
    );
  },
};

/**
 * What stops upstream's DPVS release from compiling with the host's (or its distribution's) GCC and
 * OpenSSL, and the CFLAGS that keep those warnings from being errors (empty when nothing does, or the
 * inventory carries the fix already, or the source is not upstream's).
 */
export function toolchainProblems(host: ResolvedHost, facts: Facts): { problems: string[]; flags: string[] } {
  const out = { problems: [] as string[], flags: [] as string[] };
  if (!upstreamSource(host)) return out;
  const t = toolchainOf(facts);
  const v = dpvsVersion(host);
  const from = (x: 'host' | 'distro' | null): string =>
    x === 'distro' ? ` (${t.distro}'s package, installed by the plan)` : '';
  const gccMajor = t.gcc ? parseVersion(t.gcc).major : 0;
  const proxyProto = dpvsLine(host) === '1.9' && compareVersions(v, parseVersion('1.9.6')) >= 0;
  if (proxyProto && gccMajor >= 12 && !fixed(host, 'array-bounds')) {
    out.problems.push(
      `GCC ${t.gcc}${from(t.gccFrom)}: -Werror=array-bounds in src/ipvs/ip_vs_proxy_proto.c (inlined rte_memcpy)`,
    );
    out.flags.push('-Wno-error=array-bounds');
  }
  if (t.openssl && parseVersion(t.openssl).major >= 3 && !fixed(host, 'deprecated-declarations')) {
    out.problems.push(
      `OpenSSL ${t.openssl}${from(t.opensslFrom)}: 'MD5' is deprecated in src/ipvs/ip_vs_synproxy.c (-Werror=deprecated-declarations)`,
    );
    out.flags.push('-Wno-error=deprecated-declarations');
  }
  return out;
}

/** Kernels where DPVS's toa.ko was seen not to build (the signature change backported): id → rule. */
function seenIncompatible(release: string): boolean {
  // Debian 12's 6.1 stable kernels: seen at ABI 6.1.0-57 (later ABIs of the series keep the backport)
  const m = /^6\.1\.0-(\d+)-/.exec(release);
  return m !== null && Number(m[1]) >= 57;
}

/** Top-level parameters of a C declaration `... name(a, b (*f)(c, d), e);` → 3. */
export function parameterCount(declaration: string): number | null {
  const i = declaration.indexOf('tcp_v4_syn_recv_sock(');
  if (i < 0) return null;
  let depth = 0;
  let n = 1;
  let any = false;
  for (const ch of declaration.slice(i + 'tcp_v4_syn_recv_sock('.length)) {
    if (ch === '(') depth++;
    else if (ch === ')') {
      if (depth === 0) return any ? n : 0;
      depth--;
    } else if (ch === ',' && depth === 0) n++;
    else if (!/\s/.test(ch)) any = true;
  }
  return null;
}

/** The 6 arguments toa.c passes on Linux 4.4.1+ (v1.9.10:kmod/toa/toa.c:754). */
export const TOA_SYN_RECV_ARGS = 6;

export const toaKernel: PreflightCheck = {
  id: 'BUILD-007',
  title: 'DPVS’s toa.ko does not build against this kernel',
  severity: 'error',
  howToFix:
    'Set realserver.toa: false (and realserver.uoa: true where UDP backends need the client address), or run a kernel whose tcp_v4_syn_recv_sock takes 6 arguments.',
  protects:
    "toa.c calls tcp_v4_syn_recv_sock with Linux 4.4.1's 6 arguments; a kernel with another signature (a change backported into Debian 12's 6.1 kernels) fails the real server's module build.",
  run({ host, facts }) {
    const found = toaProblem(host, facts);
    if (!found) return null;
    const r = facts.kernel.release;
    const uoa = host.realserver?.uoa === true;
    return finding(
      found,
      `a kernel whose tcp_v4_syn_recv_sock takes the ${TOA_SYN_RECV_ARGS} arguments toa.c passes`,
      `set realserver.toa: false on this host (TCP backends then see the balancer's local address, not the client's)` +
        (uoa
          ? '; uoa.ko builds on this kernel and stays'
          : '; uoa.ko (UDP, realserver.uoa: true) builds on this kernel') +
        `; or boot a kernel with the 6-argument signature, or patch kmod/toa/toa.c for ${r}'s signature in your DPVS source (dpvs.source)`,
    );
  },
};

/** Why upstream's toa.ko does not build on this host's kernel (null: it builds, or is not built). */
export function toaProblem(host: ResolvedHost, facts: Facts): string | null {
  if (!isRealserver(host) || host.realserver?.toa === false || !upstreamSource(host)) return null;
  const decl = tcpSynRecv.read(facts) ?? '';
  const n = decl ? parameterCount(decl) : null;
  const r = facts.kernel.release;
  if (n !== null)
    return n === TOA_SYN_RECV_ARGS
      ? null
      : `kernel ${r}'s tcp_v4_syn_recv_sock takes ${n} arguments (include/net/tcp.h); DPVS ${formatVersion(dpvsVersion(host))}'s toa.c passes ${TOA_SYN_RECV_ARGS}`;
  if (seenIncompatible(r))
    return `kernel ${r} (its headers not installed yet): Debian's 6.1.0-57 and later carry a backported tcp_v4_syn_recv_sock signature, and toa.c fails with "too few arguments to function 'tcp_v4_syn_recv_sock'"`;
  return null;
}

export const toolchainChecks: PreflightCheck[] = [compilerOpenssl, toaKernel];
