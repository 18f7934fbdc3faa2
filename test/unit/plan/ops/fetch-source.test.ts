/**
 * The fetchSource block (src/plan/ops/fetch-source.ts), its steps run for real with /bin/sh, curl (a
 * file:// URL) and tar in a temp directory: the verified tarball lands in the checksum-named cache, a
 * wrong checksum leaves nothing, a cached tarball is not fetched again, and the unpack replaces the tree
 * whole or not at all.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Step } from '../../../../src/plan/change.js';
import {
  fetchSummary,
  fetchTarballSteps,
  tarballCachePath,
  tarballCached,
  tarballExt,
  unpackTarballSteps,
  unpacked,
  UNPACK_MARKER,
  type Tarball,
} from '../../../../src/plan/ops/fetch-source.js';

const root = mkdtempSync(path.join(tmpdir(), 'fetch-source-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const hasCurl = spawnSync('sh', ['-c', 'command -v curl']).status === 0;

/** A tarball with one top directory `top` holding `files`. */
function makeTarball(
  name: string,
  top: string,
  files: Record<string, string>,
): { file: string; sha256: string } {
  const src = path.join(root, `src-${name}`);
  for (const [f, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, top, f)), { recursive: true });
    writeFileSync(path.join(src, top, f), c);
  }
  const file = path.join(root, name);
  execFileSync('tar', ['-czf', file, '-C', src, top]);
  return { file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
}

/** Runs exec steps in order with sh (an upload step is a copy); returns the first failure. */
function run(steps: Step[]): { status: number; stderr: string } {
  for (const s of steps) {
    if (s.kind === 'upload') {
      writeFileSync(s.path, readFileSync(s.localPath));
      continue;
    }
    if (s.kind !== 'exec') throw new Error(`unexpected ${s.kind}`);
    const r = spawnSync('sh', ['-c', s.command], { encoding: 'utf8' });
    if (r.status !== 0) return { status: r.status ?? -1, stderr: r.stderr };
  }
  return { status: 0, stderr: '' };
}

describe('cache naming', () => {
  it('names the cache file by checksum and keeps the archive extension (tar picks the decompressor)', () => {
    expect(tarballExt('dpdk-20.11.10.tar.xz')).toBe('tar.xz');
    expect(tarballExt('v1.9.10', 'tar.gz')).toBe('tar.gz');
    expect(tarballCachePath('/var/cache/x', 'ab', 'dpvs.tbz2')).toBe('/var/cache/x/ab.tbz2');
    const files = { '/c/ab.tar': { exists: true, sha256: 'ab', mode: '0644', content: null } };
    expect(tarballCached({ cachePath: '/c/ab.tar', sha256: 'ab' }, files)).toBe(true);
    expect(tarballCached({ cachePath: '/c/ab.tar', sha256: 'cd' }, files)).toBe(false);
    // the probe only checks presence (`present`: no hash): the content-addressed file is there
    const seen = { '/c/ab.tar': { exists: true, sha256: null, mode: '0644', content: null } };
    expect(tarballCached({ cachePath: '/c/ab.tar', sha256: 'ab' }, seen)).toBe(true);
    expect(tarballCached({ cachePath: '/c/ef.tar', sha256: 'ef' }, seen)).toBe(false);
  });
});

describe.skipIf(!hasCurl)('fetchTarballSteps (run for real)', () => {
  const cache = path.join(root, 'cache');
  const tb = makeTarball('dpvs-1.9.10.tar.gz', 'dpvs-1.9.10', { Makefile: 'all:\n' });
  const t = (over: Partial<Tarball> = {}): Tarball => ({
    origin: { url: `file://${tb.file}` },
    sha256: tb.sha256,
    cachePath: tarballCachePath(cache, tb.sha256, 'dpvs-1.9.10.tar.gz'),
    label: 'DPVS 1.9.10 source',
    ...over,
  });

  it('downloads to .part, checks the sha256 on the host, renames it into the cache', () => {
    const steps = fetchTarballSteps(t(), cache);
    expect(steps[0]?.kind === 'exec' && steps[0].timeoutMs).toBe(30 * 60_000);
    expect(run(steps)).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(t().cachePath).equals(readFileSync(tb.file))).toBe(true);
    expect(existsSync(`${t().cachePath}.part`)).toBe(false);
    expect(fetchSummary(t())).toMatch(
      /^download DPVS 1\.9\.10 source from file:\/\/.* on the host, verify sha256 /,
    );
  });

  it('a wrong checksum fails with both sums and leaves no file; a failed download names the URL', () => {
    const wrong = 'f'.repeat(64);
    const bad = t({ sha256: wrong, cachePath: tarballCachePath(cache, wrong, 'x.tar.gz') });
    const r = run(fetchTarballSteps(bad, cache));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `sha256 mismatch for DPVS 1.9.10 source (file://${tb.file}): got ${tb.sha256}, expected ${wrong}`,
    );
    expect(existsSync(bad.cachePath)).toBe(false);
    expect(existsSync(`${bad.cachePath}.part`)).toBe(false);
    const gone = run(fetchTarballSteps(t({ origin: { url: `file://${root}/nope.tar.gz` } }), cache));
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain(
      `download of DPVS 1.9.10 source from file://${root}/nope.tar.gz failed (exit`,
    );
  });

  it("ifCached: 'skip' fetches nothing when the cache holds the tarball (checked on the host)", () => {
    run(fetchTarballSteps(t(), cache));
    // the URL is gone now: only a skipped download can succeed
    const r = run(
      fetchTarballSteps(t({ origin: { url: `file://${root}/nope.tar.gz` } }), cache, { ifCached: 'skip' }),
    );
    expect(r).toEqual({ status: 0, stderr: '' });
  });

  it('a pushed file goes to .part and is checked on the host before the rename', () => {
    const pushed = t({ origin: { localPath: tb.file }, cachePath: path.join(cache, 'pushed.tar.gz') });
    const steps = fetchTarballSteps(pushed, cache);
    expect(steps.map((s) => s.kind)).toEqual(['exec', 'upload', 'exec']);
    expect(steps[1]).toMatchObject({ path: `${pushed.cachePath}.part`, sha256: tb.sha256 });
    expect(run(steps).status).toBe(0);
    expect(existsSync(pushed.cachePath)).toBe(true);
  });
});

describe('unpackTarballSteps (run for real)', () => {
  const good = makeTarball('dpdk.tar.gz', 'dpdk-stable-20.11.10', { 'meson.build': 'project()\n' });
  const other = makeTarball('other.tar.gz', 'something-else', { x: 'y\n' });

  it('with a top directory: the tree under its own name, marked with the tarball sha256', () => {
    const dir = path.join(root, 'opt', 'src', 'dpdk-stable-20.11.10');
    expect(
      run(unpackTarballSteps({ tarball: good.file, sha256: good.sha256, dir, top: 'dpdk-stable-20.11.10' })),
    ).toEqual({
      status: 0,
      stderr: '',
    });
    expect(readFileSync(path.join(dir, 'meson.build'), 'utf8')).toBe('project()\n');
    const marker = readFileSync(path.join(dir, UNPACK_MARKER), 'utf8');
    expect(marker).toBe(`${good.sha256}\n`);
    expect(existsSync(`${dir}.unpack`)).toBe(false);
    const files = {
      [`${dir}/${UNPACK_MARKER}`]: { exists: true, sha256: null, mode: '0644', content: marker },
    };
    expect(unpacked(dir, good.sha256, files)).toBe(true);
    expect(unpacked(dir, other.sha256, files)).toBe(false);
  });

  it('a tarball without the expected top directory fails and leaves the previous tree whole', () => {
    const dir = path.join(root, 'opt', 'src', 'dpdk-stable-20.11.10');
    const r = run(
      unpackTarballSteps({ tarball: other.file, sha256: other.sha256, dir, top: 'dpdk-stable-20.11.10' }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('did not unpack to dpdk-stable-20.11.10/');
    expect(readFileSync(path.join(dir, 'meson.build'), 'utf8')).toBe('project()\n');
    expect(existsSync(`${dir}.unpack`)).toBe(false);
  });

  it('a cached tarball damaged since it was cached: verified before unpacking, removed and named; the tree stays', () => {
    const dir = path.join(root, 'opt', 'src', 'dpdk-stable-20.11.10');
    const damaged = path.join(root, 'damaged.tar.gz');
    const bytes = readFileSync(good.file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1); // same size, one byte changed
    writeFileSync(damaged, bytes);
    const r = run(
      unpackTarballSteps({
        tarball: damaged,
        sha256: good.sha256,
        dir,
        top: 'dpdk-stable-20.11.10',
        label: 'DPDK 20.11.10 source',
      }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `sha256 mismatch for the cached DPDK 20.11.10 source ${damaged} (removed; apply again to fetch it again): got `,
    );
    expect(existsSync(damaged)).toBe(false);
    expect(readFileSync(path.join(dir, 'meson.build'), 'utf8')).toBe('project()\n');
  });

  it('without one: the first component stripped, whatever its name; a re-unpack replaces the tree', () => {
    const dir = path.join(root, 'work', 'src');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'stale.o'), '');
    expect(run(unpackTarballSteps({ tarball: other.file, sha256: other.sha256, dir })).status).toBe(0);
    expect(readFileSync(path.join(dir, 'x'), 'utf8')).toBe('y\n');
    expect(existsSync(path.join(dir, 'stale.o'))).toBe(false);
  });
});
