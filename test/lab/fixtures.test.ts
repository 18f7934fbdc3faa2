/**
 * The fixture tarballs go through the same steps as real DPDK/DPVS sources: sha256-stable tarballs,
 * real tar, real `patch -p1`, real make / meson + ninja builds, real C compiles of the kernel-module
 * sources through a stand-in kbuild (KERNDIR / RTE_KERNELDIR / -Dkernel_dir, as upstream honours).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures, type FixtureManifest } from './fixtures/build.js';
import {
  applySeries,
  artifact,
  buildDpdk,
  buildDpvs,
  extract,
  run,
  writeStubKbuild,
} from './fixtures/testkit.js';

let tmp: string;
let manifest: FixtureManifest;
let kbuild: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fixtures-test-'));
  manifest = await buildFixtures(join(tmp, 'out'));
  kbuild = await writeStubKbuild(join(tmp, 'kbuild'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const sha = async (p: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex');

describe('tarballs', () => {
  it('lists every fixture with the upstream tarball names and top directories', () => {
    expect(manifest.artifacts.map((a) => [a.name, a.topDir])).toEqual([
      ['dpdk-18.11.2.tar.xz', 'dpdk-stable-18.11.2'],
      ['dpdk-20.11.10.tar.xz', 'dpdk-stable-20.11.10'],
      ['dpdk-24.11.tar.xz', 'dpdk-24.11'],
      ['dpvs-1.8.12.tar.gz', 'dpvs-1.8.12'],
      ['dpvs-1.9.10.tar.gz', 'dpvs-1.9.10'],
      ['dpvs-1.9.10-realdpdk.tar.gz', 'dpvs-1.9.10'],
      ['dpvs-1.10.2.tar.gz', 'dpvs-1.10.2'],
    ]);
  });

  it('records the real sha256 and is byte-identical when built again elsewhere', async () => {
    const again = await buildFixtures(join(tmp, 'out2'));
    for (const a of manifest.artifacts) {
      expect(await sha(a.path)).toBe(a.sha256);
      const b = again.artifacts.find((x) => x.name === a.name);
      expect(b?.sha256).toBe(a.sha256);
    }
    const manifestJson: unknown = JSON.parse(await readFile(join(tmp, 'out', 'manifest.json'), 'utf8'));
    expect(manifestJson).toEqual(manifest);
  });

  it('reuses the cached tarballs when the sources did not change', async () => {
    const a = artifact(manifest, 'dpvs-1.9.10.tar.gz');
    const before = (await stat(a.path)).mtimeMs;
    const m = await buildFixtures(join(tmp, 'out'));
    expect(m.sourcesHash).toBe(manifest.sourcesHash);
    expect((await stat(a.path)).mtimeMs).toBe(before);
  });

  it('are real xz / gzip tar archives with one top directory, root-owned, fixed mtime', async () => {
    for (const a of manifest.artifacts) {
      const fileType = await run('file', ['-b', a.path]);
      if (fileType.code === 0) expect(fileType.stdout).toMatch(a.name.endsWith('.xz') ? /XZ/ : /gzip/);
      const list = await run('tar', ['-tvf', a.path]);
      expect(list.code).toBe(0);
      const lines = list.stdout.trim().split('\n');
      for (const l of lines) {
        expect(l).toMatch(/ 0\/0 /);
        expect(l).toContain(' 2025-06-23 ');
        expect(
          l
            .split(/\s+/)
            .slice(5)
            .join(' ')
            .startsWith(a.topDir + '/'),
        ).toBe(true);
      }
    }
  });
});

describe('DPDK 18.11.2 + DPVS 1.8.12 (make, RTE_SDK)', () => {
  let dpdk: string;
  let dpvs: string;
  beforeAll(async () => {
    dpdk = await extract(artifact(manifest, 'dpdk-18.11.2.tar.xz'), join(tmp, 'b18'));
    dpvs = await extract(artifact(manifest, 'dpvs-1.8.12.tar.gz'), join(tmp, 'b18'));
  });

  it('applies the 7 patches with patch -p1 and builds libs and kmods', async () => {
    const applied = await applySeries(dpvs, 'dpdk-stable-18.11.2', dpdk);
    expect(applied).toHaveLength(7);
    expect(applied[0]).toBe('0001-kni-use-netlink-event-for-multicast-driver-part.patch');
    expect(await readFile(join(dpdk, 'config/common_base'), 'utf8')).toContain('CONFIG_RTE_LIBRTE_PDUMP=y');
    const { result } = await buildDpdk(dpdk, 'make', { kbuild });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Configuration done using x86_64-native-linuxapp-gcc');
    expect(result.stdout).toContain('Build complete [x86_64-native-linuxapp-gcc]');
    for (const lib of ['librte_eal.a', 'librte_ethdev.a', 'librte_mbuf.a', 'librte_pmd_ixgbe.a']) {
      expect(existsSync(join(dpdk, 'build/lib', lib))).toBe(true);
    }
    const nm = await run('nm', [join(dpdk, 'build/lib/librte_eal.a')]);
    expect(nm.stdout).toMatch(/ T rte_dpvs_patch_series/);
    const uname = (await run('uname', ['-r'])).stdout.trim();
    for (const ko of ['igb_uio.ko', 'rte_kni.ko']) {
      const body = await readFile(join(dpdk, 'build/kmod', ko), 'latin1');
      expect(body).toContain(`vermagic=${uname}`);
    }
    expect(await readFile(join(dpdk, 'build/kmod/rte_kni.ko'), 'latin1')).toContain('parm=carrier');
  });

  it('refuses to build DPVS without RTE_SDK, builds and installs into $PWD/bin with it', async () => {
    const noSdk = await buildDpvs(dpvs, { RTE_SDK: undefined });
    expect(noSdk.code).not.toBe(0);
    expect(noSdk.stderr).toContain('The variable RTE_SDK is not defined.');
    const r = await buildDpvs(dpvs, { RTE_SDK: dpdk, RTE_TARGET: 'build' });
    expect(r.code, r.stderr).toBe(0);
    for (const b of ['dpvs', 'dpip', 'ipvsadm', 'keepalived'])
      expect(existsSync(join(dpvs, 'bin', b))).toBe(true);
    const elf = await readFile(join(dpvs, 'bin/dpvs'));
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    const v = await run(join(dpvs, 'bin/dpvs'), ['-v']);
    expect(v.code).toBe(0);
    expect(v.stderr).toMatch(/^dpvs version: 1\.8-12, build on \d{4}\.\d\d\.\d\d\.\d\d:\d\d:\d\d\n$/);
  });

  it('fails the DPDK build with a clear #error when a patch of the series is missing', async () => {
    const d = await extract(artifact(manifest, 'dpdk-18.11.2.tar.xz'), join(tmp, 'b18-missing'));
    await applySeries(dpvs, 'dpdk-stable-18.11.2', d, (n) => n.startsWith('0002-'));
    const { result } = await buildDpdk(d, 'make', { kbuild });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('#error');
    expect(result.stderr).toContain(
      'DPVS patch 0002-net-support-variable-IP-header-len-for-checksum-API.patch is not applied',
    );
    expect(result.stdout).not.toContain('Build complete');
  });

  it('detects a patch applied twice', async () => {
    const d = await extract(artifact(manifest, 'dpdk-18.11.2.tar.xz'), join(tmp, 'b18-twice'));
    const p = join(dpvs, 'patch/dpdk-stable-18.11.2/0006-enable-dpdk-eal-memory-debug.patch');
    const first = await run('sh', ['-c', 'patch -p1 < "$1"', 'sh', p], { cwd: d });
    expect(first.code).toBe(0);
    const second = await run('sh', ['-c', 'patch -p1 < "$1"', 'sh', p], { cwd: d });
    expect(second.code).not.toBe(0);
    expect(second.stdout).toContain('Reversed (or previously applied) patch detected!');
  });

  it('builds toa.ko and uoa.ko with KERNDIR; uoa needs ../../include', async () => {
    const uname = (await run('uname', ['-r'])).stdout.trim();
    for (const m of ['toa', 'uoa']) {
      const r = await run('make', [`KERNDIR=${kbuild}`], { cwd: join(dpvs, 'kmod', m) });
      expect(r.code, r.stderr).toBe(0);
      expect(await readFile(join(dpvs, 'kmod', m, `${m}.ko`), 'latin1')).toContain(`vermagic=${uname}`);
    }
    const lone = join(tmp, 'lone-uoa');
    await run('mkdir', ['-p', lone]);
    await run('cp', [join(dpvs, 'kmod/uoa/uoa.c'), join(dpvs, 'kmod/uoa/Makefile'), lone]);
    const r = await run('make', [`KERNDIR=${kbuild}`], { cwd: lone });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('uoa.h');
  });
});

describe('DPDK 20.11.10 + DPVS 1.9.10 (meson/ninja, pkg-config)', () => {
  let dpdk: string;
  let dpvs: string;
  let pcPath: string | undefined;
  beforeAll(async () => {
    dpdk = await extract(artifact(manifest, 'dpdk-20.11.10.tar.xz'), join(tmp, 'b20'));
    dpvs = await extract(artifact(manifest, 'dpvs-1.9.10.tar.gz'), join(tmp, 'b20'));
  });

  it('builds with meson -Denable_kmods=true, installs libdpdk.pc (Debian libdir) and rte_kni.ko', async () => {
    expect(await applySeries(dpvs, 'dpdk-stable-20.11.10', dpdk)).toHaveLength(7);
    const { result, build } = await buildDpdk(dpdk, 'meson', { kbuild });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    pcPath = build.pkgConfigPath;
    expect(pcPath).toBe(join(dpdk, '..', 'dpdklib/lib/x86_64-linux-gnu/pkgconfig'));
    const pc = await readFile(join(pcPath ?? '', 'libdpdk.pc'), 'utf8');
    expect(pc).toMatch(/^Version: 20\.11\.10$/m);
    expect(pc).toMatch(/^Cflags: .*-march=native/m);
    expect(existsSync(join(dpdk, '..', 'dpdklib/lib/x86_64-linux-gnu/librte_eal.a'))).toBe(true);
    expect(existsSync(join(build.buildDir ?? '', 'kernel/linux/kni/rte_kni.ko'))).toBe(true);
    expect(existsSync(join(dpdk, 'kernel/linux/igb_uio'))).toBe(false);
  });

  it('refuses to build DPVS without PKG_CONFIG_PATH, builds with it', async () => {
    const none = await buildDpvs(dpvs, { PKG_CONFIG_PATH: '' });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('DPDK library was not found');
    const r = await buildDpvs(dpvs, { PKG_CONFIG_PATH: pcPath });
    expect(r.code, r.stderr).toBe(0);
    const v = await run(join(dpvs, 'bin/dpvs'), ['-v']);
    expect(v.stderr).toMatch(/^dpvs version: 1\.9-10, build on \d{4}\.\d\d\.\d\d\.\d\d:\d\d:\d\d$/m);
  });

  it('fails ninja with the #error when a patch is missing', async () => {
    const d = await extract(artifact(manifest, 'dpdk-20.11.10.tar.xz'), join(tmp, 'b20-missing'));
    await applySeries(dpvs, 'dpdk-stable-20.11.10', d, (n) => n.startsWith('0004-'));
    const { result } = await buildDpdk(d, 'meson', {});
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain(
      'DPVS patch 0004-ixgbe_flow-patch-ixgbe-fdir-rte_flow-for-dpvs.patch is not applied',
    );
  });

  it('uses -Dmachine (the 20.11 option) for the -march in libdpdk.pc', async () => {
    const d = await extract(artifact(manifest, 'dpdk-20.11.10.tar.xz'), join(tmp, 'b20-generic'));
    // meson writes the .pc at configure time (meson-private/); no need to compile again
    const setup = await run('meson', [
      'setup',
      '-Dmachine=corei7',
      `-Dprefix=${join(tmp, 'p')}`,
      d,
      join(tmp, 'bg'),
    ]);
    expect(setup.code, setup.stdout + setup.stderr).toBe(0);
    const pc = await readFile(join(tmp, 'bg', 'meson-private', 'libdpdk.pc'), 'utf8');
    expect(pc).toMatch(/^Cflags: .*-march=corei7/m);
    expect(pc).not.toContain('-march=native');
  });
});

describe('DPDK 24.11 + DPVS 1.10.2', () => {
  it('builds with -Dcpu_instruction_set, has no KNI, and DPVS 1.10 links against it', async () => {
    const dpdk = await extract(artifact(manifest, 'dpdk-24.11.tar.xz'), join(tmp, 'b24'));
    const dpvs = await extract(artifact(manifest, 'dpvs-1.10.2.tar.gz'), join(tmp, 'b24'));
    expect(await applySeries(dpvs, 'dpdk-24.11', dpdk)).toHaveLength(6);
    const { result, build } = await buildDpdk(dpdk, 'meson', {
      kbuild,
      mesonArgs: ['-Dcpu_instruction_set=haswell'],
    });
    expect(result.code, result.stdout).toBe(0);
    const pc = await readFile(join(build.pkgConfigPath ?? '', 'libdpdk.pc'), 'utf8');
    expect(pc).toMatch(/^Cflags: .*-march=haswell/m);
    expect(existsSync(join(build.buildDir ?? '', 'kernel/linux/kni'))).toBe(false);
    expect(existsSync(join(dpdk, 'lib/kni'))).toBe(false);
    const r = await buildDpvs(dpvs, { PKG_CONFIG_PATH: build.pkgConfigPath });
    expect(r.code, r.stderr).toBe(0);
    const v = await run(join(dpvs, 'bin/dpvs'), ['-v']);
    expect(v.stderr).toMatch(/^dpvs version: 1\.10-2, build on /);
    const devbind = await run(join(dpdk, 'usertools/dpdk-devbind.py'), ['--help']);
    expect(devbind.code).toBe(0);
    expect(devbind.stdout).toContain('--bind');
  });
});
