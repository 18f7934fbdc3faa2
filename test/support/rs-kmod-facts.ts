/**
 * What the toa task's reads return for a real server's modules, written into Facts: the build stamps
 * (probed files), sha256sum's lines for the built and installed .ko (the rs-kmod read) and the
 * /proc/net/<m>_stats files of loaded modules.
 */
import type { Facts } from '../../src/facts/types.js';
import { rsModuleHashes } from '../../src/facts/reads/file-hashes.js';
import { statsFile } from '../../src/tasks/toa/observed.js';
import { kmodPaths, type KmodName } from '../../src/tasks/toa/spec.js';

export interface BuiltModule {
  stamp?: string;
  built?: string;
  installed?: string;
}

export function setObserved(
  f: Facts,
  kernel: string,
  ko: Partial<Record<KmodName, BuiltModule>>,
  stats: KmodName[] = [],
): Facts {
  const lines: string[] = [];
  for (const m of ['toa', 'uoa'] as const) {
    const p = kmodPaths(kernel, m);
    const b = ko[m] ?? {};
    f.files[p.stamp] =
      b.stamp === undefined
        ? { exists: false, sha256: null, mode: null, content: null }
        : { exists: true, sha256: null, mode: '0644', content: b.stamp };
    if (b.built) lines.push(`${b.built}  ${p.built}`);
    if (b.installed) lines.push(`${b.installed}  ${p.installed}`);
    f.files[statsFile(m)] = stats.includes(m)
      ? { exists: true, sha256: null, mode: '0444', content: null }
      : { exists: false, sha256: null, mode: null, content: null };
  }
  const key = rsModuleHashes.keys[0] as string;
  f.outputs[key] = { code: lines.length === 4 ? 0 : 1, stdout: lines.join('\n') };
  return f;
}
