/**
 * Saved plans, stale-plan refusal, host locks, rollback and secrets, on the lab's balancers over real SSH
 * with the real CLI (issue: plans/rollback). Starts from inventories/lab.yaml applied to lb1 and lb2, then:
 * plan --out → apply plan.json applies exactly the saved changes (a re-probe of an unchanged balancer,
 * counters and all, keeps its fingerprint); a fact or an LB object (a real server's weight) changed by
 * hand on lb2 between plan and apply refuses lb2, naming what changed, and applies lb1; a lock held by
 * a live apply on lb1 fails the second apply with the owner, a dead owner's lock is stale and broken
 * only with --break-lock; a keepalived auth_pass
 * reaches the host's keepalived.conf but no plan file, report, JUnit, transcript or terminal output;
 * rollback restores lb2's NIC drivers and its previous dpvs release. Run under the lab lock:
 *   npm run build && flock /tmp/dd-lab.lock npx vitest run test/integration/plans.test.ts
 */
import { asRoot } from '../support/root.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures } from '../lab/fixtures/build.js';
import { ensureLab, labSsh, stopLab } from '../lab/harness.js';
import { labPaths } from '../lab/paths.js';
import { labInventoryCopy, runCli } from './cli-support.js';

const root = asRoot;
const LIMITS = '/etc/security/limits.d/90-dpvs-deploy.conf';
const HP0 = '/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages';
const DPVS_BIN = '/opt/dpvs/current/bin';
let work: string;

async function cli(args: string[], timeoutMs = 1_500_000): Promise<{ code: number; out: string }> {
  const r = await runCli(args, timeoutMs);
  return { code: r.code, out: r.stdout + r.stderr };
}

async function on(host: string, command: string): Promise<string> {
  const r = await labSsh(host, command);
  if (r.code !== 0) throw new Error(`${host}: ${command}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

type Doc = {
  hosts: Record<string, Record<string, unknown>>;
  groups: Record<string, { vars: Record<string, unknown> }>;
};
/** inventories/lab.yaml with absolute paths (it lives in a temp dir), edited. */
function inventory(name: string, edit: (d: Doc) => void = () => undefined): string {
  return labInventoryCopy(work, name, edit);
}

const withNofile = (n: number) => (d: Doc) => {
  d.groups.balancers!.vars.nofile = n;
};

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe.skipIf(!root)('saved plans, stale plans, locks, secrets and rollback on the lab', () => {
  let base: string;
  beforeAll(async () => {
    await ensureLab();
    await buildFixtures(labPaths().www);
    work = mkdtempSync(path.join(tmpdir(), 'plans-it-'));
    base = inventory('lab.yaml');
    const apply = await cli([
      'apply',
      base,
      '--yes',
      '--limit',
      'lb1,lb2',
      '--run-dir',
      path.join(work, 'runs0'),
    ]);
    if (apply.code !== 0) throw new Error(`the lab balancers did not apply:\n${apply.out}`);
  }, 1_800_000);
  afterAll(async () => {
    await stopLab();
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  it('plan --out then apply plan.json applies exactly the saved changes; a secret appears nowhere', async () => {
    const secret = `Zq${Math.random().toString(36).slice(2, 8)}`; // VRRP passwords are 8 characters
    const inv = inventory('secret.yaml', (d) => {
      withNofile(700001)(d);
      for (const h of ['lb1', 'lb2']) {
        const k = d.hosts[h]!.keepalived as Record<string, unknown>;
        k.auth_pass = secret;
      }
    });
    const planFile = path.join(work, 'plan.json');
    const runs = path.join(work, 'runs1');
    const plan = await cli(['plan', inv, '--limit', 'lb1,lb2', '--out', planFile, '--run-dir', runs]);
    expect(plan.code, plan.out).toBe(2);
    const saved = JSON.parse(readFileSync(planFile, 'utf8')) as {
      hosts: { host: string; changes: { id: string; task: string }[] }[];
    };
    const ids = (h: string) => saved.hosts.find((x) => x.host === h)!.changes.map((c) => c.id);
    expect(ids('lb1').some((id) => id.startsWith('nofile'))).toBe(true);
    expect(ids('lb1').some((id) => id.startsWith('keepalived'))).toBe(true);

    const show = await cli(['show', planFile]);
    expect(show.code, show.out).toBe(2);

    const report = path.join(work, 'report.json');
    const junit = path.join(work, 'junit.xml');
    const apply = await cli([
      'apply',
      planFile,
      '--yes',
      '--run-dir',
      runs,
      '--report-json',
      report,
      '--junit',
      junit,
    ]);
    expect(apply.code, apply.out).toBe(0);
    const r = JSON.parse(readFileSync(report, 'utf8')) as { hosts: { host: string; changed: number }[] };
    for (const h of ['lb1', 'lb2'])
      expect(r.hosts.find((x) => x.host === h)?.changed, `${h} changes applied = changes saved`).toBe(
        ids(h).length,
      );
    expect(await on('lb1', `cat ${LIMITS}`)).toContain('root hard nofile 700001');
    expect(await on('lb1', 'cat /etc/keepalived/keepalived.conf')).toContain(secret);

    const again = await cli(['plan', inv, '--limit', 'lb1,lb2', '--no-diff', '--run-dir', runs]);
    expect(again.code, again.out).toBe(0);

    const outputs = [plan.out, show.out, apply.out, again.out];
    for (const f of filesUnder(work).filter((f) => !f.endsWith('.yaml')))
      outputs.push(`${f}\n${readFileSync(f, 'utf8')}`);
    const leaks = outputs.filter((o) => o.includes(secret)).map((o) => o.split('\n')[0]);
    expect(leaks, 'the secret in plan, report, JUnit, transcripts or terminal output').toEqual([]);
    expect(outputs.length).toBeGreaterThan(8); // transcripts, plan.json, report and JUnit were read
  }, 900_000);

  it('a host whose facts changed after plan --out is refused; the others are applied', async () => {
    const inv = inventory('stale.yaml', withNofile(700002));
    const planFile = path.join(work, 'stale-plan.json');
    const plan = await cli([
      'plan',
      inv,
      '--limit',
      'lb1,lb2',
      '--out',
      planFile,
      '--run-dir',
      path.join(work, 'runs2'),
    ]);
    expect(plan.code, plan.out).toBe(2);
    const lb2Before = await on('lb2', `cat ${LIMITS}`);
    const pages = (await on('lb2', `cat ${HP0}`)).trim();
    await on('lb2', `echo ${Number(pages) + 8} > ${HP0}`); // changed by hand between plan and apply
    try {
      const apply = await cli(['apply', planFile, '--yes', '--run-dir', path.join(work, 'runs2')]);
      expect(apply.code, apply.out).toBe(1);
      expect(apply.out).toMatch(/lb2: refused: stale plan/);
      expect(apply.out).toMatch(/hugepages/);
      expect(await on('lb1', `cat ${LIMITS}`)).toContain('root hard nofile 700002');
      expect(await on('lb2', `cat ${LIMITS}`)).toBe(lb2Before);
    } finally {
      await on('lb2', `echo ${pages} > ${HP0}`);
    }
  }, 900_000);

  it('a host whose LB state changed after plan --out (a real server weight, by hand) is refused, naming it', async () => {
    // only a typed reading changes (ipvsadm -ln), none of the fact sections: the fingerprint holds it
    const inv = inventory('stale-lb.yaml', withNofile(700004));
    const planFile = path.join(work, 'stale-lb-plan.json');
    const runs = path.join(work, 'runs2b');
    const plan = await cli(['plan', inv, '--limit', 'lb1,lb2', '--out', planFile, '--run-dir', runs]);
    expect(plan.code, plan.out).toBe(2);
    const lb2Before = await on('lb2', `cat ${LIMITS}`);
    const rs = '-t 10.0.96.204:80 -r 192.168.229.1:80 -b';
    await on('lb2', `${DPVS_BIN}/ipvsadm -e ${rs} -w 7`); // changed by hand between plan and apply
    try {
      const apply = await cli(['apply', planFile, '--yes', '--run-dir', runs]);
      expect(apply.code, apply.out).toBe(1);
      expect(apply.out).toMatch(/lb2: refused: stale plan/);
      expect(apply.out).toMatch(/readings\.lb-state\.state\.realServers\[\d+\]\.weight: 1 → 7/);
      expect(apply.out).not.toMatch(/lb1: refused/);
      expect(await on('lb1', `cat ${LIMITS}`)).toContain('root hard nofile 700004');
      expect(await on('lb2', `cat ${LIMITS}`)).toBe(lb2Before);
    } finally {
      await on('lb2', `${DPVS_BIN}/ipvsadm -e ${rs} -w 1`);
    }
  }, 900_000);

  it('a lock held by a live apply fails the second apply with its owner; a dead owner needs --break-lock', async () => {
    const inv = inventory('lock.yaml', withNofile(700003));
    const runs = path.join(work, 'runs3');
    const holder = spawn('sleep', ['600'], { stdio: 'ignore' });
    const owner = {
      controlHost: hostname(),
      pid: holder.pid,
      started: new Date().toISOString(),
      command: 'dpvs-deploy apply other.yaml',
      user: userInfo().username,
    };
    await on(
      'lb1',
      `mkdir -p /var/lib/dpvs-deploy/lock && printf '%s\\n' '${JSON.stringify(owner)}' > /var/lib/dpvs-deploy/lock/owner`,
    );
    try {
      const held = await cli(['apply', inv, '--yes', '--limit', 'lb1', '--run-dir', runs]);
      expect(held.code, held.out).toBe(1);
      expect(held.out).toContain(`pid ${holder.pid}`);
      expect(held.out).toContain('another apply is running');
      expect(await on('lb1', `cat ${LIMITS}`)).not.toContain('700003');

      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      const stale = await cli(['apply', inv, '--yes', '--limit', 'lb1', '--run-dir', runs]);
      expect(stale.code, stale.out).toBe(1);
      expect(stale.out).toContain('the lock is stale; rerun with --break-lock');
      expect(await on('lb1', `cat ${LIMITS}`)).not.toContain('700003');

      const broken = await cli(['apply', inv, '--yes', '--limit', 'lb1', '--break-lock', '--run-dir', runs]);
      expect(broken.code, broken.out).toBe(0);
      expect(await on('lb1', `cat ${LIMITS}`)).toContain('root hard nofile 700003');
      expect((await labSsh('lb1', 'test -e /var/lib/dpvs-deploy/lock')).code).not.toBe(0); // released
    } finally {
      holder.kill('SIGKILL');
      await labSsh('lb1', 'rm -rf /var/lib/dpvs-deploy/lock');
    }
  }, 900_000);

  it('rollback restores the NIC drivers and the previous dpvs release', async () => {
    // a site-patched DPVS 1.9.10 (the fixture tarball plus one file): a new release on lb2
    const p = labPaths();
    const tree = path.join(work, 'patched');
    await execa('mkdir', ['-p', tree]);
    await execa('tar', ['-xzf', path.join(p.www, 'dpvs-1.9.10.tar.gz'), '-C', tree]);
    const top = readdirSync(tree)[0]!;
    writeFileSync(path.join(tree, top, 'SITE-PATCH'), 'site patch 1\n');
    const patched = path.join(work, 'dpvs-1.9.10-site.tar.gz');
    await execa('tar', ['-czf', patched, '-C', tree, top]);
    const inv = inventory('patched.yaml', (d) => {
      const dpvs = d.groups.balancers!.vars.dpvs as Record<string, unknown>;
      dpvs.source = { file: patched };
    });
    const runs = path.join(work, 'runs4');
    const first = (await on('lb2', 'readlink /opt/dpvs/current')).trim();
    const apply = await cli(['apply', inv, '--yes', '--limit', 'lb2', '--run-dir', runs]);
    expect(apply.code, apply.out).toBe(0);
    const second = (await on('lb2', 'readlink /opt/dpvs/current')).trim();
    expect(second).not.toBe(first);

    const status = async () => on('lb2', 'dpdk-devbind.py --status-dev net');
    const bound = await status();
    expect(bound.split('Network devices using kernel driver')[0]).toMatch(
      /0000:00:10\.0 .*drv=uio_pci_generic/,
    );

    const rb = await cli(['rollback', inv, '--yes', '--limit', 'lb2', '--run-dir', runs]);
    expect(rb.code, rb.out).toBe(0);
    const after = await status();
    const kernel = after.split('Network devices using kernel driver')[1] ?? '';
    expect(kernel).toMatch(/0000:00:10\.0 .*drv=i40e/);
    expect(kernel).toMatch(/0000:00:10\.1 .*drv=i40e/);
    expect((await on('lb2', 'readlink /opt/dpvs/current')).trim()).toBe(first);

    // and forward again, so the lab is left as the inventory says
    const back = await cli(['apply', base, '--yes', '--limit', 'lb2', '--run-dir', runs]);
    expect(back.code, back.out).toBe(0);
  }, 1_800_000);
});
