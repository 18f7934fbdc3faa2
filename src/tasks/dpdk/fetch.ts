/**
 * Fetch + verify + cache + unpack a source tarball from the inventory's `source` (url or control-side
 * file): the planner over the shared block src/plan/ops/fetch-source.ts, for the DPDK, DPVS (patch
 * series), dpdk-kmods and TOA sources.
 *
 *   const f = planFetch({ source: host.dpdk.source, name: 'dpdk-20.11.10.tar.xz', label: 'DPDK 20.11.10',
 *                         inv: ctx.inventory.dir, facts: ctx.facts,
 *                         unpackTo: '/opt/x/src', topDir: 'dpdk-stable-20.11.10' });
 *   f.steps   // [] when the cache already holds the tarball (and the tree is unpacked)
 *
 * URL sources are downloaded ON THE HOST (curl, else wget) to <CACHE_DIR>/<sha256>.<ext>.part, checked
 * with sha256sum and renamed into place only when the checksum matches. `file` sources are pushed from
 * the control machine (upload step; the engine checks the local file against the planned checksum) and
 * checked again on the host. The probe checks that the cached file is there (ask for `fetchProbePresence`);
 * a missing one is fetched again, a damaged one is found, removed and named by the step that reads it.
 */
import type { Facts } from '../../facts/types.js';
import type { Step } from '../../plan/change.js';
import {
  fetchSummary,
  fetchTarballSteps,
  tarballCachePath,
  tarballCached,
  tarballExt,
  unpackTarballSteps,
  unpacked,
  UNPACK_MARKER,
  type Tarball,
  type TarballOrigin,
} from '../../plan/ops/fetch-source.js';
import { CACHE_DIR } from '../../desired/layout.js';
import { failStep } from './fail.js';
import { localFile, type ControlSide } from '../../inventory/control.js';

export type FetchSource = { url: string; sha256: string } | { file: string; sha256?: string };

export interface FetchRequest {
  source: FetchSource;
  /** file name the tarball goes by (its extension is kept in the cache): dpdk-20.11.10.tar.xz */
  name: string;
  /** for messages: "DPDK 20.11.10 source" */
  label: string;
  inv: ControlSide;
  facts: Facts;
  /** unpack into this directory; the tarball's top directory lands inside it */
  unpackTo?: string;
  /** the tarball's top directory (required with unpackTo) */
  topDir?: string;
}

export interface FetchPlan {
  /** checksum the tarball must have (null when a local file cannot be read) */
  sha256: string | null;
  /** where the verified tarball sits on the host */
  cachePath: string | null;
  /** the cache lacks the tarball (or holds a damaged one) */
  needsFetch: boolean;
  needsUnpack: boolean;
  /** fetch/verify steps (empty when cached) */
  fetchSteps: Step[];
  /** unpack steps (empty when unpacked or no unpackTo) */
  unpackSteps: Step[];
  /** human summary of what fetchSteps do */
  summary: string;
  /** set when the source cannot be used; fetchSteps then hold one failing step with it */
  error?: string;
}

export { UNPACK_MARKER, tarballExt };

export function cachePathFor(sha256: string, name: string): string {
  return tarballCachePath(CACHE_DIR, sha256, name);
}

/** The checksum a source has: the inventory's, or the local file's. */
export function sourceSha256(source: FetchSource, inv: ControlSide): string | null {
  if ('url' in source) return source.sha256;
  if (source.sha256) return source.sha256;
  const f = localFile(inv, source.file);
  return f.ok ? f.sha256 : null;
}

/**
 * What the probe must read for a fetch: whether the cached tarball is there (`present`: a stat, none
 * of its bytes). The cache is content-addressed and verified when a tarball enters it; every step
 * that reads it verifies it again (src/plan/ops/fetch-source.ts), so no plan hashes it.
 */
export function fetchProbePresence(source: FetchSource, name: string, inv: ControlSide): string[] {
  const sha = sourceSha256(source, inv);
  return sha ? [cachePathFor(sha, name)] : [];
}

export function planFetch(r: FetchRequest): FetchPlan {
  const sha = sourceSha256(r.source, r.inv);
  const fail = (error: string): FetchPlan => ({
    sha256: null,
    cachePath: null,
    needsFetch: true,
    needsUnpack: false,
    fetchSteps: [failStep(error)],
    unpackSteps: [],
    summary: `${r.label}: ${error}`,
    error,
  });
  let origin: TarballOrigin;
  if ('file' in r.source) {
    const f = localFile(r.inv, r.source.file);
    if (!f.ok) return fail(`${r.label}: ${f.path}: ${f.reason} (on the control machine)`);
    if (r.source.sha256 && f.sha256 !== r.source.sha256)
      return fail(
        `sha256 mismatch for ${r.label} ${f.path}: got ${f.sha256}, expected ${r.source.sha256} (inventory)`,
      );
    origin = { localPath: f.path };
  } else origin = { url: r.source.url };
  if (!sha) return fail(`${r.label}: no checksum`);
  const t: Tarball = { origin, sha256: sha, cachePath: cachePathFor(sha, r.name), label: r.label };
  const needsFetch = !tarballCached(t, r.facts.files);
  const fetchSteps = needsFetch ? fetchTarballSteps(t, CACHE_DIR) : [];
  const summary = needsFetch ? fetchSummary(t) : `${r.label}: ${r.name} cached as ${t.cachePath}`;

  let unpackSteps: Step[] = [];
  let needsUnpack = false;
  if (r.unpackTo) {
    const top = r.topDir ?? '';
    const dir = `${r.unpackTo}/${top}`;
    needsUnpack = needsFetch || !unpacked(dir, sha, r.facts.files);
    if (needsUnpack)
      unpackSteps = unpackTarballSteps({ tarball: t.cachePath, sha256: sha, dir, top, label: r.label });
  }
  return { sha256: sha, cachePath: t.cachePath, needsFetch, needsUnpack, fetchSteps, unpackSteps, summary };
}
