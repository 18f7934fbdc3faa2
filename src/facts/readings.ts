/**
 * The typed readings of a host's facts, by name: each reader's parsed value from the raw readings the
 * probe returned (facts.outputs), as the plan fingerprint takes them (src/plan/fingerprint.ts). The
 * typed values hold what the host is configured as (the DPVS release `current` points to, the LB
 * services, the built modules' hashes, ...) and none of the live counters the commands also print
 * (dpip -s addr show's sa_used/sa_free/sa_miss and valid_lft, ipvsadm -ln's ActiveConn/InActConn,
 * ipvsadm -G's CONFLICTS/CONNS: test/fixtures/upstream/dpip.yaml, ipvsadm.yaml), so a re-probe of an
 * unchanged host reads the same.
 *
 *   typedReadings(facts, FACT_READERS)
 *   // { 'dpvs-releases': { current: '/opt/dpvs/releases/1.9.8-3f2a9c1e', releases: [...] },
 *   //   'kmods-extra': { '/lib/modules/6.1.0-18-amd64/extra/rte_kni.ko': '7ec7...' }, ... }
 *
 * A reader is read when the probe returned every one of its keys; one whose keys a larger reader of the
 * set reads as well is left to that one. A reading no reader of the set claims goes in as it is, under
 * `raw:<key>` (nothing is dropped unseen); one that does not parse goes in raw under the reader's name.
 */
import { FactError, type FactReader, type ReaderFacts } from './read.js';
import type { RawOutput } from './types.js';
import { acpiTables, bootFirmware } from './reads/boot-firmware.js';
import { compiler } from './reads/compiler.js';
import { dpvsReleases } from './reads/dpvs-releases.js';
import { dpvsSeries } from './reads/dpvs-series.js';
import { driverOverrides } from './reads/driver-overrides.js';
import { extraModuleHashes, rsModuleHashes } from './reads/file-hashes.js';
import { installedKernels } from './reads/installed-kernels.js';
import { isolatedCpus } from './reads/isolated-cpus.js';
import { kbuild } from './reads/kbuild.js';
import { kniAddresses } from './reads/kni-address.js';
import { nrOpen } from './reads/nr-open.js';
import { pkgConfigVersion } from './reads/pkg-config.js';
import { tcpSynRecv } from './reads/tcp-syn-recv.js';

/** A reader whatever its value and argument: what the readings need of it. */
export type AnyReader = Pick<FactReader<unknown>, 'keys' | 'parse'>;
/** Readers by the name their reading goes under. */
export type ReaderSet = Readonly<Record<string, AnyReader>>;

/** The readers of src/facts/reads (the live LB state's reader is src/lb/current.ts's lbState). */
export const FACT_READERS = {
  'boot-firmware': bootFirmware,
  'acpi-tables': acpiTables,
  compiler,
  'dpvs-releases': dpvsReleases,
  'dpvs-series': dpvsSeries,
  'driver-overrides': driverOverrides,
  'kmods-extra': extraModuleHashes,
  'rs-kmod': rsModuleHashes,
  'installed-kernels': installedKernels,
  'isolated-cpus': isolatedCpus,
  kbuild,
  'kni-addresses': kniAddresses,
  'nr-open': nrOpen,
  'pkg-config': pkgConfigVersion,
  'tcp-syn-recv': tcpSynRecv,
} satisfies ReaderSet;

const RAW = 'raw:';

export function typedReadings(facts: ReaderFacts, readers: ReaderSet): Record<string, unknown> {
  const outputs = facts.outputs;
  const read = Object.entries(readers).filter(([, r]) => r.keys.every((k) => outputs[k] !== undefined));
  const covered = (r: AnyReader, by: AnyReader): boolean =>
    by !== r && by.keys.length > r.keys.length && r.keys.every((k) => by.keys.includes(k));
  const kept = read.filter(([, r]) => !read.some(([, s]) => covered(r, s)));

  const out: Record<string, unknown> = {};
  const claimed = new Set<string>();
  for (const [name, r] of kept) {
    for (const k of r.keys) claimed.add(k);
    try {
      out[name] = r.parse((k) => outputs[k], facts.hostname);
    } catch (e) {
      if (!(e instanceof FactError)) throw e;
      out[name] = { unparsed: Object.fromEntries(r.keys.map((k) => [k, outputs[k] as RawOutput])) };
    }
  }
  for (const [k, o] of Object.entries(outputs)) if (!claimed.has(k)) out[`${RAW}${k}`] = o;
  return out;
}
