/**
 * What one balancer's DPDK is made of, derived from the inventory (pure): the version pairing, the
 * on-host layout, the sources (DPDK tarball, DPVS tarball for its patch series, the user's patches),
 * the CPU target and the userspace driver. The dpdk-source, dpdk-build, kmods and nic-binding tasks
 * all read this one description.
 */
import { isBalancer } from '../../inventory/roles.js';
import type { ResolvedHost } from '../../inventory/types.js';
import { bindDriver, kniEnabled, type BindDriver } from '../../desired/settings.js';
import { lookupPairing, type VersionPairing } from '../../versions.js';
import { CACHE_DIR, dpdkLayout, type DpdkLayout } from '../../desired/layout.js';
import type { FetchSource } from './fetch.js';
import { localFile, type ControlSide } from '../../inventory/control.js';

export interface UserPatch {
  /** as written in the inventory */
  rel: string;
  /** absolute path on the control machine */
  abs: string;
  /** null when the file cannot be read on the control machine */
  sha256: string | null;
  problem?: string;
  /** where the patch is pushed on the host */
  hostPath: string | null;
}

export interface DpdkSpec {
  pairing: VersionPairing;
  dpvsVersion: string;
  version: string;
  layout: DpdkLayout;
  /** the unpacked DPDK tree after the switch (RTE_SDK for 18.11) */
  tree: string;
  devbind: string;
  dpdkSource: FetchSource | null;
  dpvsSource: FetchSource | null;
  /** set when DPVS comes from git (its patch series is then not reachable here) */
  dpvsGit: boolean;
  patches: UserPatch[];
  /** -march for the build: host.dpdk.march, default native */
  march: string;
  driver: BindDriver;
  /** rte_kni is built and loaded (DPVS 1.8/1.9 with kni on) */
  rteKni: boolean;
  /** vhost_net is loaded (DPVS 1.10 with kni on) */
  vhostNet: boolean;
  /** igb_uio.ko comes from the DPDK build (18.11) */
  igbUioFromBuild: boolean;
  /** the dpdk-kmods source (dpdk.kmods): igb_uio for DPDK 20.11+, compiled by the DPDK build with kbuild */
  kmodsSource: FetchSource | null;
  /** igb_uio.ko is compiled from dpdk.kmods by the DPDK build (20.11+, driver igb_uio, dpdk.kmods set) */
  igbUioFromKmods: boolean;
  /** igb_uio's module parameters (dpdk.igb_uio) */
  igbUioParams: { intr_mode?: 'msix' | 'msi' | 'legacy'; wc_activate?: boolean };
  /** dpdk.meson_options: the user's -Dkey=value options for meson setup, in inventory order */
  mesonOptions: string[];
}

export const PATCH_CACHE = `${CACHE_DIR}/patches`;

/** null when the host is not a balancer or its versions do not pair (validation reports that). */
export function dpdkSpec(host: ResolvedHost, inv: ControlSide): DpdkSpec | null {
  if (!isBalancer(host)) return null;
  const p = lookupPairing(host.dpvs?.version, host.dpdk?.version);
  if (!p.ok) return null;
  const pairing = p.pairing;
  const layout = dpdkLayout(pairing.dpdkVersion, host.dpdk?.build_dir);
  const tree = `${layout.srcParent}/${pairing.tarballTopDir}`;
  const src = host.dpvs?.source;
  const patches: UserPatch[] = (host.dpdk?.patches ?? []).map((rel) => {
    const f = localFile(inv, rel);
    return f.ok
      ? { rel, abs: f.path, sha256: f.sha256, hostPath: `${PATCH_CACHE}/${f.sha256}.patch` }
      : { rel, abs: f.path, sha256: null, hostPath: null, problem: `${f.path}: ${f.reason}` };
  });
  const kni = kniEnabled(host);
  const driver = bindDriver(host);
  return {
    pairing,
    dpvsVersion: p.dpvsVersion,
    version: pairing.dpdkVersion,
    layout,
    tree,
    devbind: `${tree}/usertools/dpdk-devbind.py`,
    dpdkSource: asFetch(host.dpdk?.source),
    dpvsSource: asFetch(src),
    dpvsGit: !!src && 'git' in src,
    patches,
    march: host.dpdk?.march ?? 'native',
    driver,
    rteKni: kni && pairing.kni === 'rte_kni',
    vhostNet: kni && pairing.kni === 'virtio-user',
    igbUioFromBuild: driver === 'igb_uio' && pairing.igbUioSource === 'dpdk',
    kmodsSource: host.dpdk?.kmods ?? null,
    igbUioFromKmods: driver === 'igb_uio' && pairing.igbUioSource === 'dpdk-kmods' && !!host.dpdk?.kmods,
    igbUioParams: host.dpdk?.igb_uio ?? {},
    mesonOptions: host.dpdk?.meson_options ?? [],
  };
}

function asFetch(s: NonNullable<ResolvedHost['dpdk']>['source']): FetchSource | null {
  if (!s || 'git' in s) return null;
  return s;
}

export function dpvsTarballName(spec: DpdkSpec): string {
  const s = spec.dpvsSource;
  const fromUrl = s && 'url' in s ? /[^/?#]+$/.exec(s.url)?.[0] : s && 'file' in s ? s.file : undefined;
  return fromUrl && /\.(tar(\.gz|\.xz|\.bz2)?|tgz|txz)$/.test(fromUrl)
    ? (fromUrl.split('/').pop() as string)
    : `dpvs-${spec.dpvsVersion}.tar.gz`;
}

/** The file name the dpdk-kmods tarball goes by (its extension is kept in the host's cache). */
export function kmodsTarballName(spec: DpdkSpec): string {
  const s = spec.kmodsSource;
  const base = s ? (/[^/?#]+$/.exec('url' in s ? s.url : s.file)?.[0] ?? '') : '';
  return /\.(tar(\.gz|\.xz|\.bz2)?|tgz|txz)$/.test(base) ? base : 'dpdk-kmods.tar.gz';
}

/**
 * The kernel the DPDK build compiles its kernel modules for: `-Dkernel_dir=<dir>` in dpdk.meson_options
 * (meson reads the headers from <dir>/build, e.g. /lib/modules/<release>, the way a build host builds
 * rte_kni for its fleet's kernel), else null: the running kernel (/lib/modules/$(uname -r)).
 */
export function kmodKernelDir(spec: DpdkSpec): string | null {
  if (spec.pairing.buildSystem !== 'meson') return null;
  let dir: string | null = null;
  for (const o of spec.mesonOptions) {
    const m = /^-Dkernel_dir=(.+)$/.exec(o);
    if (m) dir = (m[1] as string).replace(/\/+$/, '') || '/';
  }
  return dir;
}

/** The kernel release a kernel_dir of the form /lib/modules/<release> names (null: another form). */
export function kernelDirRelease(dir: string): string | null {
  return /^\/lib\/modules\/([^/]+)$/.exec(dir)?.[1] ?? null;
}

/** Kernel modules the DPDK build leaves in kmodDir, for this host. */
export function builtModules(spec: DpdkSpec): string[] {
  const out: string[] = [];
  if (spec.igbUioFromBuild || spec.igbUioFromKmods) out.push('igb_uio');
  if (spec.rteKni) out.push('rte_kni');
  return out;
}
