/**
 * The DPVS patch series as a DPDK build input: one hash over the names and contents of the files in
 * <patchDir> (patch/<dpdk top dir>) of the DPVS tarball, so a DPVS release or tarball that changes anything but
 * that series does not rebuild DPDK.
 *
 * The same shell text computes it wherever the tarball is readable: on the control machine for a
 * `file` source (run locally when planning, memoised by path, size and mtime), on the host for a `url`
 * source once the tarball is in the host's cache (a probe output, SERIES_OUTPUT). Where neither can
 * see the tarball yet (a new URL not downloaded), the series is not known when planning and the DPVS
 * tarball's own checksum stands in for it (`tarball:<sha256>`): that plan rebuilds DPDK.
 */
import type { Facts } from '../../facts/types.js';
import { quote } from '../../transport/quote.js';
import { cachePathFor, sourceSha256 } from './fetch.js';
import { localFile, localSeries, type ControlSide } from '../../inventory/control.js';
import { dpvsTarballName, type DpdkSpec } from './spec.js';

export const SERIES_OUTPUT = 'dpdk-build-dpvs-series';

/**
 * `sh -c SERIES_SCRIPT sh TARBALL PATCHDIR` prints the series hash, or nothing when the tarball is
 * absent, unreadable or has no such series. Portable tar (-t, -xO; no GNU wildcards) and sha256sum.
 */
export const SERIES_SCRIPT = [
  't=$1; d=$2',
  '[ -r "$t" ] || exit 0',
  'names=$(tar -tf "$t" 2>/dev/null | grep -E "^[^/]+/$d/[^/]+$" | LC_ALL=C sort) || exit 0',
  '[ -n "$names" ] || exit 0',
  'printf \'%s\\n\' "$names" | while IFS= read -r n; do',
  '  printf \'%s %s\\n\' "${n##*/}" "$(tar -xOf "$t" "$n" | sha256sum | cut -d" " -f1)"',
  'done | sha256sum | cut -d" " -f1',
].join('\n');

/** The probe command for a url source (the tarball in the host's cache); null when not applicable. */
export function seriesProbeCommand(spec: DpdkSpec, inv: ControlSide): string | null {
  const s = spec.dpvsSource;
  if (!s || !('url' in s)) return null;
  const sha = sourceSha256(s, inv);
  if (!sha) return null;
  const t = cachePathFor(sha, dpvsTarballName(spec));
  return `sh -c ${quote(SERIES_SCRIPT)} sh ${quote(t)} ${quote(spec.pairing.patchDir)}`;
}

/** Probe outputs for a url source's series (none for a file source: read on the control machine). */
export function seriesOutputs(spec: DpdkSpec, inv: ControlSide): Record<string, string> {
  const c = seriesProbeCommand(spec, inv);
  return c ? { [SERIES_OUTPUT]: c } : {};
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
    hash = (facts.outputs[SERIES_OUTPUT]?.stdout ?? '').trim();
  }
  if (/^[0-9a-f]{64}$/.test(hash)) return hash;
  return `tarball:${sourceSha256(s, inv) ?? 'unreadable'}`;
}
