/**
 * What one real server's kernel modules are made of (pure, from the inventory): which of toa.ko and
 * uoa.ko it wants, with which parameters, from which DPVS source; and where they live on the host.
 *
 *   /opt/dpvs-deploy/rs-kmod/<kernel>/src/           the DPVS source tree the builder compiled
 *   /opt/dpvs-deploy/rs-kmod/<kernel>/<m>.ko         the built module (builder) or the received copy
 *   /opt/dpvs-deploy/rs-kmod/<kernel>/<m>.ko.sha256  its checksum (sha256sum format)
 *   /opt/dpvs-deploy/rs-kmod/<kernel>/<m>.stamp      inputs of that build (kernel, arch, source)
 *   /lib/modules/<kernel>/extra/<m>.ko               the installed copy modprobe loads (depmod)
 *   /etc/modules-load.d/dpvs-deploy-<m>.conf         load at boot
 *   /etc/modprobe.d/dpvs-deploy-<m>.conf             `options <m> k=v` (when parameters are set)
 *   /var/lib/dpvs-deploy/state/rs-kmod-<m>.loaded    "<sha256> <kernel>" of the file last loaded
 */
import type { ControlSide } from '../../inventory/control.js';
import { isRealserver } from '../../inventory/roles.js';
import { createHash } from 'node:crypto';
import type { Facts } from '../../facts/types.js';
import type { ResolvedHost } from '../../inventory/types.js';
import { DEFAULT_DPVS_VERSION } from '../../versions.js';
import { sourceSha256, type FetchSource } from '../dpdk/fetch.js';
import { STATE_DIR } from '../../desired/layout.js';

export type KmodName = 'toa' | 'uoa';
export const KMODS: readonly KmodName[] = ['toa', 'uoa'];

export const RS_KMOD_ROOT = '/opt/dpvs-deploy/rs-kmod';

export interface KmodSource {
  /** what identifies the source's content in the stamp */
  identity: string;
  /** url/file tarball (fetched through the shared fetch planner), or null for git */
  tarball: FetchSource | null;
  /** file name the tarball goes by (cache extension) */
  tarballName: string;
  git: { url: string; ref: string } | null;
  /** set when the source cannot be used (unreadable local file) */
  problem?: string;
}

export interface KmodSpec {
  dpvsVersion: string;
  modules: KmodName[];
  /** uoa parameters, name -> value as the kernel prints it */
  params: Record<KmodName, Record<string, string>>;
  source: KmodSource;
  replaceLoaded: boolean;
}

const UPSTREAM_GIT = 'https://github.com/iqiyi/dpvs.git';

function tarballName(src: FetchSource, version: string): string {
  const from = 'url' in src ? /[^/?#]+$/.exec(src.url.split('?')[0] ?? '')?.[0] : src.file.split('/').pop();
  return from && /\.(tar(\.gz|\.xz|\.bz2)?|tgz|txz)$/.test(from) ? from : `dpvs-${version}.tar.gz`;
}

export function kmodSource(host: ResolvedHost, inv: ControlSide): KmodSource {
  const version = host.dpvs?.version ?? DEFAULT_DPVS_VERSION;
  const s = host.dpvs?.source;
  if (!s || 'git' in s) {
    const git = s ? { url: s.git, ref: s.ref } : { url: UPSTREAM_GIT, ref: `v${version}` };
    return { identity: `git:${git.url}#${git.ref}`, tarball: null, tarballName: '', git };
  }
  const sha = sourceSha256(s, inv);
  const name = tarballName(s, version);
  if (!sha) {
    return {
      identity: 'unreadable',
      tarball: s,
      tarballName: name,
      git: null,
      problem: `dpvs.source.file ${'file' in s ? s.file : ''} cannot be read on the control machine`,
    };
  }
  return { identity: `sha256:${sha}`, tarball: s, tarballName: name, git: null };
}

/** null when the host is not a real server or wants neither module. */
export function kmodSpec(host: ResolvedHost, inv: ControlSide): KmodSpec | null {
  if (!isRealserver(host)) return null;
  const rs = host.realserver ?? {};
  const modules: KmodName[] = [];
  if (rs.toa ?? true) modules.push('toa');
  if (rs.uoa ?? false) modules.push('uoa');
  if (!modules.length) return null;
  const uoa: Record<string, string> = {};
  for (const [k, v] of Object.entries(rs.uoa_params ?? {}).sort(([a], [b]) => a.localeCompare(b)))
    if (v !== undefined) uoa[k] = String(v);
  return {
    dpvsVersion: host.dpvs?.version ?? DEFAULT_DPVS_VERSION,
    modules,
    params: { toa: {}, uoa },
    source: kmodSource(host, inv),
    replaceLoaded: rs.replace_loaded ?? false,
  };
}

export interface KmodPaths {
  root: string;
  src: string;
  built: string;
  builtSha: string;
  stamp: string;
  installed: string;
  loadConf: string;
  optionsConf: string;
  loadedState: string;
}

export function kmodPaths(kernel: string, m: KmodName): KmodPaths {
  const root = `${RS_KMOD_ROOT}/${kernel}`;
  return {
    root,
    src: `${root}/src`,
    built: `${root}/${m}.ko`,
    builtSha: `${root}/${m}.ko.sha256`,
    stamp: `${root}/${m}.stamp`,
    installed: `/lib/modules/${kernel}/extra/${m}.ko`,
    loadConf: `/etc/modules-load.d/dpvs-deploy-${m}.conf`,
    optionsConf: `/etc/modprobe.d/dpvs-deploy-${m}.conf`,
    loadedState: `${STATE_DIR}/rs-kmod-${m}.loaded`,
  };
}

/** Inputs of one module build: a rebuild is due when any of them changes. */
export function expectedStamp(spec: KmodSpec, facts: Facts, m: KmodName): string {
  return [
    `# dpvs-deploy: inputs of ${m}.ko in this directory`,
    `module=${m}`,
    `kernel=${facts.kernel.release} ${facts.kernel.machine}`,
    `source=${spec.source.identity}`,
    '',
  ].join('\n');
}

export function stampId(stamp: string): string {
  return createHash('sha256').update(stamp).digest('hex').slice(0, 16);
}

export function loadConf(m: KmodName): string {
  return `# managed by dpvs-deploy: load ${m} at boot\n${m}\n`;
}

/** modprobe.d content for the module's parameters, null when it has none. */
export function optionsConf(spec: KmodSpec, m: KmodName): string | null {
  const p = Object.entries(spec.params[m]);
  if (!p.length) return null;
  return `# managed by dpvs-deploy: ${m} parameters\noptions ${m} ${p.map(([k, v]) => `${k}=${v}`).join(' ')}\n`;
}
