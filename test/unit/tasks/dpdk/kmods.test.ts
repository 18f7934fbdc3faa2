/**
 * igb_uio from dpdk-kmods (dpdk.kmods) for DPDK 20.11+: the build stamp, the fetch, the kbuild step for
 * the kernel the modules are built for, the unpack of both source layouts (run for real), the kmods
 * task's parameters against the sampled module declarations (test/fixtures/upstream/kmods/modules.yaml).
 * BUILD-008 (modules that do not build on a kernel): test/unit/preflight/kmod-kernel.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import type { Facts } from '../../../../src/facts/types.js';
import type { ResolvedHost } from '../../../../src/inventory/types.js';
import type { Change } from '../../../../src/plan/change.js';
import type { PlanContext } from '../../../../src/plan/task.js';
import { dpdkBuildTask } from '../../../../src/tasks/dpdk-build.js';
import { dpdkSourceTask } from '../../../../src/tasks/dpdk-source.js';
import { igbUioScript, kmodsSrcDir, stagingDir, unpackScript } from '../../../../src/tasks/dpdk/scripts.js';
import { dpdkSpec } from '../../../../src/tasks/dpdk/spec.js';
import { COMPILER_OUTPUT, expectedStamp } from '../../../../src/tasks/dpdk/stamp.js';
import {
  EXTRA_OUTPUT,
  kmodsTask,
  MODPROBE_CONF,
  renderModprobeConf,
  wantedModules,
} from '../../../../src/tasks/kmods.js';
import { onControl } from '../../../support/control.js';
import { inventoryOf, r630, r630Host } from '../../../support/facts-builder.js';
import { inventoryErrors } from '../../../support/inventory-errors.js';
import { fleetOf } from '../../../../src/plan/fleet.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'dpdk-kmods-test-'));
const ctl = onControl(tmp);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface SampledParam {
  name: string;
  readable: boolean;
  values?: string[];
}
const SAMPLES = parse(
  readFileSync(new URL('../../../fixtures/upstream/kmods/modules.yaml', import.meta.url), 'utf8'),
) as {
  modules: Array<{ module: string; params: SampledParam[] }>;
  limits: Array<{ module: string; dpdk: string; from_kernel: string; cite: string[] }>;
};
const sampled = (m: string): SampledParam[] => SAMPLES.modules.find((x) => x.module === m)?.params ?? [];

/** A dpdk-kmods-like tarball: `layout` flat (Debian's dpdk-kmods-dkms) or upstream's linux/igb_uio. */
function kmodsTarball(name: string, layout: 'flat' | 'upstream', body = 'int x;\n'): string {
  const root = path.join(tmp, `${name}.d`);
  const dir =
    layout === 'flat'
      ? path.join(root, 'dpdk-kmods-0~1')
      : path.join(root, 'dpdk-kmods-1', 'linux', 'igb_uio');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'igb_uio.c'), body);
  writeFileSync(path.join(dir, 'Kbuild'), 'obj-m := igb_uio.o\n');
  const out = path.join(tmp, `${name}.tar.gz`);
  execFileSync('tar', ['-czf', out, '-C', root, '.']);
  return out;
}

const DPVS = path.join(tmp, 'dpvs-1.9.10.tar.gz');
writeFileSync(DPVS, 'not read by these tests');
/** Tarballs with just the shape unpackScript checks: DPDK's top directory, DPVS's patch series. */
mkdirSync(path.join(tmp, 'dpdk-fake.d', 'dpdk-stable-20.11.10'), { recursive: true });
mkdirSync(path.join(tmp, 'dpvs-fake.d', 'dpvs-1.9.10', 'patch', 'dpdk-stable-20.11.10'), { recursive: true });
writeFileSync(
  path.join(tmp, 'dpvs-fake.d', 'dpvs-1.9.10', 'patch', 'dpdk-stable-20.11.10', '0001.patch'),
  '\n',
);
const DPDK_TGZ = path.join(tmp, 'dpdk-fake.tar.gz');
const DPVS_TGZ = path.join(tmp, 'dpvs-fake.tar.gz');
execFileSync('tar', ['-czf', DPDK_TGZ, '-C', path.join(tmp, 'dpdk-fake.d'), 'dpdk-stable-20.11.10']);
execFileSync('tar', ['-czf', DPVS_TGZ, '-C', path.join(tmp, 'dpvs-fake.d'), 'dpvs-1.9.10']);

function host(
  dpdk: Record<string, unknown> = {},
  dpvs: Record<string, unknown> = {},
  name = 'lb1',
): ResolvedHost {
  return r630Host({
    name,
    dpvs: { version: '1.9.10', source: { file: DPVS }, kni: false, ...dpvs },
    dpdk: {
      version: '20.11.10',
      source: { url: 'http://fx/dpdk-20.11.10.tar.xz', sha256: 'a'.repeat(64) },
      driver: 'igb_uio',
      march: 'default',
      ...dpdk,
    },
  } as Partial<ResolvedHost>);
}

const on = (release: string): Facts =>
  r630().kernel({ release }).output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n').build();

function ctx(h: ResolvedHost, f: Facts): PlanContext {
  const inventory = inventoryOf([h]);
  return { host: h, inventory, facts: f, fleet: fleetOf(inventory, new Map([[h.name, f]])) };
}
const commands = (cs: Change[]): string =>
  cs.flatMap((c) => c.steps.map((s) => (s.kind === 'exec' ? s.command : s.kind))).join('\n');

describe('igb_uio from dpdk-kmods (dpdk.kmods): built by the DPDK build, part of its stamp', () => {
  const k1 = kmodsTarball('kmods-a', 'flat');
  const k2 = kmodsTarball('kmods-b', 'flat', 'int y; /* another dpdk-kmods */\n');

  it('the stamp names igb_uio and the dpdk-kmods tarball; another tarball rebuilds, driver uio_pci_generic drops both', () => {
    const f = on('6.1.0-18-amd64');
    const a = expectedStamp(dpdkSpec(host({ kmods: { file: k1 } }), ctl)!, f, ctl);
    expect(a).toMatch(/^kmods=igb_uio$/m);
    expect(a).toMatch(/^dpdk-kmods=[0-9a-f]{64}$/m);
    // modules are built for a kernel: it is in the stamp
    expect(a).toMatch(/^kernel=6\.1\.0-18-amd64 x86_64$/m);
    expect(expectedStamp(dpdkSpec(host({ kmods: { file: k2 } }), ctl)!, f, ctl)).not.toBe(a);
    const plain = expectedStamp(
      dpdkSpec(host({ kmods: { file: k1 }, driver: 'uio_pci_generic' }), ctl)!,
      f,
      ctl,
    );
    expect(plain).toMatch(/^kmods=none$/m);
    expect(plain).not.toMatch(/dpdk-kmods=/);
  });

  it('dpdk-source pushes the tarball; dpdk-build unpacks it and compiles igb_uio with kbuild for -Dkernel_dir', () => {
    const h = host({ kmods: { file: k1 }, meson_options: ['-Dkernel_dir=/lib/modules/6.1.0-50-amd64'] });
    const f = on('6.18.1-builder');
    const src = dpdkSourceTask.plan(ctx(h, f)).changes;
    const push = src.find((c) => c.id === 'dpdk-source/kmods');
    expect(push?.summary).toMatch(/^push dpdk-kmods source \(igb_uio\) from .*kmods-a\.tar\.gz/);
    expect(push?.steps.some((s) => s.kind === 'upload' && s.localPath === k1)).toBe(true);
    const build = dpdkBuildTask.plan(ctx(h, f)).changes;
    const all = commands(build);
    expect(all).toContain(kmodsSrcDir(dpdkSpec(h, ctl)!));
    expect(all).toContain('k=/lib/modules/6.1.0-50-amd64/build');
    expect(all).toContain('make -C "$k" M="$d" modules');
    expect(all).toContain(`${stagingDir(dpdkSpec(h, ctl)!)}/kmod/igb_uio.ko`);
    expect(build.find((c) => c.id === 'dpdk-build/compile')?.summary).toContain(
      'igb_uio from dpdk-kmods: make -C /lib/modules/6.1.0-50-amd64/build',
    );
    // the kbuild tree is probed before the build; a broken one stops the host at plan, naming igb_uio
    const kb = dpdkBuildTask.probe!(h, inventoryOf([h])).execs?.['dpdk-build-kbuild'];
    expect(kb).toMatchObject({
      argv: ['make', '-sC', '/lib/modules/6.1.0-50-amd64/build', 'kernelversion'],
      onlyIf: '/lib/modules/6.1.0-50-amd64/build',
    });
    // what the probe records when the tree is not there
    if (!kb || Array.isArray(kb) || !kb.otherwise)
      throw new Error('the kbuild read has no answer for a missing tree');
    f.outputs['dpdk-build-kbuild'] = kb.otherwise;
    const bad = dpdkBuildTask.plan(ctx(h, f)).changes;
    expect(bad.map((c) => c.summary).join('\n')).toContain(
      'igb_uio (dpdk.kmods) cannot be built: /lib/modules/6.1.0-50-amd64/build is missing',
    );
  });

  it('without -Dkernel_dir igb_uio builds for the running kernel', () => {
    const s = igbUioScript(dpdkSpec(host({ kmods: { file: k1 } }), ctl)!);
    expect(s).toContain('k=/lib/modules/$(uname -r)/build');
  });

  for (const layout of ['flat', 'upstream'] as const)
    it(`the unpack finds igb_uio.c in the ${layout} layout (run for real); a tarball without it is refused`, () => {
      const t = kmodsTarball(`kmods-${layout}`, layout);
      const h = host({ kmods: { file: t }, build_dir: path.join(tmp, `build-${layout}`) });
      const spec = dpdkSpec(h, ctl)!;
      const r = spawnSync('sh', ['-c', `${unpackScript(spec, DPDK_TGZ, DPVS_TGZ, t)} && echo "$d"`], {
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toMatch(
        layout === 'flat' ? /\/kmods-src\/dpdk-kmods-0~1$/ : /\/kmods-src\/dpdk-kmods-1\/linux\/igb_uio$/,
      );
      const none = path.join(tmp, `none-${layout}.tar.gz`);
      execFileSync('tar', ['-czf', none, '-C', tmp, 'dpvs-fake.d']);
      const bad = spawnSync('sh', ['-c', unpackScript(spec, DPDK_TGZ, DPVS_TGZ, none)], { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('the dpdk-kmods source (dpdk.kmods) has no igb_uio.c with its Kbuild');
    });
});

describe('kmods: igb_uio from the DPDK build with the sampled parameters', () => {
  const k1 = kmodsTarball('kmods-params', 'flat');

  it('installs and loads igb_uio after uio, with intr_mode read back and wc_activate only in modprobe.d', () => {
    const h = host({ kmods: { file: k1 }, igb_uio: { intr_mode: 'legacy', wc_activate: true } });
    const f = on('6.1.0-18-amd64');
    const spec = dpdkSpec(h, ctl)!;
    f.files[`${spec.layout.kmodDir}/igb_uio.ko`] = {
      exists: true,
      sha256: 'd'.repeat(64),
      mode: '0644',
      content: null,
    };
    const { changes } = kmodsTask.plan(ctx(h, f));
    expect(changes.map((c) => c.id)).toEqual([
      'kmods/install/igb_uio',
      'kmods/persist',
      'kmods/load/uio',
      'kmods/load/igb_uio',
    ]);
    const conf = changes[1]!.steps.find((s) => s.kind === 'write' && s.path === MODPROBE_CONF);
    expect(conf?.kind === 'write' && conf.content).toContain(
      'options igb_uio intr_mode=legacy wc_activate=1\n',
    );
    const load = changes[3]!.steps[0];
    expect(load?.kind === 'exec' && load.command).toContain('/sys/module/igb_uio/parameters/intr_mode');
    expect(load?.kind === 'exec' && load.command).not.toContain('parameters/wc_activate');
    // installed and loaded as asked: nothing more to do (wc_activate cannot be read back, so it is not checked)
    f.outputs[EXTRA_OUTPUT] = {
      code: 1,
      stdout: `${'d'.repeat(64)}  /lib/modules/${f.kernel.release}/extra/igb_uio.ko\n`,
    };
    for (const c of changes)
      for (const st of c.steps)
        if (st.kind === 'write')
          f.files[st.path] = { exists: true, sha256: null, mode: '0644', content: st.content };
    f.modules.push(
      { name: 'uio', params: {}, refcount: 1 },
      { name: 'igb_uio', params: { intr_mode: 'legacy' }, refcount: 0 },
    );
    expect(kmodsTask.plan(ctx(h, f)).changes).toEqual([]);
    expect(kmodsTask.verify!(ctx(h, f))).toEqual([]);
  });

  it('every parameter the tool writes is one the module declares; read back only where it has a sysfs file', () => {
    const h = host({ kmods: { file: k1 }, igb_uio: { intr_mode: 'msi', wc_activate: false } }, { kni: true });
    const mods = wantedModules(dpdkSpec(h, ctl)!, on('6.1.0-18-amd64'), false);
    for (const m of mods.filter((x) => x.name === 'igb_uio' || x.name === 'rte_kni')) {
      const decl = sampled(m.name);
      for (const [k, v] of Object.entries(m.params)) {
        const d = decl.find((p) => p.name === k);
        expect(d, `${m.name} ${k}`).toBeDefined();
        expect(d?.readable).toBe(true);
        if (d?.values) expect(d.values).toContain(v);
      }
      for (const [k, v] of Object.entries(m.hiddenParams ?? {})) {
        const d = decl.find((p) => p.name === k);
        expect(d?.readable, `${m.name} ${k}`).toBe(false);
        if (d?.values) expect(d.values).toContain(v);
      }
    }
    expect(renderModprobeConf(mods)).toContain('options igb_uio intr_mode=msi wc_activate=0\n');
    expect(renderModprobeConf(mods)).toContain('options rte_kni carrier=on\n');
  });

  it('igb_uio for 20.11 without dpdk.kmods and not installed: the plan names dpdk.kmods and the other drivers', () => {
    const m = wantedModules(dpdkSpec(host(), ctl)!, on('6.1.0-18-amd64'), false).find(
      (x) => x.name === 'igb_uio',
    );
    expect(m?.unavailable).toMatch(/set dpdk\.kmods to the dpdk-kmods source/);
    expect(m?.unavailable).toMatch(/uio_pci_generic or vfio-pci/);
  });

  it('built for another kernel (-Dkernel_dir) than the host runs: refused before anything changes', () => {
    const h = host({ kmods: { file: k1 }, meson_options: ['-Dkernel_dir=/lib/modules/6.1.0-50-amd64'] });
    const m = wantedModules(dpdkSpec(h, ctl)!, on('6.1.0-99-amd64'), false).find((x) => x.name === 'igb_uio');
    expect(m?.unavailable).toMatch(
      /^igb_uio\.ko is built for kernel 6\.1\.0-50-amd64 .* this host runs 6\.1\.0-99-amd64/,
    );
  });
});

describe('inventory: dpdk.kmods and dpdk.igb_uio', () => {
  const inv = (dpdk: string) => `version: 1
hosts:
  lb1:
    address: 10.0.0.11
    roles: [balancer]
    dpdk:
${dpdk}
`;
  const errors = inventoryErrors;

  it('accepts {file}, {url, sha256} and the igb_uio parameters', () => {
    expect(
      errors(
        inv('      kmods: {file: dpdk-kmods.tar.gz}\n      igb_uio: {intr_mode: legacy, wc_activate: true}'),
      ),
    ).toBe('');
    expect(
      errors(inv(`      kmods: {url: 'https://example.org/dpdk-kmods.tar.gz', sha256: ${'b'.repeat(64)}}`)),
    ).toBe('');
  });

  it('refuses a url without sha256, git, and an unknown interrupt mode, at their positions', () => {
    expect(errors(inv("      kmods: {url: 'https://example.org/k.tar.gz'}"))).toMatch(
      /inv\.yaml:7:\d+.*dpdk\.kmods/s,
    );
    expect(errors(inv("      kmods: {git: 'https://example.org/dpdk-kmods.git', ref: main}"))).toMatch(
      /dpdk\.kmods/,
    );
    const e = errors(inv('      igb_uio: {intr_mode: msi-x}'));
    expect(e).toMatch(/inv\.yaml:7:\d+/);
    expect(e).toContain('dpdk.igb_uio.intr_mode');
  });
});
