/**
 * DPDK source, patches, build, kernel modules and NIC binding on four lab balancers over real SSH with
 * the real CLI (`--tasks` keeps dpvs itself out of it), one per supported pairing plus a twin:
 *   lb1 Debian  DPVS 1.8.12 + DPDK 18.11.2 (make, igb_uio and rte_kni from the DPDK tree)
 *   lb2 Ubuntu  DPVS 1.9.10 + DPDK 20.11.10 (meson, uio_pci_generic, rte_kni)
 *   lb3 Debian  DPVS 1.10.2 + DPDK 24.11 (meson, vfio-pci, no KNI)
 *   lb4 Ubuntu  the same inputs as lb2: built once, the artifacts copied
 * Then: a user patch added rebuilds, the same list again does not; a checksum mismatch and a missing
 * patch block the host at plan time; a conflicting patch and a build failure fail it at apply naming
 * the patch (and hunk) or the build's last lines, leaving the previous build in place; rollback of
 * nic-binding restores the kernel drivers. Run under the lab lock:
 *   npm run build && flock /tmp/dd-lab.lock npx vitest run test/integration/dpdk.test.ts
 */
import { asRoot } from '../support/root.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildFixtures, type FixtureManifest } from '../lab/fixtures/build.js';
import { labSsh, stopLab } from '../lab/harness.js';
import { up } from '../lab/lab.js';
import { labSshDefaults } from '../lab/inventory.js';
import { labPaths, repoRoot } from '../lab/paths.js';
import { MODULES_COMMON } from '../lab/profiles.js';
import type { LabHostProfile } from '../lab/profile-types.js';
import { newestTranscripts, runCli } from './cli-support.js';

const root = asRoot;
const TASKS = 'hugepages,packages,dpdk-source,dpdk-build,kmods,nic-binding';
const PAIRS: Record<string, { dpvs: string; dpdk: string; driver: string }> = {
  lb1: { dpvs: '1.8.12', dpdk: '18.11.2', driver: 'igb_uio' },
  lb2: { dpvs: '1.9.10', dpdk: '20.11.10', driver: 'uio_pci_generic' },
  lb3: { dpvs: '1.10.2', dpdk: '24.11', driver: 'vfio-pci' },
  lb4: { dpvs: '1.9.10', dpdk: '20.11.10', driver: 'uio_pci_generic' },
};
const TWINS = ['lb2', 'lb4'];
const STAMP_20 = '/opt/dpvs-deploy/dpdk/20.11.10/build.stamp';

let work: string;
let profiles: LabHostProfile[];
let manifest: FixtureManifest;

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runCli([...args, '--run-dir', path.join(work, 'runs'), '--tasks', TASKS]);
  return { code: r.code, out: r.stdout + r.stderr };
}

async function on(host: string, command: string): Promise<string> {
  const r = await labSsh(host, command);
  return r.stdout;
}

const transcripts = (command: string): Record<string, string> =>
  newestTranscripts(path.join(work, 'runs'), command);

const compilerRuns = (t: string | undefined): number =>
  (t?.match(/\b(ninja -C|meson setup|make -C|make install)\b/g) ?? []).length;

function fixture(kind: 'dpdk' | 'dpvs', version: string): { file: string; sha256: string } {
  const a = manifest.artifacts.find((x) => x.kind === kind && x.version === version);
  if (!a) throw new Error(`no ${kind} ${version} fixture`);
  return { file: path.join(labPaths().www, a.name), sha256: a.sha256 };
}

/** A unified patch (a/ b/ labels, for patch -p1) turning `before` into `after` at `rel`. */
async function makePatch(name: string, rel: string, before: string, after: string): Promise<string> {
  const d = mkdtempSync(path.join(work, 'patch-'));
  writeFileSync(path.join(d, 'old'), before);
  writeFileSync(path.join(d, 'new'), after);
  const r = await execa('diff', ['-u', '--label', `a/${rel}`, '--label', `b/${rel}`, 'old', 'new'], {
    cwd: d,
    reject: false,
  });
  const file = path.join(work, name);
  writeFileSync(file, r.stdout + '\n');
  return file;
}

type HostEdit = (h: Record<string, unknown>, name: string) => void;
function inventory(name: string, edit: HostEdit = () => undefined): string {
  const p = labPaths();
  const hosts: Record<string, unknown> = {};
  for (const prof of profiles.filter((x) => x.roles.includes('balancer'))) {
    const pair = PAIRS[prof.name];
    if (!pair) continue;
    const h: Record<string, unknown> = {
      address: prof.address,
      roles: ['balancer'],
      expect: { numa_nodes: prof.numaNodes, smt: prof.smt },
      nics: [
        { name: 'dpdk0', match: { pci: '0000:00:10.0' } },
        { name: 'dpdk1', match: { pci: '0000:00:10.1' } },
      ],
      dpdk: { version: pair.dpdk, driver: pair.driver, source: fixture('dpdk', pair.dpdk) },
      dpvs: { version: pair.dpvs, source: fixture('dpvs', pair.dpvs) },
    };
    edit(h, prof.name);
    hosts[prof.name] = h;
  }
  const file = path.join(work, name);
  writeFileSync(
    file,
    stringify({
      version: 1,
      defaults: {
        ssh: labSshDefaults(p),
        hugepages: { size: '2M', per_node: 512 },
        workers: 'auto',
      },
      hosts,
    }),
  );
  return file;
}

const dpdkSection = (status: string): string => status.split('Network devices using kernel driver')[0] ?? '';
const kernelSection = (status: string): string =>
  status.split('Network devices using kernel driver')[1] ?? '';

describe.skipIf(!root)('DPDK build, modules and NIC binding for each pairing', () => {
  let base: string;
  beforeAll(async () => {
    // Debian's kernel package ships vhost/vhost_net (DPVS 1.10's virtio-user KNI); the lab's Debian
    // variant leaves them out for a preflight trip, so lb3 gets them back here
    const modules = { ...MODULES_COMMON, vhost: null, vhost_net: null };
    const r = await up({
      paths: labPaths(),
      shape: { balancers: 4, realservers: 0, overrides: { lb3: { availableModules: modules } } },
    });
    profiles = r.profiles;
    manifest = await buildFixtures(labPaths().www);
    work = mkdtempSync(path.join(tmpdir(), 'dpdk-it-'));
    base = inventory('base.yaml');
  }, 900_000);
  afterAll(async () => {
    await stopLab();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 300_000);

  it('fresh hosts: plan lists source, patches, build, modules, bindings; apply; the next plan is empty', async () => {
    const plan = await cli(['plan', base, '--no-diff']);
    expect(plan.code, plan.out).toBe(2);
    for (const h of Object.keys(PAIRS)) {
      const section = plan.out.split(/\n(?=\S)/).find((s) => s.startsWith(`${h} `)) ?? '';
      if (h === 'lb4') {
        // lb2's twin: no source, patches or compiler of its own
        expect(section, h).toMatch(
          /dpdk-build +receive the DPDK 20\.11\.10 build from lb2 \(identical target: built once\)/,
        );
        expect(section, h).not.toMatch(/dpdk-source |build DPDK/);
      } else {
        expect(section, h).toMatch(/dpdk-source /);
        expect(section, h).toMatch(/dpdk-build .*patch/);
        expect(section, h).toMatch(/dpdk-build .*build DPDK/);
      }
      expect(section, h).toMatch(/kmods /);
      expect(section, h).toMatch(/nic-binding .*0000:00:10\.0/);
    }
    const apply = await cli(['apply', base, '--yes']);
    expect(apply.code, apply.out).toBe(0);
    const again = await cli(['plan', base, '--no-diff']);
    expect(again.code, again.out).toBe(0);

    for (const [h, pair] of Object.entries(PAIRS)) {
      const status = await on(h, 'dpdk-devbind.py --status-dev net');
      const drv = pair.driver;
      expect(dpdkSection(status), `${h}\n${status}`).toMatch(new RegExp(`0000:00:10\\.0 .*drv=${drv}`));
      expect(dpdkSection(status), `${h}\n${status}`).toMatch(new RegExp(`0000:00:10\\.1 .*drv=${drv}`));
      // lsmod, as an operator checks: this machine's kernel has no /proc/modules to bind the lab's over
      // (CONFIG_MODULES is off), and the lab's lsmod reads the fake kernel's list
      const mods = await on(h, 'lsmod');
      expect(mods, h).toMatch(new RegExp(`^${drv.replace('-', '_')} `, 'm'));
      if (pair.dpdk !== '24.11') {
        expect(mods, h).toMatch(/^rte_kni /m);
        expect(await on(h, 'cat /sys/module/rte_kni/parameters/carrier'), h).toContain('on');
      }
    }

    // lb2 and lb4 have identical inputs: one build, the other receives the artifacts
    const t = transcripts('apply');
    const built = TWINS.filter((h) => compilerRuns(t[h]) > 0);
    expect(built, 'exactly one of the twins compiles').toHaveLength(1);
    const other = TWINS.find((h) => h !== built[0]) as string;
    expect(t[other]).toMatch(new RegExp(`copy ${built[0]}:\\S+ ->`));
    expect(await on(other, `cat ${STAMP_20}`)).toBe(await on(built[0] as string, `cat ${STAMP_20}`));
  }, 1_800_000);

  it('a user patch added rebuilds; the same patch list again does not compile', async () => {
    const readme = readFileSync(
      path.join(repoRoot(), 'test/lab/fixtures/src/dpdk-stable-20.11.10/README'),
      'utf8',
    );
    const site = await makePatch(
      '0100-site.patch',
      'README',
      readme,
      `${readme}Site patch applied by dpvs-deploy tests.\n`,
    );
    const inv = inventory('patched.yaml', (h, n) => {
      if (n === 'lb2') (h.dpdk as Record<string, unknown>).patches = [site];
    });
    const plan = await cli(['plan', inv, '--limit', 'lb2', '--no-diff']);
    expect(plan.code, plan.out).toBe(2);
    expect(plan.out).toMatch(/0100-site\.patch/);
    const apply = await cli(['apply', inv, '--yes', '--limit', 'lb2']);
    expect(apply.code, apply.out).toBe(0);
    expect(compilerRuns(transcripts('apply').lb2)).toBeGreaterThan(0);
    expect(await on('lb2', 'cat /opt/dpvs-deploy/dpdk/20.11.10/src/*/README')).toContain(
      'Site patch applied',
    );

    const same = await cli(['apply', inv, '--yes', '--limit', 'lb2']);
    expect(same.code, same.out).toBe(0);
    expect(same.out).toMatch(/Nothing to apply/);
    expect(compilerRuns(transcripts('apply').lb2)).toBe(0);
    base = inv; // lb2 now carries the site patch
  }, 1_800_000);

  it('a checksum mismatch and a missing patch block the host at plan time; others are not affected', async () => {
    const bad = inventory('bad-sum.yaml', (h, n) => {
      if (n === 'lb1') (h.dpdk as { source: { sha256: string } }).source.sha256 = 'f'.repeat(64);
      if (n === 'lb3') (h.dpdk as Record<string, unknown>).patches = [path.join(work, 'no-such.patch')];
    });
    const plan = await cli(['plan', bad, '--limit', 'lb1,lb3,lb4', '--no-diff']);
    expect(plan.code, plan.out).toBe(1);
    expect(plan.out).toMatch(/INPUT-001/);
    expect(plan.out).toMatch(/sha256 mismatch for DPDK 18\.11\.2 .*expected f{64}/);
    expect(plan.out).toMatch(/no-such\.patch/);
    const stamp = await on('lb1', 'cat /opt/dpvs-deploy/dpdk/18.11.2/build.stamp');
    const apply = await cli(['apply', bad, '--yes', '--limit', 'lb1,lb3,lb4']);
    expect(apply.code, apply.out).toBe(1);
    expect(apply.out).toMatch(/lb1 +blocked/);
    expect(apply.out).toMatch(/lb3 +blocked/);
    expect(apply.out).toMatch(/lb4 +(ok|changed)/);
    expect(await on('lb1', 'cat /opt/dpvs-deploy/dpdk/18.11.2/build.stamp')).toBe(stamp);
  }, 900_000);

  it('a conflicting patch and a build failure fail the host at apply, leaving the previous build', async () => {
    const stamp = await on('lb2', `cat ${STAMP_20}`);
    expect(stamp).not.toBe('');
    const conflict = await makePatch(
      '0200-conflict.patch',
      'README',
      'This line is not in the DPDK README.\nNor is this one.\n',
      'This line is not in the DPDK README.\nChanged.\n',
    );
    const inv1 = inventory('conflict.yaml', (h, n) => {
      if (n === 'lb2') (h.dpdk as Record<string, unknown>).patches = [conflict];
    });
    const a1 = await cli(['apply', inv1, '--yes', '--limit', 'lb2']);
    expect(a1.code, a1.out).toBe(1);
    expect(a1.out).toMatch(/0200-conflict\.patch/);
    expect(a1.out).toMatch(/[Hh]unk #1 FAILED/);
    expect(await on('lb2', `cat ${STAMP_20}`)).toBe(stamp);
    expect(dpdkSection(await on('lb2', 'dpdk-devbind.py --status-dev net'))).toMatch(/drv=uio_pci_generic/);

    const meson = readFileSync(
      path.join(repoRoot(), 'test/lab/fixtures/src/dpdk-stable-20.11.10/meson.build'),
      'utf8',
    );
    const broken = await makePatch(
      '0300-broken.patch',
      'meson.build',
      meson,
      `${meson}error('dd-lab: this build is broken on purpose')\n`,
    );
    const inv2 = inventory('broken.yaml', (h, n) => {
      if (n === 'lb2') (h.dpdk as Record<string, unknown>).patches = [broken];
    });
    const a2 = await cli(['apply', inv2, '--yes', '--limit', 'lb2']);
    expect(a2.code, a2.out).toBe(1);
    expect(a2.out).toMatch(/this build is broken on purpose/);
    expect(await on('lb2', `cat ${STAMP_20}`)).toBe(stamp);
  }, 1_800_000);

  it('rollback of nic-binding restores the recorded kernel drivers', async () => {
    const r = await runCli([
      'rollback',
      base,
      '--yes',
      '--limit',
      'lb3',
      '--tasks',
      'nic-binding',
      '--run-dir',
      path.join(work, 'runs'),
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const status = await on('lb3', 'dpdk-devbind.py --status-dev net');
    expect(kernelSection(status), status).toMatch(/0000:00:10\.0 .*drv=ixgbe/);
    expect(kernelSection(status), status).toMatch(/0000:00:10\.1 .*drv=ixgbe/);
    const back = await cli(['apply', base, '--yes', '--limit', 'lb3']);
    expect(back.code, back.out).toBe(0);
    expect(dpdkSection(await on('lb3', 'dpdk-devbind.py --status-dev net'))).toMatch(/drv=vfio-pci/);
  }, 900_000);
});
