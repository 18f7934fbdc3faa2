/**
 * The DPVS patch series as a DPDK build input: one hash over the names and contents of the files in
 * <patchDir> (patch/<dpdk top dir>) of the DPVS tarball, so a DPVS release or tarball that changes anything but
 * that series does not rebuild DPDK.
 *
 * The same shell text computes it wherever the tarball is readable: on the control machine for a
 * `file` source (run locally when planning, memoised by path, size and mtime), on the host for a `url`
 * source once the tarball is in the host's cache (the typed read src/facts/reads/dpvs-series.ts). Where neither can
 * see the tarball yet (a new URL not downloaded), the series is not known when planning and the DPVS
 * tarball's own checksum stands in for it (`tarball:<sha256>`): that plan rebuilds DPDK.
 *
 * On the host the hash is computed once per cached tarball and recorded next to it (seriesMemoPath;
 * the tarball's name is its sha256, so the record never goes stale): by the step that fetches the
 * tarball, or, for a tarball cached before the record existed, by a change of its own that plan shows.
 * Later probes read the record's one line instead of reading the whole tarball again.
 */
import type { Facts, ProbeRequest } from '../../facts/types.js';
import { dpvsSeries, SERIES_SCRIPT, seriesMemoPath } from '../../facts/reads/dpvs-series.js';
import { sh } from '../../transport/quote.js';
import { cachePathFor, sourceSha256 } from './fetch.js';
import { localFile, localSeries, type ControlSide } from '../../inventory/control.js';
import { dpvsTarballName, type DpdkSpec } from './spec.js';

export { SERIES_SCRIPT };

/** The probe's read for a url source (the tarball in the host's cache); {} for a file source. */
export function seriesRequest(spec: DpdkSpec, inv: ControlSide): ProbeRequest {
  const t = seriesOnHost(spec, inv);
  return t ? dpvsSeries.request(t) : {};
}

/**
 * The stamp's value for the series: its hash where the tarball is readable (control machine or the
 * host's cache), else `tarball:<sha256 of the DPVS tarball>` (or `none`).
 */
export function seriesId(spec: DpdkSpec, facts: Facts, inv: ControlSide): string {
  const s = spec.dpvsSource;
  if (!s) return 'none';
  let hash = '';
  if ('file' in s) {
    const f = localFile(inv, s.file);
    if (f.ok) hash = localSeries(inv, f.path, spec.pairing.patchDir);
  } else {
    hash = dpvsSeries.read(facts).hash ?? '';
  }
  if (/^[0-9a-f]{64}$/.test(hash)) return hash;
  return `tarball:${sourceSha256(s, inv) ?? 'unreadable'}`;
}

/** The cached DPVS tarball of a url source, and its series' memo, on the host; null for a file source. */
export function seriesOnHost(
  spec: DpdkSpec,
  inv: ControlSide,
): { tarball: string; sha256: string; patchDir: string; memo: string } | null {
  const s = spec.dpvsSource;
  if (!s || !('url' in s)) return null;
  const sha = sourceSha256(s, inv);
  if (!sha) return null;
  const tarball = cachePathFor(sha, dpvsTarballName(spec));
  return {
    tarball,
    sha256: sha,
    patchDir: spec.pairing.patchDir,
    memo: seriesMemoPath(tarball, spec.pairing.patchDir),
  };
}

/**
 * Record the series of the cached tarball next to it: computed by the same script the probe runs,
 * written to a temporary file and renamed; nothing is written when the tarball has no such series.
 */
export function recordSeriesCommand(t: { tarball: string; patchDir: string; memo: string }): string {
  const tmp = `${t.memo}.tmp`;
  return (
    sh`h=$(sh -c ${SERIES_SCRIPT} sh ${t.tarball} ${t.patchDir}) || exit 1; ` +
    sh`if [ -n "$h" ]; then printf '%s\n' "$h" > ${tmp} && mv -f ${tmp} ${t.memo}; fi`
  );
}
