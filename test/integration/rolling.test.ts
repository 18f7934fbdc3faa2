/**
 * Rolling dpvs starts over 4 lab balancers with rollout.serial 1: one host at a time (the transcripts
 * record each host's batch), and a failed health gate on the second host (its dpvs cannot get its mbuf
 * pool: pktpool_size far beyond its hugepages) stops the third and fourth. Run under the lab lock:
 *   npm run build && flock /tmp/dd-lab.lock npx vitest run test/integration/rolling.test.ts
 */
import { asRoot } from '../support/root.js';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labCli, runCli, writeLabInventory, type CliResult, type ReportDoc } from './cli-support.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labSsh, stopLab } from '../lab/harness.js';
import { FIXTURES_URL } from '../lab/lab.js';
import { buildFixtures } from '../lab/fixtures/build.js';
import { labPaths } from '../lab/paths.js';

const root = asRoot;
let work: string;

const cli = (args: string[], timeoutMs = 1_500_000): Promise<CliResult> => runCli(args, timeoutMs);

describe.skipIf(!root)('rolling dpvs restarts over 4 balancers', () => {
  let generated: string;
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'dpvs-rolling-'));
    generated = path.join(work, 'lab4.yaml');
    const up = await labCli(['up', '--balancers', '4', '--realservers', '0', '--inventory', generated]);
    if (up.code !== 0) throw new Error(`lab up failed:\n${up.stdout}${up.stderr}`);
    // the lab serves .lab/fixtures/www; the DPDK/DPVS tarballs are built into it (cached by sources)
    await buildFixtures(labPaths().www);
  }, 900_000);
  afterAll(async () => {
    await stopLab();
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  it('serial 1: one host per batch, in order; lb2 fails its health gate and lb3, lb4 are not started', async () => {
    const inv = writeLabInventory(generated, path.join(work, 'inventory.yaml'), FIXTURES_URL, (d) => {
      d.rollout = { serial: 1 };
      for (const [name, h] of Object.entries(d.hosts)) {
        if (!(h.roles as string[]).includes('balancer')) continue;
        delete h.keepalived;
        h.nics = [
          { name: 'dpdk0', match: { pci: '0000:00:10.0' }, rx: { queues: 1 }, tx: { queues: 1 } },
          { name: 'dpdk1', match: { pci: '0000:00:10.1' }, rx: { queues: 1 }, tx: { queues: 1 } },
        ];
        if (name === 'lb2') h.dpvs = { ...(h.dpvs as object), pktpool_size: 4194303, start_timeout_s: 15 };
      }
    });
    const runs = path.join(work, 'runs');
    const report = path.join(work, 'report.json');
    const apply = await cli([
      'apply',
      inv,
      '--yes',
      '--limit',
      'lb1,lb2,lb3,lb4',
      '--run-dir',
      runs,
      '--report-json',
      report,
    ]);
    expect(apply.code, apply.stdout + apply.stderr).toBe(1);
    const r = JSON.parse(readFileSync(report, 'utf8')) as ReportDoc;
    const status = Object.fromEntries(r.hosts.map((h) => [h.host, h.status]));
    expect(status).toEqual({ lb1: 'changed', lb2: 'failed', lb3: 'skipped', lb4: 'skipped' });
    const lb2 = r.hosts.find((h) => h.host === 'lb2');
    expect(lb2?.error).toContain('dpvs log (journalctl -u dpvs -n 50)');
    expect(lb2?.error).toMatch(/Cannot init mbuf pool/);
    // the headline names dpvs's own cause (rte_exit's "Cause: ..." from the journal), and the gate gave
    // up on the first exit instead of waiting out start_timeout_s
    expect((lb2?.error ?? '').split('\n')[0]).toContain('Cannot init mbuf pool on socket');
    expect(lb2?.error).not.toContain('timed out after');
    // the transcripts: lb1 in batch 1, lb2 in batch 2, none for lb3/lb4
    const runDir = path.join(
      runs,
      readdirSync(runs)
        .filter((d) => d.includes('apply'))
        .sort()
        .at(-1) ?? '',
    );
    const transcript = (h: string): string => {
      const f = readdirSync(runDir).find((x) => x.startsWith(h));
      return f ? readFileSync(path.join(runDir, f), 'utf8') : '';
    };
    expect(transcript('lb1')).toMatch(/rolling batch 1\/4/);
    expect(transcript('lb2')).toMatch(/rolling batch 2\/4/);
    expect(transcript('lb3')).not.toMatch(/rolling batch/);
    expect((await labSsh('lb1', 'systemctl is-active dpvs')).stdout.trim()).toBe('active');
    for (const h of ['lb3', 'lb4'])
      expect((await labSsh(h, 'systemctl is-active dpvs')).stdout.trim()).not.toBe('active');
  }, 2_400_000);
});
