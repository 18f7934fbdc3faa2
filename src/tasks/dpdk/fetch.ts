/**
 * Fetch + verify + cache + unpack a source tarball: the shared planner for DPDK and DPVS sources.
 *
 *   const f = planFetch({ source: host.dpdk.source, name: 'dpdk-20.11.10.tar.xz', label: 'DPDK 20.11.10',
 *                         inv: ctx.inventory.dir, facts: ctx.facts,
 *                         unpackTo: '/opt/x/src', topDir: 'dpdk-stable-20.11.10' });
 *   f.steps   // [] when the cache already holds the tarball (and the tree is unpacked)
 *
 * URL sources are downloaded ON THE HOST (curl, else wget) to <CACHE_DIR>/<sha256>.<ext>.part, checked
 * with sha256sum and renamed into place only when the checksum matches. `file` sources are pushed from
 * the control machine (upload step; the engine checks the local file against the planned checksum) and
 * checked again on the host. The probe reads the cached file's sha256 (ask for `fetchProbeFiles`), so
 * a cached tarball that is missing or damaged is fetched again.
 */
import type { Facts } from '../../facts/types.js';
import type { Step } from '../../plan/change.js';
import { sh } from '../../transport/quote.js';
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

/** Marker written into an unpacked tree: the sha256 of the tarball it came from. */
export const UNPACK_MARKER = '.dpvs-deploy-source.sha256';

export function tarballExt(name: string): string {
  const m = /\.(tar\.gz|tar\.xz|tar\.bz2|tgz|txz|tar)$/.exec(name);
  return m ? (m[1] as string) : 'tar';
}

export function cachePathFor(sha256: string, name: string): string {
  return `${CACHE_DIR}/${sha256}.${tarballExt(name)}`;
}

/** The checksum a source has: the inventory's, or the local file's. */
export function sourceSha256(source: FetchSource, inv: ControlSide): string | null {
  if ('url' in source) return source.sha256;
  if (source.sha256) return source.sha256;
  const f = localFile(inv, source.file);
  return f.ok ? f.sha256 : null;
}

/** Files the probe must read for a fetch: the cached tarball and the unpack marker. */
export function fetchProbeFiles(
  source: FetchSource,
  name: string,
  inv: ControlSide,
  unpack?: { unpackTo: string; topDir: string },
): string[] {
  const sha = sourceSha256(source, inv);
  const out: string[] = [];
  if (sha) out.push(cachePathFor(sha, name));
  if (unpack) out.push(`${unpack.unpackTo}/${unpack.topDir}/${UNPACK_MARKER}`);
  return out;
}

/** Host-side check of a file against a checksum; removes the file and fails with both sums on mismatch. */
function verifyCommand(file: string, sha256: string, what: string): string {
  return sh`got=$(sha256sum < ${file} | cut -d' ' -f1); if [ "$got" != ${sha256} ]; then rm -f ${file}; printf '%s\n' ${`sha256 mismatch for ${what}: `}"got $got, expected "${sha256} >&2; exit 1; fi`;
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
  let local: { path: string; sha256: string } | null = null;
  if ('file' in r.source) {
    const f = localFile(r.inv, r.source.file);
    if (!f.ok) return fail(`${r.label}: ${f.path}: ${f.reason} (on the control machine)`);
    if (r.source.sha256 && f.sha256 !== r.source.sha256)
      return fail(
        `sha256 mismatch for ${r.label} ${f.path}: got ${f.sha256}, expected ${r.source.sha256} (inventory)`,
      );
    local = { path: f.path, sha256: f.sha256 };
  }
  if (!sha) return fail(`${r.label}: no checksum`);
  const cache = cachePathFor(sha, r.name);
  const part = `${cache}.part`;
  const cached = r.facts.files[cache];
  const needsFetch = !(cached?.exists && cached.sha256 === sha);

  const fetchSteps: Step[] = [];
  let summary = `${r.label}: ${r.name} cached as ${cache}`;
  if (needsFetch) {
    if ('url' in r.source) {
      const url = r.source.url;
      fetchSteps.push({
        kind: 'exec',
        timeoutMs: 30 * 60_000,
        command:
          sh`mkdir -p ${CACHE_DIR} && rm -f ${part} && ` +
          sh`if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o ${part} -- ${url}; ` +
          sh`elif command -v wget >/dev/null 2>&1; then wget -q -O ${part} -- ${url}; ` +
          sh`else printf '%s\n' ${`neither curl nor wget on this host to download ${url}`} >&2; exit 1; fi || ` +
          sh`{ rc=$?; rm -f ${part}; printf '%s\n' ${`download of ${r.label} from ${url} failed`}" (exit $rc)" >&2; exit 1; }`,
      });
      summary = `download ${r.label} from ${url} on the host, verify sha256 ${sha.slice(0, 12)}…, cache as ${cache}`;
      fetchSteps.push({
        kind: 'exec',
        command: `${verifyCommand(part, sha, `${r.label} (${url})`)} && ${sh`mv -f ${part} ${cache}`}`,
      });
    } else {
      const l = local as { path: string; sha256: string };
      fetchSteps.push({ kind: 'exec', command: sh`mkdir -p ${CACHE_DIR}` });
      fetchSteps.push({ kind: 'upload', localPath: l.path, path: part, sha256: l.sha256, mode: 0o644 });
      fetchSteps.push({
        kind: 'exec',
        command: `${verifyCommand(part, sha, `${r.label} (${l.path})`)} && ${sh`mv -f ${part} ${cache}`}`,
      });
      summary = `push ${r.label} from ${l.path}, verify sha256 ${sha.slice(0, 12)}…, cache as ${cache}`;
    }
  }

  const unpackSteps: Step[] = [];
  let needsUnpack = false;
  if (r.unpackTo) {
    const top = r.topDir ?? '';
    const tree = `${r.unpackTo}/${top}`;
    const marker = `${tree}/${UNPACK_MARKER}`;
    needsUnpack = needsFetch || r.facts.files[marker]?.content?.trim() !== sha;
    if (needsUnpack)
      unpackSteps.push({
        kind: 'exec',
        command:
          sh`rm -rf ${tree} && mkdir -p ${r.unpackTo} && tar -xf ${cache} -C ${r.unpackTo} && ` +
          sh`{ [ -d ${tree} ] || { printf '%s\n' ${`${r.name} did not unpack to ${top}/`} >&2; exit 1; }; } && ` +
          sh`printf '%s\n' ${sha} > ${marker}`,
      });
  }
  return { sha256: sha, cachePath: cache, needsFetch, needsUnpack, fetchSteps, unpackSteps, summary };
}
