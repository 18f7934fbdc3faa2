/**
 * Kernel boot arguments and controlled reboots over 4 lab balancers (issue #25). The lab's PID 1 reboots
 * a host on `systemctl reboot` (sshd goes away and comes back, a new boot id, /proc/cmdline from the
 * host's own grub.cfg as the update-grub stand-in wrote it, boot-time hugepages and IOMMU groups).
 *
 * - rolling reboots with --serial 1: one host per batch, keepalived peers (lb1/lb2, lb3/lb4) never down
 *   together, each host back with the new command line and its 1G pages and isolated CPUs;
 * - a second apply changes nothing and does not reboot;
 * - rollback restores the previous command line (and reboots);
 * - a host that does not come back fails alone and stops the later batches.
 * Run under the lab lock:
 *   npm run build && flock /tmp/dd-lab.lock npx vitest run test/integration/reboot.test.ts
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labSsh, stopLab } from '../lab/harness.js';
import { labPaths } from '../lab/paths.js';
import { asRoot } from '../support/root.js';
import { parse, stringify } from 'yaml';
import { labCli, newestTranscripts, runCli, type LabDoc, type ReportDoc } from './cli-support.js';

const root = asRoot;
let work: string;
const LBS = ['lb1', 'lb2', 'lb3', 'lb4'];

/** The lab's record of a host's boots: one line per reboot, "<unix time> <cmdline>". */
function boots(host: string): Array<{ at: number; cmdline: string }> {
  const f = path.join(labPaths().hosts, host, 'boots');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ at: Number(l.slice(0, l.indexOf(' '))), cmdline: l.slice(l.indexOf(' ') + 1) }));
}

const cmdline = async (h: string) => (await labSsh(h, 'cat /proc/cmdline')).stdout.trim();
const bootId = async (h: string) => (await labSsh(h, 'cat /proc/sys/kernel/random/boot_id')).stdout.trim();

describe.skipIf(!root)('kernel boot arguments and rolling reboots over 4 balancers', () => {
  let generated: string;
  let inv: string;
  /** each balancer's /proc/cmdline before the first apply */
  const initial: Record<string, string> = {};
  const runs = () => path.join(work, 'runs');
  const report = () => path.join(work, 'report.json');
  const statusOf = () =>
    Object.fromEntries(
      (JSON.parse(readFileSync(report(), 'utf8')) as ReportDoc).hosts.map((h) => [h.host, h.status]),
    );

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'dpvs-reboot-'));
    generated = path.join(work, 'lab4.yaml');
    const up = await labCli([
      'up',
      '--balancers',
      '4',
      '--realservers',
      '0',
      '--no-fixtures',
      '--inventory',
      generated,
    ]);
    if (up.code !== 0) throw new Error(`lab up failed:\n${up.stdout}${up.stderr}`);
    // the generated inventory as it is (paths relative to its directory), with the kernel settings
    const d = parse(readFileSync(generated, 'utf8')) as LabDoc;
    d.rollout = { serial: 1 };
    for (const h of Object.values(d.hosts)) {
      if (!(h.roles as string[]).includes('balancer')) continue;
      h.hugepages = { size: '1G', per_node: 1 };
      h.kernel = {
        iommu: true,
        boot_hugepages: true,
        isolate_workers: true,
        cmdline: { add: ['transparent_hugepage=never'], remove: ['quiet'] },
        reboot_timeout_s: 60,
      };
    }
    inv = path.join(work, 'inventory.yaml');
    writeFileSync(inv, stringify(d));
  }, 900_000);
  afterAll(async () => {
    await stopLab();
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  const apply = (extra: string[] = []) =>
    runCli(
      [
        'apply',
        inv,
        '--yes',
        '--tasks',
        'kernel-cmdline',
        '--limit',
        LBS.join(','),
        '--run-dir',
        runs(),
        '--report-json',
        report(),
        ...extra,
      ],
      900_000,
    );

  it('plan shows the /etc/default/grub diff and a disruptive reboot before the hugepages', async () => {
    const r = await runCli(['plan', inv, '--limit', 'lb1', '--tasks', 'kernel-cmdline,hugepages'], 300_000);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toMatch(/kernel-cmdline\s+\/etc\/default\/grub: GRUB_CMDLINE_LINUX/);
    expect(r.stdout).toContain(
      '+GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=2',
    );
    expect(r.stdout).toContain('-GRUB_CMDLINE_LINUX_DEFAULT="quiet"');
    const rebootLine = r.stdout.split('\n').findIndex((l) => /kernel-cmdline\s+reboot/.test(l));
    const hpLine = r.stdout.split('\n').findIndex((l) => /\bhugepages\s+/.test(l));
    expect(rebootLine).toBeGreaterThan(0);
    expect(r.stdout.split('\n')[rebootLine]).toContain('disruptive');
    if (hpLine > 0) expect(rebootLine).toBeLessThan(hpLine);
  }, 600_000);

  it('serial 1: each balancer rebooted once, one at a time, keepalived peers never down together; back with the arguments, 1G pages and isolated CPUs', async () => {
    for (const h of LBS) initial[h] = await cmdline(h);
    const before = Object.fromEntries(await Promise.all(LBS.map(async (h) => [h, await bootId(h)] as const)));
    const r = await apply();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statusOf()).toEqual({ lb1: 'changed', lb2: 'changed', lb3: 'changed', lb4: 'changed' });
    const windows: Record<string, [number, number]> = {};
    for (const h of LBS) {
      expect(await bootId(h)).not.toBe(before[h]);
      const b = boots(h);
      expect(b).toHaveLength(1);
      const line = await cmdline(h);
      expect(line).toBe(b[0]?.cmdline);
      expect(line).toMatch(
        / intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=2 isolcpus=\S+ nohz_full=\S+ rcu_nocbs=\S+ transparent_hugepage=never$/,
      );
      expect(line).not.toMatch(/\bquiet\b/);
      const pages = await labSsh(
        h,
        'cat /sys/devices/system/node/node*/hugepages/hugepages-1048576kB/nr_hugepages',
      );
      expect(pages.stdout.trim().split('\n')).toEqual(['1', '1']);
      const iso = (await labSsh(h, 'cat /sys/devices/system/cpu/isolated')).stdout.trim();
      expect(iso).toBe(/isolcpus=(\S+)/.exec(line)?.[1]);
      expect(iso).not.toMatch(/^0\b/);
      expect((await labSsh(h, 'ls /sys/kernel/iommu_groups | wc -l')).stdout.trim()).not.toBe('0');
    }
    // the down windows, from the reboot request (the transcript's boot id line) to the boot (the lab's
    // record): one host at a time, so no two overlap, keepalived peers included
    const tr = newestTranscripts(runs(), 'apply');
    for (const h of LBS) {
      const m = /^(\S+) boot id before reboot: /m.exec(tr[h] ?? '');
      expect(m, `${h} transcript`).not.toBeNull();
      windows[h] = [Date.parse(m?.[1] ?? '') / 1000, boots(h)[0]?.at ?? 0];
      expect(tr[h]).toMatch(/rolling batch \d\/4/);
    }
    for (let i = 0; i < LBS.length; i++)
      for (let j = i + 1; j < LBS.length; j++) {
        const a = windows[LBS[i] as string] as [number, number];
        const b = windows[LBS[j] as string] as [number, number];
        expect(a[0] < b[1] && b[0] < a[1], `${LBS[i]} and ${LBS[j]} down together`).toBe(false);
      }
  }, 900_000);

  it('a second apply changes nothing and does not reboot', async () => {
    const ids = await Promise.all(LBS.map(bootId));
    const r = await apply();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(statusOf()).toEqual({ lb1: 'ok', lb2: 'ok', lb3: 'ok', lb4: 'ok' });
    expect(await Promise.all(LBS.map(bootId))).toEqual(ids);
    for (const h of LBS) expect(boots(h)).toHaveLength(1);
  }, 600_000);

  it('rollback restores the previous command line (one more reboot)', async () => {
    const r = await runCli(
      [
        'rollback',
        inv,
        '--yes',
        '--tasks',
        'kernel-cmdline',
        '--limit',
        'lb4',
        '--run-dir',
        runs(),
        '--report-json',
        report(),
      ],
      600_000,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await cmdline('lb4')).toBe(initial.lb4);
    expect(initial.lb4).toMatch(/ ro intel_iommu=on iommu=pt quiet$/);
    expect(boots('lb4')).toHaveLength(2);
    expect((await labSsh('lb4', 'grep ^GRUB_CMDLINE_LINUX= /etc/default/grub')).stdout.trim()).toBe(
      'GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"',
    );
  }, 600_000);

  it('a host that does not come back fails alone with a clear message; the later batches stop', async () => {
    // lb3 and lb4 get one more argument (a reboot each); lb3, in the first batch, never comes back
    const doc = readFileSync(inv, 'utf8')
      .replace(/reboot_timeout_s: 60/g, 'reboot_timeout_s: 30')
      .replace(/- transparent_hugepage=never/g, '- transparent_hugepage=never\n          - nmi_watchdog=0');
    writeFileSync(inv, doc);
    writeFileSync(path.join(labPaths().hosts, 'lb3', 'no-return'), '');
    const lb4 = await bootId('lb4');
    const r = await runCli(
      [
        'apply',
        inv,
        '--yes',
        '--tasks',
        'kernel-cmdline',
        '--limit',
        'lb3,lb4',
        '--run-dir',
        runs(),
        '--report-json',
        report(),
      ],
      600_000,
    );
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(statusOf()).toEqual({ lb3: 'failed', lb4: 'skipped' });
    const lb3 = (JSON.parse(readFileSync(report(), 'utf8')) as ReportDoc).hosts.find((h) => h.host === 'lb3');
    expect(lb3?.error).toMatch(/lb3: did not come back within 30 s after `systemctl reboot`/);
    expect(await bootId('lb4')).toBe(lb4);
    expect((await labSsh('lb4', 'grep -c nmi_watchdog /etc/default/grub')).stdout.trim()).toBe('0');
  }, 600_000);
});
