/**
 * What a real server has of its modules, for the running kernel (the paths hold RUNNING_KERNEL: the
 * probe fills in the release, which the request cannot know in advance):
 *  - the build stamp next to each built module (a probed file, its content);
 *  - sha256 of the built and the installed .ko (the typed rsModuleHashes read: hashed by the probe's one
 *    sha256sum with its other files);
 *  - /proc/net/toa_stats, /proc/net/uoa_stats (probed files: present while the module is loaded);
 * plus the module facts and the files the task manages.
 */
import { type Facts, RUNNING_KERNEL, type ProbeRequest } from '../../facts/types.js';
import { rsModuleHashes } from '../../facts/reads/file-hashes.js';
import { KMODS, kmodPaths, type KmodName } from './spec.js';

/** The stats file a loaded module creates. */
export function statsFile(m: KmodName): string {
  return `/proc/net/${m}_stats`;
}

/** What observe() needs the probe to read. */
export function observedRequest(): ProbeRequest {
  const paths = KMODS.map((m) => kmodPaths(RUNNING_KERNEL, m));
  return {
    files: [...paths.map((p) => p.stamp), ...KMODS.map(statsFile)],
    ...rsModuleHashes.request(paths.flatMap((p) => [p.built, p.installed])),
  };
}

export interface ObservedModule {
  name: KmodName;
  /** content of the build stamp next to the built module, null when absent */
  stamp: string | null;
  builtSha: string | null;
  installedSha: string | null;
  loaded: boolean;
  refcount: number;
  params: Record<string, string>;
  /** the /proc/net/<m>_stats file the loaded module creates is present */
  stats: boolean;
  /** sha256 recorded when dpvs-deploy last loaded the module on this kernel, null when unknown */
  loadedSha: string | null;
  loadConf: string | null;
  optionsConf: string | null;
}

/** The recorded "<sha256> <kernel>" of the last load, when it is for this kernel. */
export function parseLoadedState(content: string | null, kernel: string): string | null {
  const [sha, k] = (content ?? '').trim().split(/\s+/);
  return sha && /^[0-9a-f]{64}$/.test(sha) && k === kernel ? sha : null;
}

export function observe(facts: Facts, m: KmodName): ObservedModule {
  const kernel = facts.kernel.release;
  const p = kmodPaths(kernel, m);
  const hashes = rsModuleHashes.read(facts);
  const mod = facts.modules.find((x) => x.name === m && !x.builtin);
  const file = (path: string): string | null =>
    facts.files[path]?.exists ? (facts.files[path]?.content ?? '') : null;
  return {
    name: m,
    stamp: file(p.stamp) || null,
    builtSha: hashes[p.built] ?? null,
    installedSha: hashes[p.installed] ?? null,
    loaded: !!mod,
    refcount: mod?.refcount ?? 0,
    params: mod?.params ?? {},
    stats: !!facts.files[statsFile(m)]?.exists,
    loadedSha: parseLoadedState(file(p.loadedState), kernel),
    loadConf: file(p.loadConf),
    optionsConf: file(p.optionsConf),
  };
}
