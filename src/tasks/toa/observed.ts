/**
 * What a real server has of its modules, read by one read-only probe command (the paths depend on the
 * running kernel, which the probe request cannot know in advance) plus fixed files and module facts.
 *
 * The command prints, for the running kernel:
 *   kernel <release>
 *   ko <m> <stamp base64|-> <built sha256|-> <installed sha256|->
 *   stats <file>            for each of /proc/net/toa_stats, /proc/net/uoa_stats that exists
 */
import type { Facts } from '../../facts/types.js';
import { KMODS, kmodPaths, RS_KMOD_ROOT, type KmodName } from './spec.js';

export const OBSERVED_OUTPUT = 'rs-kmod';

export const OBSERVED_COMMAND = [
  `r=\${DPVS_PROBE_RELEASE:-$(uname -r)}; d=${RS_KMOD_ROOT}/$r; printf 'kernel %s\\n' "$r"`,
  `for m in ${KMODS.join(' ')}; do`,
  `  s=-; [ -f "$d/$m.stamp" ] && s=$(base64 < "$d/$m.stamp" | tr -d '\\n')`,
  `  b=-; [ -f "$d/$m.ko" ] && b=$(sha256sum < "$d/$m.ko" | cut -d' ' -f1)`,
  `  i=-; [ -f "/lib/modules/$r/extra/$m.ko" ] && i=$(sha256sum < "/lib/modules/$r/extra/$m.ko" | cut -d' ' -f1)`,
  `  printf 'ko %s %s %s %s\\n' "$m" "\${s:--}" "\${b:--}" "\${i:--}"`,
  `done`,
  `for f in toa_stats uoa_stats; do [ -e "/proc/net/$f" ] && printf 'stats %s\\n' "$f"; done`,
  `true`,
].join('\n');

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

function dash(v: string | undefined): string | null {
  return !v || v === '-' ? null : v;
}

/** The recorded "<sha256> <kernel>" of the last load, when it is for this kernel. */
export function parseLoadedState(content: string | null, kernel: string): string | null {
  const [sha, k] = (content ?? '').trim().split(/\s+/);
  return sha && /^[0-9a-f]{64}$/.test(sha) && k === kernel ? sha : null;
}

export function observe(facts: Facts, m: KmodName): ObservedModule {
  const kernel = facts.kernel.release;
  const p = kmodPaths(kernel, m);
  const out = facts.outputs[OBSERVED_OUTPUT]?.stdout ?? '';
  const lines = out.split('\n').map((l) => l.trim().split(' '));
  const sameKernel = lines.some((l) => l[0] === 'kernel' && l[1] === kernel);
  const ko = sameKernel ? lines.find((l) => l[0] === 'ko' && l[1] === m) : undefined;
  const stampB64 = dash(ko?.[2]);
  const mod = facts.modules.find((x) => x.name === m && !x.builtin);
  const file = (path: string): string | null =>
    facts.files[path]?.exists ? (facts.files[path]?.content ?? '') : null;
  return {
    name: m,
    stamp: stampB64 ? Buffer.from(stampB64, 'base64').toString('utf8') : null,
    builtSha: dash(ko?.[3]),
    installedSha: dash(ko?.[4]),
    loaded: !!mod,
    refcount: mod?.refcount ?? 0,
    params: mod?.params ?? {},
    stats: lines.some((l) => l[0] === 'stats' && l[1] === `${m}_stats`),
    loadedSha: parseLoadedState(file(p.loadedState), kernel),
    loadConf: file(p.loadConf),
    optionsConf: file(p.optionsConf),
  };
}
