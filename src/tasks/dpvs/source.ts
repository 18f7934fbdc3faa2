/**
 * DPVS source: where it comes from and the steps that put an unpacked tree on the host.
 *
 * - `{url, sha256}`: downloaded on the host into the checksum-named cache, verified before use.
 * - `{file, sha256?}`: pushed from the control machine (air-gapped); without a sha256 in the inventory,
 *   the file is hashed on the control machine when planning, and apply refuses it if it changed.
 * - `{git, ref}`: shallow clone of the ref on the host.
 * - none: upstream git, tag v<version>.
 *
 * Tarballs go through the shared block src/plan/ops/fetch-source.ts (cache by checksum, verify on the
 * host, unpack beside the tree and rename); the contract of `fetchAndUnpackSteps` is "steps that leave
 * the source tree, top directory stripped, in `tree`".
 */
import { localFile, localPath as localPathOf, type ControlSide } from '../../inventory/control.js';
import type { SourceSpec } from '../../inventory/schema.js';
import type { Step } from '../../plan/change.js';
import { sh } from '../../transport/quote.js';
import { fetchTarballSteps, tarballCachePath, unpackTarballSteps } from '../../plan/ops/fetch-source.js';
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
      cachePath: tarballCachePath(CACHE_DIR, spec.sha256, spec.url.split('?')[0] ?? '', 'tar.gz'),
    };
  }
  if ('file' in spec) {
    const localPath = localPathOf(inv, spec.file);
    const sha256 = spec.sha256 ?? localFileSha256(inv, spec.file).sha256;
    return {
      kind: 'file',
      localPath,
      sha256,
      cachePath: tarballCachePath(CACHE_DIR, sha256, spec.file, 'tar.gz'),
    };
  }
  return { kind: 'git', url: spec.git, ref: spec.ref };
}

/** What identifies the source's content in the release id and the build stamp. */
export function sourceIdentity(s: ResolvedSource): string {
  return s.kind === 'git' ? `git:${s.url}#${s.ref}` : `sha256:${s.sha256}`;
}

/** Steps that leave the source tree (top directory stripped) in `tree`. */
export function fetchAndUnpackSteps(s: ResolvedSource, tree: string): Step[] {
  if (s.kind === 'git') {
    return [
      {
        kind: 'exec',
        command: `${sh`rm -rf ${tree} && mkdir -p ${tree}`} && ${sh`git clone -q --depth 1 --branch ${s.ref} -- ${s.url} ${tree}`}`,
        timeoutMs: 1_800_000,
      },
    ];
  }
  const t = {
    origin: s.kind === 'url' ? { url: s.url } : { localPath: s.localPath },
    sha256: s.sha256,
    cachePath: s.cachePath,
    label: 'the DPVS source',
  };
  // dpvs-build does not probe the cache: the host checks it when the steps run
  return [
    ...fetchTarballSteps(t, CACHE_DIR, { ifCached: 'skip' }),
    ...unpackTarballSteps({ tarball: s.cachePath, sha256: s.sha256, dir: tree, label: t.label }),
  ];
}
