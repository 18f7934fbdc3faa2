/**
 * Reads the control-side inputs of an inventory (src/inventory/control.ts) once, at load: every secret
 * it references through the one resolver (src/inventory/secret.ts), the sha256 of every local file it
 * names (dpdk.source.file, dpvs.source.file, dpdk.kmods.file, dpdk.patches), and the DPVS patch series of each local
 * DPVS tarball. Failures are kept as reasons, not thrown: only a run that needs the value reports it.
 * Portable to the control machines we support (Linux, macOS): hashing in node, `tar -t` / `tar -xO`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import {
  SECRET_KEYS,
  localPath,
  secretKey,
  seriesKey,
  type ControlInputs,
  type ControlValue,
  type LocalFile,
} from './control.js';
import type { SecretValue } from './schema.js';
import { trySecret } from './secret.js';
import type { ResolvedHost } from './types.js';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export function readLocalFile(abs: string): LocalFile {
  try {
    if (!statSync(abs).isFile()) return { ok: false, path: abs, reason: 'not a regular file' };
    return { ok: true, path: abs, sha256: sha256(readFileSync(abs)) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, path: abs, reason: code === 'ENOENT' ? 'no such file' : String(code ?? e) };
  }
}

const TAR_MAX = 256 * 1024 * 1024;

/**
 * Every `<top>/patch/<series>/<file>` of a tarball, grouped by `patch/<series>`, hashed as
 * src/tasks/dpdk/series.ts SERIES_SCRIPT does: sha256 over "<file name> <sha256 of its content>\n" lines
 * in byte order of the member names.
 */
export function tarballSeries(tarball: string): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = execFileSync('tar', ['-tf', tarball], {
      encoding: 'utf8',
      maxBuffer: TAR_MAX,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter(Boolean);
  } catch {
    return out;
  }
  const byDir = new Map<string, string[]>();
  for (const n of names) {
    const m = /^[^/]+\/(patch\/[^/]+)\/[^/]+$/.exec(n);
    if (!m) continue;
    const list = byDir.get(m[1] as string) ?? [];
    list.push(n);
    byDir.set(m[1] as string, list);
  }
  for (const [dir, members] of byDir) {
    try {
      const lines = members
        .sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : 1))
        .map((n) => {
          const content = execFileSync('tar', ['-xOf', tarball, n], {
            maxBuffer: TAR_MAX,
            stdio: ['ignore', 'pipe', 'ignore'],
          });
          return `${n.slice(n.lastIndexOf('/') + 1)} ${sha256(content)}\n`;
        });
      out.set(dir, sha256(lines.join('')));
    } catch {
      // an unreadable member: the series is unknown, the planner falls back to the tarball's checksum
    }
  }
  return out;
}

function localFilesOf(h: ResolvedHost): { files: string[]; dpvsTarballs: string[] } {
  const file = (s: unknown): string | undefined =>
    s && typeof s === 'object' && typeof (s as { file?: unknown }).file === 'string'
      ? (s as { file: string }).file
      : undefined;
  const dpdk = file(h.dpdk?.source);
  const dpvs = file(h.dpvs?.source);
  const kmods = file(h.dpdk?.kmods);
  return {
    files: [
      ...(dpdk ? [dpdk] : []),
      ...(dpvs ? [dpvs] : []),
      ...(kmods ? [kmods] : []),
      ...(h.dpdk?.patches ?? []),
    ],
    dpvsTarballs: dpvs ? [dpvs] : [],
  };
}

export function readControlInputs(
  roots: readonly unknown[],
  dir: string,
  hosts: readonly ResolvedHost[] = [],
): ControlInputs {
  const secrets = new Map<string, ControlValue>();
  const walk = (node: unknown, key?: string): void => {
    if (key !== undefined && SECRET_KEYS.has(key)) {
      const k = secretKey(node);
      if (k !== null && !secrets.has(k)) secrets.set(k, trySecret(node as SecretValue, dir));
      return;
    }
    if (Array.isArray(node)) node.forEach((n) => walk(n));
    else if (node && typeof node === 'object')
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) walk(v, k);
  };
  roots.forEach((r) => walk(r));

  const files = new Map<string, LocalFile>();
  const series = new Map<string, string>();
  const c = { dir };
  const tarballsRead = new Set<string>();
  for (const h of hosts) {
    const want = localFilesOf(h);
    for (const rel of want.files) {
      const abs = localPath(c, rel);
      if (!files.has(abs)) files.set(abs, readLocalFile(abs));
    }
    for (const rel of want.dpvsTarballs) {
      const abs = localPath(c, rel);
      if (tarballsRead.has(abs) || !files.get(abs)?.ok) continue;
      tarballsRead.add(abs);
      for (const [patchDir, hash] of tarballSeries(abs)) series.set(seriesKey(abs, patchDir), hash);
    }
  }
  return { secrets, files, series };
}
