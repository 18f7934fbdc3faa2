/**
 * The DPDK build stamp's inputs: DPDK's tarball, DPVS's patch series (not the whole DPVS tarball),
 * the meson options; and what the dpdk-build planner predicts before a build (rte_kni on a kernel
 * build tree meson would refuse, meson options on a make build).
 */
import { onControl } from '../../../support/control.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Facts } from '../../../../src/facts/types.js';
import type { ResolvedHost } from '../../../../src/inventory/types.js';
import type { Change } from '../../../../src/plan/change.js';
import { dpdkBuildTask } from '../../../../src/tasks/dpdk-build.js';
import { dpvsBuildTask } from '../../../../src/tasks/dpvs-build.js';
import { dpvsReleases } from '../../../../src/facts/reads/dpvs-releases.js';
import { DPVS_SERIES_KEY, dpvsSeries, seriesMemoPath } from '../../../../src/facts/reads/dpvs-series.js';
import { dpdkSourceTask } from '../../../../src/tasks/dpdk-source.js';
import { verifyCachedCommand } from '../../../../src/plan/ops/fetch-source.js';
import { kbuild, KBUILD_KEY } from '../../../../src/facts/reads/kbuild.js';
import { RUNNING_KERNEL } from '../../../../src/facts/types.js';
import { probeLocally } from '../../../support/local-probe.js';
import { releaseOf } from '../../../../src/tasks/dpvs/release.js';
import { wantedModules } from '../../../../src/tasks/kmods.js';
import { compileScript, stagingDir, stampScript } from '../../../../src/tasks/dpdk/scripts.js';
import {
  recordSeriesCommand,
  SERIES_SCRIPT,
  seriesId,
  seriesOnHost,
} from '../../../../src/tasks/dpdk/series.js';
import { dpdkSpec } from '../../../../src/tasks/dpdk/spec.js';
import {
  COMPILER_COMMAND,
  COMPILER_OUTPUT,
  expectedStamp,
  stampHead,
} from '../../../../src/tasks/dpdk/stamp.js';
import type { PlanContext } from '../../../../src/plan/task.js';
import { buildTargetKey, provisionOf } from '../../../../src/tasks/dpvs/release.js';
import { inventoryOf, r630, r630Host } from '../../../support/facts-builder.js';
import { inventoryErrorLines, inventoryErrors } from '../../../support/inventory-errors.js';
import { fleetOf } from '../../../../src/plan/fleet.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'dpdk-stamp-test-'));
const ctl = onControl(tmp);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SERIES = 'dpdk-stable-20.11.10';

/** A DPVS-like tarball: dpvs-<tag>/patch/<series>/*.patch plus a source file. */
function dpvsTarball(name: string, patches: Record<string, string>, mainC: string): string {
  const root = path.join(tmp, `${name}.d`);
  const top = path.join(root, 'dpvs-1.9.10');
  mkdirSync(path.join(top, 'patch', SERIES), { recursive: true });
  mkdirSync(path.join(top, 'src'), { recursive: true });
  for (const [f, text] of Object.entries(patches)) writeFileSync(path.join(top, 'patch', SERIES, f), text);
  writeFileSync(path.join(top, 'src', 'main.c'), mainC);
  const out = path.join(tmp, `${name}.tar.gz`);
  execFileSync('tar', ['-czf', out, '-C', root, 'dpvs-1.9.10']);
  return out;
}

const P1 = { '0001-a.patch': '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n', '0002-b.patch': 'two\n' };

function host(dpvsFile: string, dpdk: Record<string, unknown> = {}, dpvs: Record<string, unknown> = {}) {
  return r630Host({
    name: 'lb1',
    dpvs: { version: '1.9.10', source: { file: dpvsFile }, kni: false, ...dpvs },
    dpdk: {
      version: '20.11.10',
      source: { url: 'http://fx/dpdk-20.11.10.tar.xz', sha256: 'a'.repeat(64) },
      driver: 'uio_pci_generic',
      ...dpdk,
    },
  } as Partial<ResolvedHost>);
}

function facts(): Facts {
  return r630().output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n').build();
}

function ctx(h: ResolvedHost, f: Facts): PlanContext {
  const inventory = inventoryOf([h]);
  return { host: h, inventory, facts: f, fleet: fleetOf(inventory, new Map([[h.name, f]])) };
}

/** Facts of a host that recorded the stamp the planner expects for `h`. */
function built(h: ResolvedHost): Facts {
  const f = facts();
  const spec = dpdkSpec(h, ctl)!;
  f.files[spec.layout.stamp] = {
    exists: true,
    sha256: null,
    mode: '0644',
    content: expectedStamp(spec, f, ctl),
  };
  return f;
}

const ids = (cs: Change[]): string[] => cs.map((c) => c.id);
const commands = (cs: Change[]): string =>
  cs.flatMap((c) => c.steps.map((s) => (s.kind === 'exec' ? s.command : s.kind))).join('\n');

describe('DPDK build stamp: the DPVS patch series, not the DPVS tarball', () => {
  const v1 = dpvsTarball('dpvs-v1', P1, 'int main(void) { return 0; }\n');
  const v2 = dpvsTarball('dpvs-v2', P1, 'int main(void) { return 1; } /* a DPVS-only change */\n');
  const v3 = dpvsTarball('dpvs-v3', { ...P1, '0003-c.patch': 'three\n' }, 'int main(void) { return 0; }\n');

  it('a DPVS-only change (same series, other sources) plans no DPDK rebuild', () => {
    const f = built(host(v1));
    expect(readFileSync(v1)).not.toEqual(readFileSync(v2));
    expect(dpdkBuildTask.plan(ctx(host(v1), f)).changes).toEqual([]);
    expect(dpdkBuildTask.plan(ctx(host(v2), f)).changes).toEqual([]);
  });

  it('a changed series (a patch added) rebuilds DPDK', () => {
    const f = built(host(v1));
    expect(ids(dpdkBuildTask.plan(ctx(host(v3), f)).changes)).toContain('dpdk-build/compile');
  });

  it('meson options are passed to meson setup and are part of the stamp', () => {
    const f = built(host(v1));
    const opts = ['-Ddisable_drivers=net/ice,crypto/*', '-Dmax_lcores=64'];
    const cs = dpdkBuildTask.plan(ctx(host(v1, { meson_options: opts }), f)).changes;
    expect(ids(cs)).toContain('dpdk-build/compile');
    const setup = /meson setup [^\n]*/.exec(commands(cs))?.[0] ?? '';
    expect(setup).toContain("'-Denable_kmods=false' '-Ddisable_drivers=net/ice,crypto/*' '-Dmax_lcores=64'");
    expect(expectedStamp(dpdkSpec(host(v1, { meson_options: opts }), ctl)!, f, ctl)).toContain(
      '-Ddisable_drivers=net/ice,crypto/* -Dmax_lcores=64',
    );
  });

  it('a url source: the series comes from the host (probe of the cached tarball); unknown, the tarball stands in', () => {
    const url = { url: 'http://fx/dpvs-1.9.10.tar.gz', sha256: 'b'.repeat(64) };
    const h = host(v1, {}, { source: url });
    const spec = dpdkSpec(h, ctl)!;
    const f = facts();
    expect(seriesId(spec, f, ctl)).toBe(`tarball:${'b'.repeat(64)}`);
    const probe = dpdkBuildTask.probe!(h, inventoryOf([h])).execs?.[DPVS_SERIES_KEY];
    const cached = `/var/cache/dpvs-deploy/src/${'b'.repeat(64)}.tar.gz`;
    expect(probe).toMatchObject({ argv: ['sh', '-c', SERIES_SCRIPT, 'sh', cached, `patch/${SERIES}`] });
    // the read, run by the probe on this machine against the tarball where the host caches it
    const onHost = probeLocally({
      execs: {
        [DPVS_SERIES_KEY]: {
          ...(probe as object),
          argv: ['sh', '-c', SERIES_SCRIPT, 'sh', v1, `patch/${SERIES}`],
          onlyIf: v1,
        },
      },
    });
    f.outputs[DPVS_SERIES_KEY] = onHost.outputs[DPVS_SERIES_KEY]!;
    expect(seriesId(spec, f, ctl)).toBe(seriesId(dpdkSpec(host(v1), ctl)!, facts(), ctl));
  });

  it('a url source: the series is computed once per cached tarball and recorded next to it; later probes read the record, not the tarball', () => {
    const url = { url: 'http://fx/dpvs-1.9.10.tar.gz', sha256: 'b'.repeat(64) };
    const h = host(v1, {}, { source: url });
    const spec = dpdkSpec(h, ctl)!;
    const onHost = seriesOnHost(spec, ctl)!;
    expect(onHost.memo).toBe(`${onHost.tarball}.series-patch_${SERIES}`);
    // this machine stands in for the host: the tarball in a cache directory of its own
    const cacheDir = path.join(tmp, 'host-cache');
    mkdirSync(cacheDir, { recursive: true });
    const local = path.join(cacheDir, path.basename(onHost.tarball));
    writeFileSync(local, readFileSync(v1));
    const here = { tarball: local, patchDir: onHost.patchDir, memo: seriesMemoPath(local, onHost.patchDir) };
    const expected = seriesId(dpdkSpec(host(v1), ctl)!, facts(), ctl);
    // the tarball is cached (its digest), the series not recorded yet: the script runs on the host
    const cached = (): Facts => {
      const f = facts();
      f.files[onHost.tarball] = { exists: true, sha256: url.sha256, mode: '0644', content: null };
      return f;
    };
    const first = probeLocally(dpvsSeries.request(here));
    expect(dpvsSeries.read(first)).toEqual({ hash: expected, memoised: false });
    const f1 = cached();
    Object.assign(f1.outputs, first.outputs);
    const plan1 = dpdkSourceTask.plan(ctx(h, f1)).changes;
    const record = plan1.find((c) => c.id === 'dpdk-source/dpvs-series');
    expect(record?.steps.map((s) => (s.kind === 'exec' ? s.command : s.kind))).toEqual([
      verifyCachedCommand(onHost.tarball, url.sha256, 'DPVS 1.9.10 source'),
      recordSeriesCommand(onHost),
    ]);
    expect(seriesId(spec, f1, ctl)).toBe(expected);
    // the record step, run here: the memo holds the hash
    execFileSync('sh', ['-c', recordSeriesCommand(here)]);
    expect(readFileSync(here.memo, 'utf8')).toBe(`${expected}\n`);
    // the next probe reads the memo; the script does not run (its `otherwise`)
    const second = probeLocally(dpvsSeries.request(here));
    expect(dpvsSeries.read(second)).toEqual({ hash: expected, memoised: true });
    expect(second.outputs[DPVS_SERIES_KEY]).toEqual({ code: 0, stdout: '' });
    const f2 = cached();
    Object.assign(f2.outputs, second.outputs);
    expect(ids(dpdkSourceTask.plan(ctx(h, f2)).changes)).not.toContain('dpdk-source/dpvs-series');
    expect(seriesId(spec, f2, ctl)).toBe(expected);
    // a tarball not cached yet: its fetch records the series as its last step
    const fetch = dpdkSourceTask.plan(ctx(h, facts())).changes.find((c) => c.id === 'dpdk-source/dpvs');
    expect(fetch?.steps.at(-1)).toEqual({ kind: 'exec', command: recordSeriesCommand(onHost) });
    // a tarball without that series records nothing
    const empty = { ...here, patchDir: 'patch/dpdk-stable-99.11.1', memo: `${here.memo}-none` };
    execFileSync('sh', ['-c', recordSeriesCommand(empty)]);
    expect(spawnSync('test', ['-e', empty.memo]).status).toBe(1);
  });

  it('the stamp the build writes (series and compiler computed on the host) equals the planned one', () => {
    const h = host(v1);
    const spec = dpdkSpec(h, ctl)!;
    spec.layout = { ...spec.layout, root: path.join(tmp, 'stamp', '20.11.10') };
    mkdirSync(stagingDir(spec), { recursive: true });
    const f = facts();
    f.outputs[COMPILER_OUTPUT] = {
      code: 0,
      stdout: execFileSync('sh', ['-c', COMPILER_COMMAND], { encoding: 'utf8' }),
    };
    const r = spawnSync('sh', ['-c', stampScript(spec, stampHead(spec, f, ctl), v1, 'c'.repeat(64))], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const written = readFileSync(path.join(stagingDir(spec), 'build.stamp'), 'utf8');
    expect(written).toBe(expectedStamp(spec, f, ctl));
    expect(written).toMatch(new RegExp(`^dpvs-patches=[0-9a-f]{64} patch/${SERIES}$`, 'm'));
    expect(written).not.toContain('c'.repeat(64));
  });
});

describe('DPVS release id: a DPDK rebuild rebuilds DPVS, a DPVS-only change rebuilds DPVS only', () => {
  const v1 = dpvsTarball('dpvs-r1', P1, 'int main(void) { return 0; }\n');
  const v2 = dpvsTarball('dpvs-r2', P1, 'int main(void) { return 2; }\n');
  const rel = (h: ResolvedHost) => releaseOf(h, inventoryOf([h]));

  /** Facts of a host with `h`'s DPDK build recorded and `h`'s DPVS release installed and current. */
  function deployed(h: ResolvedHost): Facts {
    const f = built(h);
    const r = rel(h);
    f.files[r.stamp] = { exists: true, sha256: null, mode: '0644', content: r.stampContent };
    return dpvsReleases.project(f, { current: r.dir, releases: [] });
  }
  const plans = (h: ResolvedHost, f: Facts) => ({
    dpdk: ids(dpdkBuildTask.plan(ctx(h, f)).changes),
    dpvs: ids(dpvsBuildTask.plan(ctx(h, f)).changes),
  });

  it('deployed as planned: neither builds', () => {
    const h = host(v1);
    expect(plans(h, deployed(h))).toEqual({ dpdk: [], dpvs: [] });
  });

  it.each([
    ['dpdk.meson_options', host(v1, { meson_options: ['-Dmax_lcores=64'] })],
    ['another DPDK tarball', host(v1, { source: { url: 'http://fx/dpdk.tar.xz', sha256: 'd'.repeat(64) } })],
    ['dpdk.march', host(v1, { march: 'haswell' })],
    ['dpvs.kni (rte_kni built)', host(v1, {}, { kni: true })],
  ])('%s: DPDK rebuilds, and DPVS gets a new release built against it', (_what, changed) => {
    const f = deployed(host(v1));
    expect(rel(changed).id).not.toBe(rel(host(v1)).id);
    const p = plans(changed, f);
    expect(p.dpdk).toContain('dpdk-build/compile');
    expect(p.dpvs).toEqual([`dpvs-build/release/${rel(changed).id}`, 'dpvs-build/current']);
  });

  it('a DPVS-only change (other DPVS tarball, same series; dpvs.build_env): DPVS rebuilds, DPDK does not', () => {
    const f = deployed(host(v1));
    for (const changed of [host(v2), host(v1, {}, { build_env: { CFLAGS: '-O2' } })]) {
      const p = plans(changed, f);
      expect(p.dpdk).toEqual([]);
      expect(p.dpvs).toEqual([`dpvs-build/release/${rel(changed).id}`, 'dpvs-build/current']);
    }
  });

  it('the host-written stamp lines (compiler, series) do not move the release: a fresh host plans once', () => {
    const h = host(v1);
    const noGcc = r630().build();
    const f = deployed(h);
    expect(releaseOf(h, inventoryOf([h])).stampContent).toContain('"dpdkBuild":"');
    expect(expectedStamp(dpdkSpec(h, ctl)!, noGcc, ctl)).not.toBe(expectedStamp(dpdkSpec(h, ctl)!, f, ctl));
    // the same release whether gcc was known at plan time or not
    expect(dpvsBuildTask.plan(ctx(h, f)).changes).toEqual([]);
  });
});

describe('DPDK build stamp: the running kernel only where kernel modules are built', () => {
  const v1 = dpvsTarball('dpvs-kernel', P1, 'int main(void) { return 0; }\n');
  const on = (release: string, flags?: string[]): Facts => {
    const b = r630().kernel({ release }).output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n');
    const f = b.build();
    if (flags) f.cpu.flags = flags;
    return f;
  };

  it('a userspace build (kni off): hosts on different kernels share the stamp, which names the machine', () => {
    const spec = dpdkSpec(host(v1, { march: 'default' }), ctl)!;
    const a = expectedStamp(spec, on('6.1.0-18-amd64', ['sse4_2']), ctl);
    const b = expectedStamp(spec, on('6.18.44-custom', ['sse4_2', 'avx512f']), ctl);
    expect(a).toBe(b);
    expect(a).toMatch(/^machine=x86_64$/m);
    expect(a).not.toMatch(/^kernel=/m);
    expect(a).not.toMatch(/^cpu=/m);
    // a builder on another kernel: this host receives the build instead of building it
    const h1 = host(v1, { march: 'default' });
    const h0 = { ...host(v1, { march: 'default' }), name: 'builder' } as ResolvedHost;
    const facts = new Map([
      ['builder', on('6.18.44-custom')],
      ['lb1', on('6.1.0-18-amd64')],
    ]);
    const inventory = inventoryOf([h0, h1]);
    const cs = dpdkBuildTask.plan({
      host: h1,
      inventory,
      facts: facts.get('lb1')!,
      fleet: fleetOf(inventory, facts),
    }).changes;
    expect(commands(cs)).not.toContain('meson setup');
    expect(
      cs.flatMap((c) => c.steps).some((s) => s.kind === 'copy-from-host' && s.sourceHost === 'builder'),
    ).toBe(true);
  });

  it('-march=native: the CPU flags stay in the stamp; kni on: the kernel does', () => {
    const native = dpdkSpec(host(v1), ctl)!;
    expect(expectedStamp(native, on('6.1.0-18-amd64', ['sse4_2']), ctl)).not.toBe(
      expectedStamp(native, on('6.1.0-18-amd64', ['sse4_2', 'avx512f']), ctl),
    );
    const kni = dpdkSpec(host(v1, { march: 'default' }, { kni: true }), ctl)!;
    const a = expectedStamp(kni, on('6.1.0-18-amd64'), ctl);
    expect(a).toMatch(/^kernel=6\.1\.0-18-amd64 x86_64$/m);
    expect(a).not.toBe(expectedStamp(kni, on('6.18.44-custom'), ctl));
  });
});

describe('dpdk-build predicts what meson would refuse', () => {
  const v1 = dpvsTarball('dpvs-p', P1, 'x\n');

  it('rte_kni on a kernel build tree where make kernelversion fails: the host stops at plan, naming the cause', () => {
    const h = host(v1, {}, { kni: true });
    expect(dpdkBuildTask.probe!(h, inventoryOf([h])).execs?.[KBUILD_KEY]).toEqual(
      kbuild.request(null).execs?.[KBUILD_KEY],
    );
    const f = facts();
    f.outputs[KBUILD_KEY] = { code: 2, stdout: "make: *** No rule to make target 'kernelversion'.  Stop." };
    const cs = dpdkBuildTask.plan(ctx(h, f)).changes;
    expect(ids(cs)).toEqual(['dpdk-build/build']);
    const problem = cs[0]!.steps[0]!.kind === 'exec' ? (cs[0]!.steps[0]!.problem ?? '') : '';
    expect(problem).toMatch(
      /^DPDK 20\.11\.10 build: rte_kni cannot be built: \/lib\/modules\/\S+\/build is not a usable/,
    );
    expect(problem).toContain("No rule to make target 'kernelversion'");
    expect(problem).toContain('set dpvs.kni: false');
    // a usable tree, or none yet (the packages task installs the headers): the build is planned
    for (const out of [
      { code: 0, stdout: '6.1.85' },
      { code: 2, stdout: 'absent' },
      { code: 127, stdout: '' },
    ]) {
      f.outputs[KBUILD_KEY] = out;
      expect(commands(dpdkBuildTask.plan(ctx(h, f)).changes)).toContain("'-Denable_kmods=true'");
    }
    // kni off: no kernel modules, no probe, -Denable_kmods=false
    const off = host(v1);
    expect(dpdkBuildTask.probe!(off, inventoryOf([off])).execs?.[KBUILD_KEY]).toBeUndefined();
    expect(commands(dpdkBuildTask.plan(ctx(off, f)).changes)).toContain("'-Denable_kmods=false'");
  });

  it('the kbuild read runs in the probe: absent, then a build dir whose make has no kernelversion target fails', () => {
    const dir = path.join(tmp, 'kb');
    expect(kbuild.read(probeLocally(kbuild.request(dir)))).toEqual({ state: 'absent' });
    mkdirSync(path.join(dir, 'build'), { recursive: true });
    writeFileSync(path.join(dir, 'build', 'Makefile'), 'all:\n\t@true\n');
    const r = kbuild.read(probeLocally(kbuild.request(dir)));
    expect(r.state).toBe('fail');
    expect(r.state === 'fail' && r.message).toMatch(/kernelversion/);
    writeFileSync(path.join(dir, 'build', 'Makefile'), 'kernelversion:\n\t@echo 6.1.85\n');
    expect(kbuild.read(probeLocally(kbuild.request(dir)))).toEqual({ state: 'ok' });
    // without -Dkernel_dir: the running kernel's tree, the release filled in by the probe
    expect(kbuild.request(null).execs?.[KBUILD_KEY]).toMatchObject({
      argv: ['make', '-sC', `/lib/modules/${RUNNING_KERNEL}/build`, 'kernelversion'],
    });
  });

  it('meson options on a make build (DPDK 18.11) stop the host with the reason', () => {
    const h = r630Host({
      name: 'lb1',
      dpvs: { version: '1.8.12', source: { file: v1 } },
      dpdk: {
        version: '18.11.2',
        source: { url: 'http://fx/d.tar.xz', sha256: 'a'.repeat(64) },
        driver: 'igb_uio',
        meson_options: ['-Dmax_lcores=8'],
      },
    } as Partial<ResolvedHost>);
    const cs = dpdkBuildTask.plan(ctx(h, facts())).changes;
    expect(cs[0]!.summary).toContain('dpdk.meson_options is for meson builds');
  });
});

describe('inventory: dpdk.meson_options', () => {
  const inv = (opts: string) => `version: 1
hosts:
  lb1:
    address: 10.0.0.11
    roles: [balancer]
    dpdk:
      meson_options: ${opts}
`;
  const errors = inventoryErrorLines;

  it('accepts -Dkey=value entries', () => {
    expect(errors(inv(`['-Ddisable_drivers=net/ice,crypto/*', -Dmax_lcores=64, -Dtests=false]`))).toEqual([]);
  });

  it('rejects a malformed entry at its position, with the expected form', () => {
    const e = errors(inv(`[-Dmax_lcores=64, disable_drivers=net/ice]`)).join('\n');
    expect(e).toMatch(/inv\.yaml:7:\d+/);
    expect(e).toContain('dpdk.meson_options[1]');
    expect(e).toContain('expected a meson option -Dkey=value');
  });

  it('rejects the options dpvs-deploy sets itself, naming the inventory key to use', () => {
    const e = errors(inv(`[-Dprefix=/x, -Dmachine=haswell, -Denable_kmods=false]`)).join('\n');
    expect(e).toContain('-Dprefix is set by dpvs-deploy from dpdk.build_dir');
    expect(e).toContain('-Dmachine is set by dpvs-deploy from dpdk.march');
    expect(e).toContain('-Denable_kmods is set by dpvs-deploy from dpvs.kni');
    expect(errors(inv(`[-Dconstructor=1]`))).toEqual([]);
  });
});

describe('inventory: dpvs.build_env', () => {
  const inv = (env: string) => `version: 1
hosts:
  lb1:
    address: 10.0.0.11
    roles: [balancer]
    dpvs:
      build_env: ${env}
`;
  const errors = inventoryErrors;

  it('accepts variables, refuses bad names, multi-line values and what dpvs-deploy sets', () => {
    expect(errors(inv(`{ CFLAGS: '-Wno-error=array-bounds -Wno-error=deprecated-declarations' }`))).toBe('');
    expect(errors(inv(`{ 'BAD-NAME': x }`))).toContain(
      'expected an environment variable name such as CFLAGS',
    );
    expect(errors(inv(`{ CFLAGS: "a\\nb" }`))).toContain('a value must be one line');
    const own = errors(inv(`{ PKG_CONFIG_PATH: /x }`));
    expect(own).toContain('PKG_CONFIG_PATH is set by dpvs-deploy for the DPVS build');
    expect(own).toMatch(/inv\.yaml:7:\d+/);
  });
});

describe('a failed DPDK build names its cause on its last line (run with a stand-in meson)', () => {
  function failWith(output: string): string {
    const bin = mkdtempSync(path.join(tmp, 'bin-'));
    writeFileSync(path.join(bin, 'meson'), `#!/bin/sh\nprintf '%s\\n' ${JSON.stringify(output)}\nexit 1\n`, {
      mode: 0o755,
    });
    const spec = dpdkSpec(host(dpvsTarball('dpvs-f', P1, 'x\n'), {}, { kni: true }), ctl)!;
    spec.layout = { ...spec.layout, root: mkdtempSync(path.join(tmp, 'root-')) };
    mkdirSync(stagingDir(spec), { recursive: true });
    const r = spawnSync('sh', ['-c', compileScript(spec)], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    expect(r.status).toBe(1);
    return r.stderr.trimEnd().split('\n').at(-1) ?? '';
  }

  it("meson's kernel-module refusal: the tool's diagnosis", () => {
    const last = failWith(
      'kernel/linux/meson.build:28:1: ERROR: Problem encountered: Cannot compile kernel modules as requested - are kernel headers installed?',
    );
    expect(last).toMatch(
      /^cause: DPDK 20\.11\.10 could not build its kernel modules \(rte_kni, -Denable_kmods=true\): \/lib\/modules\/\S+\/build is not a usable kernel build tree; .*set dpvs\.kni: false$/,
    );
  });

  it('any other error: the build log’s first error line', () => {
    expect(failWith('config/meson.build:1:0: ERROR: Dependency "numa" not found')).toBe(
      'cause: config/meson.build:1:0: ERROR: Dependency "numa" not found',
    );
  });
});

describe('DPVS build once: the CPU target is the -march named, the flags only for native', () => {
  const v1 = dpvsTarball('dpvs-march', P1, 'int main(void) { return 0; }\n');
  it('a builder with other CPU flags builds for a host with march default; with native each builds', () => {
    const flags = (fl: string[]): Facts => {
      const f = facts();
      f.cpu.flags = fl;
      return f;
    };
    for (const [march, expected] of [
      ['default', { kind: 'copy', from: 'builder' }],
      ['native', { kind: 'build' }],
    ] as const) {
      const lb = host(v1, { march });
      const b = { ...host(v1, { march }), name: 'builder' } as ResolvedHost;
      const inv = inventoryOf([b, lb]);
      const fleet = new Map([
        ['builder', flags(['sse4_2', 'avx512f'])],
        ['lb1', flags(['sse4_2'])],
      ]);
      expect(buildTargetKey(fleet.get('lb1')!, march) === buildTargetKey(fleet.get('builder')!, march)).toBe(
        march !== 'native',
      );
      expect(provisionOf(lb, fleetOf(inv, fleet), fleet.get('lb1')!, releaseOf(lb, inv))).toEqual(expected);
    }
  });
});

describe('rte_kni for a named kernel (-Dkernel_dir): a build host builds the fleet kernel modules', () => {
  const v1 = dpvsTarball('dpvs-kdir', P1, 'int main(void) { return 0; }\n');
  const KDIR = '-Dkernel_dir=/lib/modules/6.1.0-18-amd64';
  const on = (release: string): Facts =>
    r630().kernel({ release }).output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n').build();
  const kni = (name: string, opts: string[]): ResolvedHost =>
    ({ ...host(v1, { march: 'default', meson_options: opts }, { kni: true }), name }) as ResolvedHost;

  it('hosts on different running kernels share the module build for the kernel_dir named; the probe checks it', () => {
    const b = kni('builder', [KDIR]);
    const lb = kni('lb1', [KDIR]);
    const fb = on('6.18.44-custom');
    const fl = on('6.1.0-18-amd64');
    const st = expectedStamp(dpdkSpec(b, ctl)!, fb, ctl);
    expect(st).toBe(expectedStamp(dpdkSpec(lb, ctl)!, fl, ctl));
    expect(st).toMatch(/^kernel=\/lib\/modules\/6\.1\.0-18-amd64 x86_64$/m);
    const fleet = new Map([
      ['builder', fb],
      ['lb1', fl],
    ]);
    const inv = inventoryOf([b, lb]);
    const cs = dpdkBuildTask.plan({
      host: lb,
      inventory: inv,
      facts: fl,
      fleet: fleetOf(inv, fleet),
    }).changes;
    expect(
      cs.flatMap((c) => c.steps).some((x) => x.kind === 'copy-from-host' && x.sourceHost === 'builder'),
    ).toBe(true);
    expect(dpdkBuildTask.probe!(b, inventoryOf([b])).execs?.[KBUILD_KEY]).toEqual(
      kbuild.request('/lib/modules/6.1.0-18-amd64').execs?.[KBUILD_KEY],
    );
    expect(dpdkBuildTask.probe!(kni('x', []), inventoryOf([b])).execs?.[KBUILD_KEY]).toEqual(
      kbuild.request(null).execs?.[KBUILD_KEY],
    );
    // the builder lacks those headers: the plan says which tree, before building
    fb.outputs[KBUILD_KEY] = { code: 2, stdout: 'make: *** No such file or directory.  Stop.' };
    // a new planning pass: the fleet is grouped again on the changed facts
    const bad = dpdkBuildTask.plan({
      host: b,
      inventory: inv,
      facts: fb,
      fleet: fleetOf(inv, fleet),
    }).changes;
    expect(bad.map((c) => c.summary).join('\n')).toContain(
      'rte_kni cannot be built: /lib/modules/6.1.0-18-amd64/build is not a usable kernel build tree',
    );
  });

  it('a host that would load rte_kni built for another kernel: kmods says so before anything changes', () => {
    const lb = kni('lb1', [KDIR]);
    const spec = dpdkSpec(lb, ctl)!;
    const other = wantedModules(spec, on('6.1.0-99-amd64'), false).find((m) => m.name === 'rte_kni');
    expect(other?.unavailable).toMatch(
      /rte_kni\.ko is built for kernel 6\.1\.0-18-amd64 \(dpdk\.meson_options -Dkernel_dir=\/lib\/modules\/6\.1\.0-18-amd64\) but this host runs 6\.1\.0-99-amd64/,
    );
    const same = wantedModules(spec, on('6.1.0-18-amd64'), false).find((m) => m.name === 'rte_kni');
    expect(same).toMatchObject({ params: { carrier: 'on' } });
    expect(same?.unavailable).toBeUndefined();
  });
});
