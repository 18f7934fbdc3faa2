/**
 * Source tarballs that say another version than the one declared: the version in the file or URL name
 * (dpvs-1.9.8.tar.gz, dpdk-20.11.9.tar.xz, a git ref v1.9.8) and, for a local .tar.gz, the version in
 * its top directory (dpvs-1.9.8/). A mismatch builds one release and records another: the DPDK patch
 * series, the dpvs.conf keywords and the version the plan compares against would all be wrong.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, constants as zc } from 'node:zlib';
import { DEFAULT_DPVS_VERSION, lookupPairing } from '../versions.js';
import type { Findings } from './findings.js';
import { originOf, type Resolution } from './merge.js';

/** Versions written in a name: 1.9.10, 20.11.10, 1.9.4-2 (a leading v allowed). */
export function versionsIn(name: string): string[] {
  return [...name.matchAll(/(?:^|[^0-9.])v?(\d+\.\d+(?:\.\d+)?(?:-\d+)?)(?![0-9])/g)].map(
    (m) => m[1] as string,
  );
}

const HEAD_BYTES = 64 * 1024;

/** The first path component of the first member of a local .tar.gz, or undefined (not readable / not gzip). */
export function tarGzTopDir(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
    const tar = gunzipSync(buf.subarray(0, n), { finishFlush: zc.Z_SYNC_FLUSH });
    let off = 0;
    while (off + 512 <= tar.length) {
      const header = tar.subarray(off, off + 512);
      const cstr = (a: number, b: number) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
      const name = cstr(0, 100);
      if (name === '') return undefined;
      const type = cstr(156, 157);
      if (type === 'g' || type === 'x') {
        const size = parseInt(cstr(124, 136).trim() || '0', 8);
        off += 512 + Math.ceil(size / 512) * 512;
        continue;
      }
      const prefix = cstr(345, 500);
      const full = prefix ? `${prefix}/${name}` : name;
      return full.replace(/^\.\//, '').split('/')[0];
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function checkSourceVersions(r: Resolution, f: Findings, dir: string | undefined): void {
  const h = r.host;
  const pairing = lookupPairing(h.dpvs?.version, h.dpdk?.version);
  const declared = {
    dpvs: h.dpvs?.version ?? DEFAULT_DPVS_VERSION,
    dpdk: h.dpdk?.version ?? (pairing.ok ? pairing.dpdkVersion : undefined),
  };
  for (const sw of ['dpvs', 'dpdk'] as const) {
    const src = h[sw]?.source;
    const want = declared[sw];
    if (!src || want === undefined) continue;
    const versionAt = h[sw]?.version !== undefined ? originOf(r, [sw, 'version']) : undefined;
    const said =
      h[sw]?.version !== undefined ? `${sw}.version is ${want}` : `the default ${sw} version is ${want}`;
    const report = (key: string, what: string, found: string) =>
      f.error(
        originOf(r, [sw, 'source', key]),
        `${what} says ${sw.toUpperCase()} ${found} but ${said}; the build would use one release and record another ` +
          `(patch series, dpvs.conf keywords and upgrades all follow the declared version): point ${sw}.source at the ` +
          `${want} tarball or set ${sw}.version: "${found}"`,
        false,
        versionAt,
      );
    const [key, name] =
      'url' in src ? ['url', src.url] : 'file' in src ? ['file', src.file] : ['ref', src.ref];
    const base = key === 'ref' ? name : ((name.split(/[?#]/)[0] ?? name).split('/').pop() ?? name);
    const found = versionsIn(base);
    const wrong = found.find((v) => v !== want);
    if (found.length && !found.includes(want) && wrong) {
      report(key, `${key === 'ref' ? 'git ref' : 'the tarball name'} ${base}`, wrong);
      continue;
    }
    if (key === 'file' && dir !== undefined && /\.(tar\.gz|tgz)$/.test(name)) {
      const top = tarGzTopDir(path.resolve(dir, name));
      const inTop = top === undefined ? [] : versionsIn(top);
      const bad = inTop.find((v) => v !== want);
      if (top !== undefined && inTop.length && !inTop.includes(want) && bad)
        report(key, `the tarball's top directory ${top}/`, bad);
    }
  }
}
