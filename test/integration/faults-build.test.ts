/**
 * Disk full during a build: lb1's dpdk.build_dir is a small tmpfs of its own (in its mount namespace)
 * that holds the unpacked DPDK tree but not its build. BUILD-004 (not enough disk for the builds) is
 * waived, as an operator in a hurry would, so the build starts and runs out of space. Expected: lb1
 * fails in dpdk-build with the build's own "No space left on device", lb2 (another build target) builds
 * and finishes, lb1 keeps no build stamp (the next plan still builds it) and no temp file, its lock is
 * released, and once the filesystem is gone a rerun converges to an empty plan.
 * Needs root and the lab.
 */
import { asRoot } from '../support/root.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures, type FixtureManifest } from '../lab/fixtures/build.js';
import { ensureLab, labSsh, stopLab } from '../lab/harness.js';
import { labPaths } from '../lab/paths.js';
import { runCli } from './cli-support.js';
import { labInventory, recordResult } from './reliability-support.js';

const root = asRoot;
const TASKS = 'hugepages,packages,dpdk-source,dpdk-build';
const SMALL = '/srv/small-build';
const STAMP = `${SMALL}/dpvs-deploy/dpdk/20.11.10/build.stamp`;
let work: string;
let manifest: FixtureManifest;

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runCli([...args, '--run-dir', path.join(work, 'runs'), '--tasks', TASKS]);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** KiB the unpacked fixture tree takes on a tmpfs (whole pages per file), from the tarball's listing. */
function unpackedKib(tarball: string): number {
  const listing = execFileSync('tar', ['-tvJf', tarball], { encoding: 'utf8' });
  let pages = 0;
  for (const line of listing.split('\n')) {
    const size = Number(line.trim().split(/\s+/)[2] ?? 0);
    if (line.startsWith('-')) pages += Math.max(1, Math.ceil(size / 4096));
  }
  return pages * 4;
}

describe.skipIf(!root)('disk full during a build', () => {
  let inv: string;
  beforeAll(async () => {
    await ensureLab();
    manifest = await buildFixtures(labPaths().www);
    work = mkdtempSync(path.join(tmpdir(), 'faults-build-'));
    // lb1 and lb2 only (their service trimmed to them, no keepalived), lb1 building on the small filesystem
    inv = labInventory(
      labPaths().defaultInventory,
      ['lb1', 'lb2'],
      {
        lb1: {
          dpdk: { build_dir: SMALL },
          preflight: {
            waive: [{ id: 'BUILD-004', reason: 'fault test: the build directory is a small filesystem' }],
          },
        },
      },
      work,
    );
  }, 600_000);
  afterAll(async () => {
    await labSsh('lb1', `umount ${SMALL} 2>/dev/null; rm -rf ${SMALL}`);
    await stopLab();
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  it('the host whose build fills its disk fails with the build error; the other builds; a rerun converges', async () => {
    const dpdk = manifest.artifacts.find((a) => a.kind === 'dpdk' && a.version === '20.11.10');
    if (!dpdk) throw new Error('no DPDK 20.11.10 fixture');
    // room for the unpacked tree (and the DPVS patches) and a little more: not for meson's build
    const kib = unpackedKib(path.join(labPaths().www, dpdk.name)) + 96;
    const m = await labSsh('lb1', `mkdir -p ${SMALL} && mount -t tmpfs -o size=${kib}k lab-small ${SMALL}`);
    expect(m.code, m.stderr).toBe(0);

    const plan = await cli(['plan', inv]);
    expect(plan.code, plan.out).toBe(2);
    expect(plan.out).toMatch(/WAIVED\s+BUILD-004 lb1/);

    const apply = await cli(['apply', inv, '--yes']);
    expect(apply.code, apply.out).toBe(1);
    expect(apply.out).toMatch(/lb1 \| dpdk-build \| failed/);
    expect(apply.out).toMatch(/No space left on device/);
    expect(apply.out).toMatch(/^\s+lb2\s+changed/m);
    expect(apply.out).toMatch(/^\s+lb1\s+failed/m);

    // nothing half-done is taken for done: no stamp, no temp files, the lock released
    const left = await labSsh(
      'lb1',
      `test -e ${STAMP} && echo STAMP; find /etc /var/lib/dpvs-deploy -name '.*.dpvs-deploy.*' 2>/dev/null; test -e /var/lib/dpvs-deploy/lock && echo LOCK; true`,
    );
    expect(left.stdout.trim()).toBe('');
    const again = await cli(['plan', inv, '--limit', 'lb1']);
    expect(again.code, again.out).toBe(2);
    expect(again.out).toMatch(/dpdk-build/);

    // the disk is freed (the small filesystem goes): a rerun converges
    const u = await labSsh('lb1', `umount ${SMALL}`);
    expect(u.code, u.stderr).toBe(0);
    const rerun = await cli(['apply', inv, '--yes']);
    expect(rerun.code, rerun.out).toBe(0);
    const final = await cli(['plan', inv]);
    expect(final.code, final.out).toBe(0);
    recordResult({
      suite: 'faults',
      name: `disk full during a build (lb1's dpdk.build_dir on a ${kib} KiB tmpfs, BUILD-004 waived)`,
      cases: 2,
      outcome:
        'lb1 failed in dpdk-build with "No space left on device", lb2 built and changed; no build stamp, temp file or lock left on lb1; rerun with the space back converged',
      passed: true,
    });
  }, 1_200_000);
});
