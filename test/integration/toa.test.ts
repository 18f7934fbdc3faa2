/**
 * toa/uoa on lab real servers, end to end over real SSH (needs root and the lab; run under the lab lock:
 * `flock /tmp/dd-lab.lock npx vitest run test/integration/toa.test.ts`).
 *
 * Uses the built CLI: `npm run build` first.
 *
 * Lab: rs1 and rs2 on one kernel (rs1 has headers, rs2 installs them), rs3 on another kernel, rs4 on a
 * kernel that no repository has headers for. One build per kernel, copies to the others, rs4 fails
 * with the package it looked for, the next plan of the others is empty and verify passes.
 */
import { asRoot } from '../support/root.js';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { buildFixtures } from '../lab/fixtures/build.js';
import { labSsh, stopLab } from '../lab/harness.js';
import { FIXTURES_URL, up } from '../lab/lab.js';
import { labSshDefaults } from '../lab/inventory.js';
import { labPaths, repoRoot } from '../lab/paths.js';
import { newestTranscripts } from './cli-support.js';
import type { LabHostProfile } from '../lab/profile-types.js';

const K3 = '5.14.0-427.13.1.el9_4.x86_64';
const K4 = '5.14.0-999.1.1.el9_9.x86_64';
const BIN = join(repoRoot(), 'bin', 'dpvs-deploy.js');
const canRun = asRoot;

let work: string;
let inventory: string;
let profiles: LabHostProfile[];

/** The built CLI (`npm run build` first: playbooks resolve from dist/), over real SSH. */
async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const r = await execa('node', [BIN, ...argv, '--run-dir', join(work, 'runs')], {
    reject: false,
    all: true,
    timeout: 900_000,
    env: { NO_COLOR: '1' },
  });
  return { code: r.exitCode ?? -1, out: r.all ?? '' };
}

const transcripts = (command: string): Record<string, string> =>
  newestTranscripts(join(work, 'runs'), command);

async function on(host: string, command: string): Promise<string> {
  const r = await labSsh(host, command);
  return r.stdout.trim();
}

describe.skipIf(!canRun)('toa.ko / uoa.ko on lab real servers', () => {
  beforeAll(async () => {
    const paths = labPaths();
    const r = await up({
      paths,
      shape: { balancers: 0, realservers: 4, kernels: { rs3: K3, rs4: K4 }, noHeaders: ['rs4'] },
    });
    profiles = r.profiles;
    const manifest = await buildFixtures(paths.www);
    const dpvs = manifest.artifacts.find((a) => a.kind === 'dpvs' && a.version === '1.9.10');
    if (!dpvs) throw new Error('no DPVS 1.9.10 fixture');
    work = mkdtempSync(join(tmpdir(), 'dd-toa-'));
    inventory = join(work, 'inventory.yaml');
    const hosts: Record<string, unknown> = {};
    for (const p of profiles.filter((x) => x.roles.includes('realserver')))
      hosts[p.name] = {
        address: p.address,
        roles: ['realserver'],
        ...(p.name === 'rs1' || p.name === 'rs2'
          ? { realserver: { uoa: true, uoa_params: { uoa_map_timeout: 120 } } }
          : {}),
      };
    writeFileSync(
      inventory,
      stringify({
        version: 1,
        defaults: {
          ssh: labSshDefaults(paths),
          // the packages task is kept out of the way (and BUILD-001, which expects it to install the
          // headers, waived): toa installs the headers itself and says which package was missing;
          // gcc and make are the machine's own in the lab
          packages: false,
          preflight: {
            waive: [{ id: 'BUILD-001', reason: 'the toa task installs the kernel headers itself' }],
          },
          dpvs: { version: '1.9.10', source: { url: `${FIXTURES_URL}${dpvs.name}`, sha256: dpvs.sha256 } },
        },
        hosts,
      }),
    );
  }, 600_000);

  afterAll(async () => {
    await stopLab();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('builds once per kernel, copies to the same kernel, fails the host without headers, converges', async () => {
    const kernel = (h: string): string => profiles.find((p) => p.name === h)?.kernel as string;
    expect(kernel('rs1')).toBe(kernel('rs2'));
    expect(kernel('rs3')).toBe(K3);

    const plan = await cli('plan', inventory, '--no-diff');
    expect(plan.code, plan.out).toBe(2);

    const apply = await cli('apply', inventory, '--yes', '--no-diff');
    expect(apply.code, apply.out).toBe(1);
    expect(apply.out).toMatch(/rs4 .*failed.*kernel-devel-5\.14\.0-999/);

    // the compiler ran on one host per kernel: rs1 (rs1/rs2's kernel) and rs3
    const t = transcripts('apply');
    expect(t.rs4).toContain(
      `rs4: no headers package for kernel ${K4}: dnf could not find kernel-devel-${K4} (install the matching headers or boot a kernel that has them)`,
    );
    const compiled = (h: string): number => (t[h]?.match(/CC \[M\]/g) ?? []).length;
    expect(compiled('rs1')).toBe(2); // toa.c and uoa.c
    expect(compiled('rs3')).toBe(1); // toa.c
    expect(compiled('rs2')).toBe(0);
    expect(compiled('rs4')).toBe(0);
    expect(t.rs2).toMatch(/copy rs1:\/opt\/dpvs-deploy\/rs-kmod\/[^ ]+\/toa\.ko ->/);
    expect(t.rs2).toMatch(/dnf install -y kernel-devel-/);

    for (const h of ['rs1', 'rs2', 'rs3']) {
      const k = kernel(h);
      expect(await on(h, 'test -e /proc/net/toa_stats && echo yes'), h).toBe('yes');
      expect(await on(h, 'cat /sys/module/toa/initstate'), h).toBe('live');
      expect(await on(h, 'cat /etc/modules-load.d/dpvs-deploy-toa.conf'), h).toContain('\ntoa');
      expect(await on(h, `test -f /lib/modules/${k}/extra/toa.ko && echo yes`), h).toBe('yes');
    }
    for (const h of ['rs1', 'rs2']) {
      expect(await on(h, 'cat /sys/module/uoa/parameters/uoa_map_timeout'), h).toBe('120');
      expect(await on(h, 'cat /etc/modprobe.d/dpvs-deploy-uoa.conf'), h).toContain(
        'options uoa uoa_map_timeout=120',
      );
      expect(await on(h, 'test -e /proc/net/uoa_stats && echo yes'), h).toBe('yes');
    }
    const sha = (h: string): Promise<string> =>
      on(h, `sha256sum < /lib/modules/${kernel(h)}/extra/toa.ko | cut -d' ' -f1`);
    expect(await sha('rs2')).toBe(await sha('rs1'));
    expect(await sha('rs3')).not.toBe(await sha('rs1')); // built for another kernel (vermagic)
    expect(await on('rs1', 'cut -d" " -f1 /var/lib/dpvs-deploy/state/rs-kmod-toa.loaded')).toBe(
      await sha('rs1'),
    );
    expect(await on('rs4', 'test -e /sys/module/toa && echo loaded || echo absent')).toBe('absent');

    const again = await cli('plan', inventory, '--limit', 'rs1,rs2,rs3', '--no-diff');
    expect(again.code, again.out).toBe(0);
    const verify = await cli('verify', inventory, '--limit', 'rs1,rs2,rs3');
    expect(verify.code, verify.out).toBe(0);
    expect(existsSync(join(work, 'runs'))).toBe(true);
  }, 900_000);

  it('verify finds a removed persistence file and apply puts it back', async () => {
    await on('rs3', 'rm -f /etc/modules-load.d/dpvs-deploy-toa.conf');
    const v = await cli('verify', inventory, '--limit', 'rs3');
    expect(v.code, v.out).toBe(2);
    expect(v.out).toContain('dpvs-deploy-toa.conf');
    const fixed = await cli('apply', inventory, '--limit', 'rs3', '--yes', '--no-diff');
    expect(fixed.code, fixed.out).toBe(0);
    expect(await on('rs3', 'cat /etc/modules-load.d/dpvs-deploy-toa.conf')).toContain('toa');
  }, 300_000);
});
