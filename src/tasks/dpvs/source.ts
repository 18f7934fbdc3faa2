/**
 * DPVS source: where it comes from and the steps that put an unpacked tree on the host.
 *
 * - `{url, sha256}`: downloaded on the host into the checksum-named cache, verified before use.
 * - `{file, sha256?}`: pushed from the control machine (air-gapped); without a sha256 in the inventory,
 *   the file is hashed on the control machine when planning, and apply refuses it if it changed.
 * - `{git, ref}`: shallow clone of the ref on the host.
 * - none: upstream git, tag v<version>.
 *
 * The DPDK tasks' shared fetch planner can replace `fetchAndUnpackSteps` once it lands; the contract is
 * "steps that leave the source tree, top directory stripped, in `tree`".
 */
import { localFile, localPath as localPathOf, type ControlSide } from '../../inventory/control.js';
import type { SourceSpec } from '../../inventory/schema.js';
import type { Step } from '../../plan/change.js';
import { raw, sh } from '../../transport/quote.js';
import { CACHE_DIR } from '../../desired/layout.js';
import { DpvsPlanError } from './settings.js';
import type { z } from 'zod';

export type DpvsSource = z.infer<typeof SourceSpec>;
export const UPSTREAM_GIT = 'https://github.com/iqiyi/dpvs.git';

export type ResolvedSource =
  | { kind: 'url'; url: string; sha256: string; cachePath: string }
  | { kind: 'file'; localPath: string; sha256: string; cachePath: string }
  | { kind: 'git'; url: string; ref: string };

/** sha256 of a control-machine file as read at load; a planning error when it could not be read. */
export function localFileSha256(inv: ControlSide, rel: string): { localPath: string; sha256: string } {
  const f = localFile(inv, rel);
  if (!f.ok) throw new DpvsPlanError(`dpvs.source.file ${f.path}: ${f.reason}`);
  return { localPath: f.path, sha256: f.sha256 };
}

function archiveExt(name: string): string {
  const m = /\.(tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2|tar)$/.exec(name);
  return m ? `.${m[1] as string}` : '.tar.gz';
}

export function resolveSource(
  spec: DpvsSource | undefined,
  version: string,
  inv: ControlSide,
): ResolvedSource {
  if (!spec) return { kind: 'git', url: UPSTREAM_GIT, ref: `v${version}` };
  if ('url' in spec) {
    return {
      kind: 'url',
      url: spec.url,
      sha256: spec.sha256,
      cachePath: `${CACHE_DIR}/${spec.sha256}${archiveExt(spec.url.split('?')[0] ?? '')}`,
    };
  }
  if ('file' in spec) {
    const localPath = localPathOf(inv, spec.file);
    const sha256 = spec.sha256 ?? localFileSha256(inv, spec.file).sha256;
    return { kind: 'file', localPath, sha256, cachePath: `${CACHE_DIR}/${sha256}${archiveExt(spec.file)}` };
  }
  return { kind: 'git', url: spec.git, ref: spec.ref };
}

/** What identifies the source's content in the release id and the build stamp. */
export function sourceIdentity(s: ResolvedSource): string {
  return s.kind === 'git' ? `git:${s.url}#${s.ref}` : `sha256:${s.sha256}`;
}

function verifyCached(file: string, sha256: string): string {
  return sh`[ -f ${file} ] && [ "$(sha256sum < ${file} | cut -d' ' -f1)" = ${sha256} ]`;
}

/** Steps that leave the source tree (top directory stripped) in `tree`. */
export function fetchAndUnpackSteps(s: ResolvedSource, tree: string): Step[] {
  const fresh = sh`rm -rf ${tree} && mkdir -p ${tree}`;
  if (s.kind === 'git') {
    return [
      {
        kind: 'exec',
        command: `${fresh} && ${sh`git clone -q --depth 1 --branch ${s.ref} -- ${s.url} ${tree}`}`,
        timeoutMs: 1_800_000,
      },
    ];
  }
  const unpack: Step = {
    kind: 'exec',
    command: `${fresh} && ${sh`tar -xf ${s.cachePath} -C ${tree} --strip-components=1`}`,
  };
  if (s.kind === 'file') {
    return [
      { kind: 'exec', command: sh`mkdir -p ${CACHE_DIR}` },
      { kind: 'upload', localPath: s.localPath, path: s.cachePath, sha256: s.sha256, mode: 0o644 },
      unpack,
    ];
  }
  const part = `${s.cachePath}.part`;
  const download =
    sh`mkdir -p ${CACHE_DIR} && if ! { ${raw(verifyCached(s.cachePath, s.sha256))}; }; then ` +
    sh`if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o ${part} -- ${s.url}; ` +
    sh`else wget -q -O ${part} -- ${s.url}; fi || { rm -f ${part}; exit 1; }; ` +
    sh`got=$(sha256sum < ${part} | cut -d' ' -f1); if [ "$got" != ${s.sha256} ]; then ` +
    sh`echo ${`${s.url}: sha256 `}"$got"${`, the inventory says ${s.sha256}`} >&2; rm -f ${part}; exit 1; fi; ` +
    sh`mv -f ${part} ${s.cachePath}; fi`;
  return [{ kind: 'exec', command: download, timeoutMs: 1_800_000 }, unpack];
}
