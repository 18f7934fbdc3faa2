import { execFileSync, spawnSync } from 'node:child_process';
import { onControl } from '../../support/control.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import type { Change } from '../../../src/plan/change.js';
import { dpdkBuildTask } from '../../../src/tasks/dpdk-build.js';
import { dpdkSourceTask } from '../../../src/tasks/dpdk-source.js';
import { buildDecision } from '../../../src/tasks/dpdk/build-role.js';
import { cachePathFor, planFetch } from '../../../src/tasks/dpdk/fetch.js';
import { patchScript, stagingDir, stampScript } from '../../../src/tasks/dpdk/scripts.js';
import { dpdkSpec } from '../../../src/tasks/dpdk/spec.js';
import {
  COMPILER_COMMAND,
  COMPILER_OUTPUT,
  expectedStamp,
  stampHead,
} from '../../../src/tasks/dpdk/stamp.js';
import type { PlanContext } from '../../../src/plan/task.js';
import { factsBuilder, inventoryOf, r630, r630Host } from '../../support/facts-builder.js';
import { fleetOf } from '../../../src/plan/fleet.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'dpdk-build-test-'));
const ctl = onControl(tmp);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SHA_DPDK = 'a'.repeat(64);
const SHA_DPVS = 'b'.repeat(64);

function host(name: string, dpvs = '1.9.10', extra: Partial<ResolvedHost> = {}): ResolvedHost {
  const dpdkVersion = { '1.8.12': '18.11.2', '1.9.10': '20.11.10', '1.10.2': '24.11' }[dpvs] as string;
  return r630Host({
    name,
    dpvs: { version: dpvs, source: { url: `http://fx/dpvs-${dpvs}.tar.gz`, sha256: SHA_DPVS } },
    dpdk: {
      version: dpdkVersion,
      source: { url: `http://fx/dpdk-${dpdkVersion}.tar.xz`, sha256: SHA_DPDK },
      driver: 'uio_pci_generic',
    },
    ...extra,
  });
}

function facts(): Facts {
  return r630().output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n').build();
}

function fleetCtx(hosts: Array<[ResolvedHost, Facts]>, self: string): PlanContext {
  const inv = inventoryOf(hosts.map(([h]) => h));
  const me = hosts.find(([h]) => h.name === self) as [ResolvedHost, Facts];
  return {
    host: me[0],
    inventory: inv,
    facts: me[1],
    fleet: fleetOf(inv, new Map(hosts.map(([h, f]) => [h.name, f]))),
  };
}

const commands = (cs: Change[]): string =>
  cs.flatMap((c) => c.steps.map((s) => (s.kind === 'exec' ? s.command : s.kind))).join('\n');

describe('dpdk-build planner', () => {
  it('unpacks, builds and installs under dpdk.build_dir when the inventory sets one', () => {
    const base = host('lb1');
    const h = { ...base, dpdk: { ...base.dpdk, build_dir: '/srv/big/' } } as ResolvedHost;
    const spec = dpdkSpec(h, ctl);
    expect(spec?.layout.root).toBe('/srv/big/dpvs-deploy/dpdk/20.11.10');
    expect(spec?.tree).toBe('/srv/big/dpvs-deploy/dpdk/20.11.10/src/dpdk-stable-20.11.10');
    const all = commands(dpdkBuildTask.plan(fleetCtx([[h, facts()]], 'lb1')).changes);
    expect(all).toContain('-Dprefix=/srv/big/dpvs-deploy/dpdk/20.11.10/install');
    expect(all).not.toContain('/opt/dpvs-deploy/dpdk');
    // the prefix is a build input: a host with another build_dir does not share this build
    expect(stampHead(spec!, facts(), ctl)).toContain('prefix=/srv/big/dpvs-deploy/dpdk/20.11.10');
  });

  it('plans unpack, patches, a meson build with -Dmachine and the switch for 20.11 on a fresh host', () => {
    const h = host('lb1');
    const ctx = fleetCtx([[h, facts()]], 'lb1');
    const { changes } = dpdkBuildTask.plan(ctx);
    expect(changes.map((c) => c.id)).toEqual([
      'dpdk-build/unpack',
      'dpdk-build/patches',
      'dpdk-build/compile',
      'dpdk-build/install',
    ]);
    const all = commands(changes);
    expect(all).toMatch(/meson setup '?-Denable_kmods=true'? '?-Dmachine=native'?/);
    // the stamp's compiler line is written from the host's compiler, the probe's command
    expect(all).toContain('"$(LC_ALL=C gcc --version 2>/dev/null | head -n 1)"');
    expect(all).toContain('-Dprefix=/opt/dpvs-deploy/dpdk/20.11.10/install');
    expect(all).toContain('DESTDIR=');
    expect(all).toContain(cachePathFor(SHA_DPDK, 'dpdk-20.11.10.tar.xz'));
    expect(all).toContain('*/patch/dpdk-stable-20.11.10/*');
    // the switch renames only after the build: the previous build stays on failure
    expect(commands([changes[3] as Change])).toMatch(/mv \/opt\/dpvs-deploy\/dpdk\/20\.11\.10\.staging/);
  });

  it('uses make config T=... for 18.11 and -Dcpu_instruction_set for 24.11', () => {
    const h18 = host('lb1', '1.8.12', {});
    h18.dpdk = { ...h18.dpdk, driver: 'igb_uio' };
    const c18 = commands(dpdkBuildTask.plan(fleetCtx([[h18, facts()]], 'lb1')).changes);
    expect(c18).toContain('make config T=x86_64-native-linuxapp-gcc');
    expect(c18).toContain('RTE_TARGET=build');
    expect(c18).toContain('CONFIG_RTE_EAL_IGB_UIO=y');
    expect(c18).toContain('build/kmod/igb_uio.ko');
    const h24 = host('lb1', '1.10.2', {
      dpdk: { march: 'haswell', source: { url: 'http://fx/d.tar.xz', sha256: SHA_DPDK } },
    });
    const c24 = commands(dpdkBuildTask.plan(fleetCtx([[h24, facts()]], 'lb1')).changes);
    expect(c24).toContain('-Dcpu_instruction_set=haswell');
    expect(c24).not.toContain('-Dmachine');
    expect(c24).not.toContain('rte_kni.ko');
  });

  it('is skipped when the recorded stamp matches, and rebuilds when the patch list changes', () => {
    const patch = path.join(tmp, 'mine.patch');
    writeFileSync(patch, '--- a/x\n+++ b/x\n');
    const h = host('lb1');
    const f = facts();
    const spec = dpdkSpec(h, onControl('/work'))!;
    f.files[spec.layout.stamp] = {
      exists: true,
      sha256: null,
      mode: '0644',
      content: expectedStamp(spec, f, onControl('/work')),
    };
    expect(dpdkBuildTask.plan(fleetCtx([[h, f]], 'lb1')).changes).toEqual([]);
    expect(dpdkSourceTask.plan(fleetCtx([[h, f]], 'lb1')).changes).toEqual([]);
    const withPatch = { ...h, dpdk: { ...h.dpdk, patches: [patch] } };
    const again = dpdkBuildTask.plan(fleetCtx([[withPatch, f]], 'lb1')).changes;
    expect(again.map((c) => c.id)).toContain('dpdk-build/compile');
    expect(again.find((c) => c.id === 'dpdk-build/patches')?.summary).toContain(patch);
  });

  it('builds once per identical target: the first host by name builds and packs, the other receives', () => {
    const a = host('lb1');
    const b = host('lb2');
    const fa = facts();
    const fb = facts();
    const da = buildDecision(
      fleetCtx(
        [
          [a, fa],
          [b, fb],
        ],
        'lb1',
      ),
    );
    const db = buildDecision(
      fleetCtx(
        [
          [a, fa],
          [b, fb],
        ],
        'lb2',
      ),
    );
    expect(da?.role).toEqual({ kind: 'build', receivers: ['lb2'] });
    expect(db?.role).toEqual({ kind: 'receive', builder: 'lb1' });
    expect(da?.artifact).toBe(db?.artifact);
    const recv = dpdkBuildTask.plan(
      fleetCtx(
        [
          [a, fa],
          [b, fb],
        ],
        'lb2',
      ),
    ).changes;
    expect(recv.map((c) => c.id)).toEqual(['dpdk-build/receive']);
    const copies = recv[0]!.steps.filter((s) => s.kind === 'copy-from-host');
    expect(copies.map((s) => (s.kind === 'copy-from-host' ? s.sourcePath : ''))).toEqual([
      `${da!.artifact}.sha256`,
      da!.artifact,
    ]);
    expect(commands(recv)).toContain('sha256sum -c');
    expect(commands(recv)).not.toContain('meson');
    expect(
      dpdkSourceTask.plan(
        fleetCtx(
          [
            [a, fa],
            [b, fb],
          ],
          'lb2',
        ),
      ).changes,
    ).toEqual([]);
    expect(
      commands(
        dpdkBuildTask.plan(
          fleetCtx(
            [
              [a, fa],
              [b, fb],
            ],
            'lb1',
          ),
        ).changes,
      ),
    ).toContain('sha256sum');
  });

  it('builds on each host when the CPU target differs (march native, other CPU flags)', () => {
    const a = host('lb1');
    const b = host('lb2');
    const fb = factsBuilder()
      .output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n')
      .cpuFlags(['sse4_2'])
      .build();
    expect(
      buildDecision(
        fleetCtx(
          [
            [a, facts()],
            [b, fb],
          ],
          'lb2',
        ),
      )?.role,
    ).toEqual({ kind: 'build', receivers: [] });
  });

  it('stops the host with a clear error when a user patch is missing on the control machine', () => {
    const h = { ...host('lb1'), dpdk: { ...host('lb1').dpdk, patches: ['does-not-exist.patch'] } };
    const src = dpdkSourceTask.plan(fleetCtx([[h, facts()]], 'lb1')).changes;
    const c = src.find((x) => x.id === 'dpdk-source/patch/0');
    expect(commands([c!])).toContain('does-not-exist.patch: no such file');
    expect(commands([c!])).toContain('exit 1');
  });
});

describe('dpdk-source / planFetch', () => {
  it('downloads on the host with curl or wget, verifies, caches by checksum', () => {
    const f = planFetch({
      source: { url: 'http://fx/dpdk.tar.xz', sha256: SHA_DPDK },
      name: 'dpdk-20.11.10.tar.xz',
      label: 'DPDK',
      inv: ctl,
      facts: facts(),
    });
    const cmds = commands([{ id: 'x', task: 't', summary: '', action: 'run', steps: f.fetchSteps }]);
    expect(cmds).toMatch(/curl .* \|\| .*|elif command -v wget/);
    expect(cmds).toContain('sha256 mismatch');
    expect(f.cachePath).toBe(`/var/cache/dpvs-deploy/src/${SHA_DPDK}.tar.xz`);
    const cached = facts();
    cached.files[f.cachePath!] = { exists: true, sha256: SHA_DPDK, mode: '0644', content: null };
    expect(
      planFetch({
        source: { url: 'http://fx/d', sha256: SHA_DPDK },
        name: 'dpdk-20.11.10.tar.xz',
        label: 'DPDK',
        inv: ctl,
        facts: cached,
      }).fetchSteps,
    ).toEqual([]);
  });

  it('pushes a local file (upload with its checksum) and refuses a checksum mismatch', () => {
    const file = path.join(tmp, 'dpdk.tar.xz');
    writeFileSync(file, 'tarball bytes');
    const ok = planFetch({
      source: { file },
      name: 'dpdk.tar.xz',
      label: 'DPDK',
      inv: ctl,
      facts: facts(),
    });
    const up = ok.fetchSteps.find((s) => s.kind === 'upload');
    expect(up && up.kind === 'upload' && up.sha256).toBe(ok.sha256);
    const bad = planFetch({
      source: { file, sha256: SHA_DPDK },
      name: 'dpdk.tar.xz',
      label: 'DPDK',
      inv: ctl,
      facts: facts(),
    });
    expect(bad.error).toContain('sha256 mismatch');
  });

  it('actually verifies: the download step fails on a wrong checksum (run locally)', () => {
    const src = path.join(tmp, 'src.tar');
    writeFileSync(src, 'payload');
    const f = planFetch({
      source: { url: `file://${src}`, sha256: SHA_DPDK },
      name: 'x.tar',
      label: 'X',
      inv: ctl,
      facts: facts(),
    });
    const verify = f.fetchSteps[1];
    if (verify?.kind !== 'exec') throw new Error('expected exec');
    const part = `${f.cachePath}.part`;
    const cmd = verify.command
      .split(part)
      .join(path.join(tmp, 'x.part'))
      .split(f.cachePath!)
      .join(path.join(tmp, 'x.final'));
    writeFileSync(path.join(tmp, 'x.part'), 'payload');
    const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`expected ${SHA_DPDK}`);
  });
});

describe('patch script (run with the real patch)', () => {
  const hasPatch = spawnSync('patch', ['--version']).status === 0;
  it.skipIf(!hasPatch)('applies in ls order, skips applied patches, names the failed hunk', () => {
    const h = host('lb1');
    const spec = dpdkSpec(h, ctl)!;
    const root = path.join(tmp, 'root', '20.11.10');
    spec.layout = { ...spec.layout, root };
    const stage = stagingDir(spec);
    const tree = path.join(stage, 'src', spec.pairing.tarballTopDir);
    const series = path.join(stage, 'dpvs', 'dpvs-1.9.10', spec.pairing.patchDir);
    mkdirSync(tree, { recursive: true });
    mkdirSync(series, { recursive: true });
    writeFileSync(path.join(tree, 'eal.c'), 'one\ntwo\nthree\n');
    writeFileSync(
      path.join(series, '0001-first.patch'),
      '--- a/eal.c\n+++ b/eal.c\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n',
    );
    writeFileSync(
      path.join(series, '0002-second.patch'),
      '--- a/eal.c\n+++ b/eal.c\n@@ -1,3 +1,3 @@\n one\n TWO\n-three\n+THREE\n',
    );
    const run = () => spawnSync('bash', ['-c', patchScript(spec)], { encoding: 'utf8' });
    const r1 = run();
    expect(r1.status, r1.stderr).toBe(0);
    expect(r1.stdout).toContain('applied: 0001-first.patch');
    expect(execFileSync('cat', [path.join(tree, 'eal.c')], { encoding: 'utf8' })).toBe('one\nTWO\nTHREE\n');
    const r2 = run();
    expect(r2.stdout).toContain('already applied: 0002-second.patch');
    writeFileSync(
      path.join(series, '0003-conflict.patch'),
      '--- a/eal.c\n+++ b/eal.c\n@@ -1,3 +1,3 @@\n one\n-zwei\n+ZWEI\n three\n',
    );
    const r3 = run();
    expect(r3.status).toBe(1);
    expect(r3.stderr).toMatch(
      /patch 0003-conflict\.patch does not apply to DPDK 20\.11\.10: eal\.c: Hunk #1 FAILED at 1/,
    );
  });
});

describe('build stamp', () => {
  it('the stamp the build writes on the host equals the one the planner expects from the probe', () => {
    const h = host('lb1');
    const spec = dpdkSpec(h, ctl)!;
    spec.layout = { ...spec.layout, root: path.join(tmp, 'stamp', '20.11.10') };
    mkdirSync(stagingDir(spec), { recursive: true });
    const f = facts();
    f.outputs[COMPILER_OUTPUT] = {
      code: 0,
      stdout: execFileSync('sh', ['-c', COMPILER_COMMAND], { encoding: 'utf8' }),
    };
    const r = spawnSync(
      'sh',
      ['-c', stampScript(spec, stampHead(spec, f, ctl), '/nonexistent.tar.gz', SHA_DPVS)],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const written = execFileSync('cat', [path.join(stagingDir(spec), 'build.stamp')], { encoding: 'utf8' });
    expect(written).toBe(expectedStamp(spec, f, ctl));
    expect(written).toMatch(/^compiler=\S/m);
  });
});
