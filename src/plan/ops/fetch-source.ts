/**
 * The shared building block for a source tarball on a host: put it in the host's checksum-named cache
 * (downloaded there with curl or wget, or pushed from the control machine), verify its sha256 on the
 * host before it is renamed into the cache, and unpack it into its directory without ever leaving a
 * half-unpacked tree under that name.
 *
 *   const t: Tarball = { origin: { url }, sha256, label: 'DPDK 20.11.10 source',
 *                        cachePath: tarballCachePath(CACHE_DIR, sha256, 'dpdk-20.11.10.tar.xz') };
 *   tarballCached(t, facts.files)            // the probe found it: plan no fetch
 *   fetchTarballSteps(t, CACHE_DIR)           // download to <cache>.part, verify, rename into place
 *   unpackTarballSteps({ tarball: t.cachePath, sha256, dir: '/opt/x/src/dpdk-stable-20.11.10',
 *                        top: 'dpdk-stable-20.11.10' })
 *
 * Idempotent twice over: a planner that probes the cache (`tarballCached`: the file is there) plans no
 * fetch for a cached tarball, and `ifCached: 'skip'` checks the cache again on the host when the steps
 * run, for a planner that does not probe it. An unpacked tree carries UNPACK_MARKER (the tarball's
 * sha256), so `unpacked` tells a current tree from a stale one.
 *
 * Verified on entry and on use, not on every plan: the cache is content-addressed (a file's name is
 * its sha256) and a tarball enters it only through a verified `.part` and a rename, so the probe only
 * checks that it is there (`present`: no plan hashes a 14 MB tarball, 37 ms of CPU for DPDK's). Every
 * step that reads a cached tarball verifies it first (`verifyCachedCommand`): a damaged one is
 * removed and named, and the next plan fetches it again.
 */
import type { FileFacts } from '../../facts/types.js';
import { raw, sh } from '../../transport/quote.js';
import type { Step } from '../change.js';

/** Where a tarball comes from, resolved: downloaded on the host, or pushed from the control machine. */
export type TarballOrigin = { url: string } | { localPath: string };

export interface Tarball {
  origin: TarballOrigin;
  sha256: string;
  /** Where the verified tarball sits on the host (tarballCachePath). */
  cachePath: string;
  /** For messages: "DPDK 20.11.10 source". */
  label: string;
}

/** Marker written into an unpacked tree: the sha256 of the tarball it came from. */
export const UNPACK_MARKER = '.dpvs-deploy-source.sha256';

/** A download may take long on a slow mirror. */
export const DOWNLOAD_TIMEOUT_MS = 30 * 60_000;

/** The archive extension of a file name ("tar.xz"), `fallback` when it has none of the known ones. */
export function tarballExt(name: string, fallback = 'tar'): string {
  const m = /\.(tar\.gz|tgz|tar\.xz|txz|tar\.bz2|tbz2|tar)$/.exec(name);
  return m ? (m[1] as string) : fallback;
}

/** The cache file of a tarball: named by its checksum, its extension kept (tar picks the decompressor). */
export function tarballCachePath(
  cacheDir: string,
  sha256: string,
  name: string,
  fallbackExt = 'tar',
): string {
  return `${cacheDir}/${sha256}.${tarballExt(name, fallbackExt)}`;
}

/** Did the probe find the tarball in the cache (and, where it also hashed it, with the right checksum)? */
export function tarballCached(
  t: Pick<Tarball, 'cachePath' | 'sha256'>,
  files: Record<string, FileFacts>,
): boolean {
  const f = files[t.cachePath];
  return f?.exists === true && (f.sha256 === null || f.sha256 === t.sha256);
}

/** Host-side check of a file against a checksum; removes the file and fails with both sums on mismatch. */
export function verifySha256Command(file: string, sha256: string, what: string): string {
  return sh`got=$(sha256sum < ${file} | cut -d' ' -f1); if [ "$got" != ${sha256} ]; then rm -f ${file}; printf '%s\n' ${`sha256 mismatch for ${what}: `}"got $got, expected "${sha256} >&2; exit 1; fi`;
}

/**
 * Before a step reads a cached tarball: its sha256 again. A damaged one is removed, and the step fails
 * saying so (the next plan fetches it again).
 */
export function verifyCachedCommand(file: string, sha256: string, label: string): string {
  return verifySha256Command(
    file,
    sha256,
    `the cached ${label} ${file} (removed; apply again to fetch it again)`,
  );
}

/** True on the host when the cache holds the tarball with the right checksum. */
function cachedCheck(t: Tarball): string {
  return sh`[ -f ${t.cachePath} ] && [ "$(sha256sum < ${t.cachePath} | cut -d' ' -f1)" = ${t.sha256} ]`;
}

export interface FetchOptions {
  /**
   * 'skip': check the cache on the host when the steps run and download nothing when it holds the
   * tarball (for a planner that does not probe the cache; a pushed file is always pushed, the engine
   * checks it against the planned sha256 first); default: the planner decided (tarballCached).
   */
  ifCached?: 'skip';
}

/**
 * The steps that put the verified tarball at t.cachePath: download (curl, else wget) or push to
 * <cachePath>.part, check its sha256 on the host, rename it into place. A failed download or a wrong
 * checksum leaves no file behind and fails with the URL, the exit code or both sums.
 */
export function fetchTarballSteps(t: Tarball, cacheDir: string, o: FetchOptions = {}): Step[] {
  const part = `${t.cachePath}.part`;
  const guard = (command: string): string =>
    o.ifCached === 'skip' ? `{ ${cachedCheck(t)}; } || { ${command}; }` : command;
  const what = `${t.label} (${'url' in t.origin ? t.origin.url : t.origin.localPath})`;
  const verifyAndKeep = `${verifySha256Command(part, t.sha256, what)} && ${sh`mv -f ${part} ${t.cachePath}`}`;
  if ('url' in t.origin) {
    const url = t.origin.url;
    return [
      {
        kind: 'exec',
        timeoutMs: DOWNLOAD_TIMEOUT_MS,
        command: guard(
          sh`mkdir -p ${cacheDir} && rm -f ${part} && ` +
            sh`if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o ${part} -- ${url}; ` +
            sh`elif command -v wget >/dev/null 2>&1; then wget -q -O ${part} -- ${url}; ` +
            sh`else printf '%s\n' ${`neither curl nor wget on this host to download ${url}`} >&2; exit 1; fi || ` +
            sh`{ rc=$?; rm -f ${part}; printf '%s\n' ${`download of ${t.label} from ${url} failed`}" (exit $rc)" >&2; exit 1; }`,
        ),
      },
      { kind: 'exec', command: guard(verifyAndKeep) },
    ];
  }
  return [
    { kind: 'exec', command: sh`mkdir -p ${cacheDir}` },
    { kind: 'upload', localPath: t.origin.localPath, path: part, sha256: t.sha256, mode: 0o644 },
    { kind: 'exec', command: verifyAndKeep },
  ];
}

/** "download X from URL on the host, verify sha256 …, cache as PATH" / "push X from PATH, …". */
export function fetchSummary(t: Tarball): string {
  const how =
    'url' in t.origin
      ? `download ${t.label} from ${t.origin.url} on the host`
      : `push ${t.label} from ${t.origin.localPath}`;
  return `${how}, verify sha256 ${t.sha256.slice(0, 12)}…, cache as ${t.cachePath}`;
}

export interface Unpack {
  /** The cached tarball. */
  tarball: string;
  /** Its sha256: verified before it is unpacked, and written into the tree as UNPACK_MARKER. */
  sha256: string;
  /** For messages: "DPDK 20.11.10 source". */
  label?: string;
  /** The tree's directory on the host (versioned: it names what is in it). */
  dir: string;
  /**
   * The tarball's one top directory (dpdk-stable-20.11.10): checked, and its content becomes `dir`;
   * absent: the first path component is stripped, whatever its name.
   */
  top?: string;
}

/**
 * The step that unpacks a tarball into `dir`: into a sibling `<dir>.unpack` first, the marker written
 * there, then renamed over `dir`. A failed unpack leaves the previous tree (or none) under `dir`, never
 * a partial one.
 */
export function unpackTarballSteps(u: Unpack): Step[] {
  const tmp = `${u.dir}.unpack`;
  const parent = u.dir.slice(0, u.dir.lastIndexOf('/')) || '/';
  const src = u.top !== undefined ? `${tmp}/${u.top}` : tmp;
  const extract =
    u.top !== undefined
      ? sh`tar -xf ${u.tarball} -C ${tmp} && ` +
        sh`{ [ -d ${src} ] || { rm -rf ${tmp}; printf '%s\n' ${`${u.tarball} did not unpack to ${u.top}/`} >&2; exit 1; }; }`
      : sh`tar -xf ${u.tarball} -C ${tmp} --strip-components=1`;
  return [
    {
      kind: 'exec',
      command:
        `${verifyCachedCommand(u.tarball, u.sha256, u.label ?? 'tarball')} && ` +
        sh`rm -rf ${tmp} && mkdir -p ${parent} ${tmp} && ${raw(extract)} && ` +
        sh`printf '%s\n' ${u.sha256} > ${`${src}/${UNPACK_MARKER}`} && rm -rf ${u.dir} && mv ${src} ${u.dir} && rm -rf ${tmp}`,
    },
  ];
}

/** Is `dir` unpacked from the tarball with this sha256 (its marker, as the probe read it)? */
export function unpacked(dir: string, sha256: string, files: Record<string, FileFacts>): boolean {
  return files[`${dir}/${UNPACK_MARKER}`]?.content?.trim() === sha256;
}
