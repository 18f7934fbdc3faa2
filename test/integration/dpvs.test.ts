/**
 * dpvs-build, dpvs-conf and dpvs-service against the lab over real SSH, with the real CLI: a fresh
 * balancer ends with dpvs running on a dpvs.conf that matches the inventory and a passed health gate;
 * the next plan is empty; changing one queue count shows a dpvs.conf diff and a restart, and applying it
 * restarts only that host. Run under the lab lock:
 *   npm run build && flock /tmp/dd-lab.lock npx vitest run test/integration/dpvs.test.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, type CliResult } from './cli-support.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseDpvsConf } from '../../src/dpvsconf/index.js';
import { ensureLab, labSsh, stopLab } from '../lab/harness.js';
import { FIXTURES_URL } from '../lab/lab.js';
import { buildFixtures } from '../lab/fixtures/build.js';
import { labPaths } from '../lab/paths.js';

const root = process.getuid?.() === 0;
let work: string;
let inv: string;

// ---- helpers (inventory with the lab's fixture sources; the real CLI) ----
interface Artifact {
  name: string;
  kind: 'dpdk' | 'dpvs';
  version: string;
  sha256: string;
}
type HostDoc = Record<string, unknown>;
interface Doc {
  defaults?: Record<string, unknown>;
  hosts: Record<string, HostDoc>;
  rollout?: Record<string, unknown>;
}

function fixture(fixturesDir: string, fixturesUrl: string, kind: Artifact['kind'], version: string) {
  const m = JSON.parse(readFileSync(path.join(fixturesDir, 'manifest.json'), 'utf8')) as {
    artifacts: Artifact[];
  };
  const a = m.artifacts.find((x) => x.kind === kind && x.version === version);
  if (!a) throw new Error(`no ${kind} ${version} fixture in the lab manifest`);
  return { url: `${fixturesUrl}${a.name}`, sha256: a.sha256 };
}

/** The lab's inventory with absolute key paths, fixture sources and small dpvs pools; `edit` adjusts it. */
function writeInventory(from: string, out: string, edit: (d: Doc) => void): string {
  const p = labPaths();
  const doc = parse(readFileSync(from, 'utf8')) as Doc;
  const ssh = ((doc.defaults ??= {}).ssh ??= {}) as Record<string, unknown>;
  ssh.identity_file = p.identity;
  ssh.known_hosts = p.knownHosts;
  const dpdk = fixture(p.www, FIXTURES_URL, 'dpdk', '20.11.10');
  const dpvs = fixture(p.www, FIXTURES_URL, 'dpvs', '1.9.10');
  for (const h of Object.values(doc.hosts)) {
    if (!(h.roles as string[]).includes('balancer')) continue;
    h.dpdk = { version: '20.11.10', driver: 'uio_pci_generic', source: dpdk };
    // 65535 mbufs fit the lab's 512 x 2 MB pages per node
    h.dpvs = { version: '1.9.10', source: dpvs, pktpool_size: 65535, start_timeout_s: 60 };
    h.hugepages = { size: '2M', per_node: 512 };
    h.workers = 'auto';
  }
  edit(doc);
  writeFileSync(out, stringify(doc));
  return out;
}

const cli = (args: string[], timeoutMs = 1_500_000): Promise<CliResult> => runCli(args, timeoutMs);

async function dpvsPid(host: string): Promise<string> {
  return (await labSsh(host, 'cat /var/run/dpvs.pid 2>/dev/null')).stdout.trim();
}

const queues = (n: number) => [
  { name: 'dpdk0', match: { pci: '0000:00:10.0' }, rx: { queues: n }, tx: { queues: n } },
  { name: 'dpdk1', match: { pci: '0000:00:10.1' }, rx: { queues: n }, tx: { queues: n } },
];

function inventory(lb1Queues: number): string {
  return writeInventory(labPaths().defaultInventory, inv, (d) => {
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
