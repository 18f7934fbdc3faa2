/**
 * dpvs-build, dpvs-conf and dpvs-service against the lab over real SSH, with the real CLI: a fresh
 * balancer ends with dpvs running on a dpvs.conf that matches the inventory and a passed health gate;
 * the next plan is empty; changing one queue count shows a dpvs.conf diff and a restart, and applying it
 * restarts only that host. Run under the lab lock:
 *   npm run build && flock /tmp/dd-lab.lock npx vitest run test/integration/dpvs.test.ts
 */
import { asRoot } from '../support/root.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, writeLabInventory, type CliResult } from './cli-support.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDpvsConf } from '../../src/dpvsconf/index.js';
import { ensureLab, labSsh, stopLab } from '../lab/harness.js';
import { FIXTURES_URL } from '../lab/lab.js';
import { buildFixtures } from '../lab/fixtures/build.js';
import { labPaths } from '../lab/paths.js';

const root = asRoot;
let work: string;
let inv: string;

const cli = (args: string[], timeoutMs = 1_500_000): Promise<CliResult> => runCli(args, timeoutMs);

async function dpvsPid(host: string): Promise<string> {
  return (await labSsh(host, 'cat /var/run/dpvs.pid 2>/dev/null')).stdout.trim();
}

const queues = (n: number) => [
  { name: 'dpdk0', match: { pci: '0000:00:10.0' }, rx: { queues: n }, tx: { queues: n } },
  { name: 'dpdk1', match: { pci: '0000:00:10.1' }, rx: { queues: n }, tx: { queues: n } },
];

function inventory(lb1Queues: number): string {
  return writeLabInventory(labPaths().defaultInventory, inv, FIXTURES_URL, (d) => {
    for (const [name, h] of Object.entries(d.hosts)) {
      if (!(h.roles as string[]).includes('balancer')) continue;
      h.nics = queues(name === 'lb1' ? lb1Queues : 2);
      delete h.keepalived;
    }
  });
}

describe.skipIf(!root)('dpvs on lab balancers', () => {
  beforeAll(async () => {
    await ensureLab();
    // the lab serves .lab/fixtures/www; the DPDK/DPVS tarballs are built into it (cached by sources)
    await buildFixtures(labPaths().www);
    work = mkdtempSync(path.join(tmpdir(), 'dpvs-it-'));
    inv = path.join(work, 'inventory.yaml');
  }, 600_000);
  afterAll(async () => {
    await stopLab();
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  it('fresh balancers: apply ends with dpvs running and healthy; the next plan is empty', async () => {
    inventory(2);
    const limit = ['--limit', 'lb1,lb2', '--run-dir', path.join(work, 'runs')];
    const plan = await cli(['plan', inv, ...limit]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(2);
    expect(plan.stdout).toContain('start dpvs');
    const apply = await cli(['apply', inv, '--yes', ...limit]);
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    for (const h of ['lb1', 'lb2']) {
      expect((await labSsh(h, 'systemctl is-active dpvs')).stdout.trim()).toBe('active');
      const link = await labSsh(h, 'DPVS_IPC_FILE=/var/run/dpvs.ipc /opt/dpvs/current/bin/dpip link show');
      expect(link.code).toBe(0);
      expect(link.stdout).toMatch(/dpdk0:[\s\S]*UP/);
      expect((await labSsh(h, 'readlink /opt/dpvs/current')).stdout).toMatch(
        /^\/opt\/dpvs\/releases\/1\.9\.10-/,
      );
      const conf = parseDpvsConf((await labSsh(h, 'cat /etc/dpvs.conf')).stdout);
      expect(conf.netif_defs.devices.map((d) => [d.name, d.rx.queue_number, d.tx.queue_number])).toEqual([
        ['dpdk0', 2, 2],
        ['dpdk1', 2, 2],
      ]);
      expect((await labSsh(h, 'cat /var/lib/dpvs-deploy/state/dpvs-running.json')).stdout).toContain(
        '"release":"1.9.10-',
      );
    }
    const again = await cli(['plan', inv, ...limit]);
    expect(again.code, again.stdout).toBe(0);
  }, 1_800_000);

  it('one queue count changed on lb1: a dpvs.conf diff and a restart of lb1 only', async () => {
    const limit = ['--limit', 'lb1,lb2', '--run-dir', path.join(work, 'runs')];
    const before = { lb1: await dpvsPid('lb1'), lb2: await dpvsPid('lb2') };
    expect(before.lb1).toMatch(/^\d+$/);
    inventory(1);
    const plan = await cli(['plan', inv, ...limit]);
    expect(plan.code, plan.stdout).toBe(2);
    expect(plan.stdout).toMatch(/-\s+queue_number\s+2/);
    expect(plan.stdout).toMatch(/\+\s+queue_number\s+1/);
    expect(plan.stdout).toContain('restart dpvs');
    const apply = await cli(['apply', inv, '--yes', ...limit]);
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    const after = { lb1: await dpvsPid('lb1'), lb2: await dpvsPid('lb2') };
    expect(after.lb1).not.toBe(before.lb1);
    expect(after.lb2).toBe(before.lb2);
    expect((await cli(['plan', inv, ...limit])).code).toBe(0);
  }, 900_000);
});
