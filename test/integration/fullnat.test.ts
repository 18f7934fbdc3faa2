/**
 * The tutorial's two-arm FullNAT on the lab's keepalived pair, over real SSH with the real CLI:
 * inventories/lab.yaml applied leaves `dpip addr/route show` and `ipvsadm -ln` in the tutorial's form
 * (the lab's WAN port is dpdk1 where the tutorial's is dpdk2); the next plan is empty; removing a real
 * server from the inventory removes exactly it; an object added by hand is reported by `verify`, not
 * deleted; after a dpvs restart everything is back without an apply; stopping the master's keepalived
 * moves the VIP to the backup. Run under the lab lock:
 *   npm run build && flock /tmp/dd-lab.lock npx vitest run test/integration/fullnat.test.ts
 */
import { asRoot } from '../support/root.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labInventoryCopy, runCli } from './cli-support.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures } from '../lab/fixtures/build.js';
import { ensureLab, labSsh, stopLab } from '../lab/harness.js';
import { labPaths } from '../lab/paths.js';

const root = asRoot;
const ENV = 'DPVS_IPC_FILE=/var/run/dpvs.ipc';
const BIN = '/opt/dpvs/current/bin';
let work: string;

/** The CLI with this suite's run directory; `out` is stdout and stderr together. */
async function cli(args: string[], timeoutMs = 1_500_000): Promise<{ code: number; out: string }> {
  const r = await runCli([...args, '--run-dir', path.join(work, 'runs')], timeoutMs);
  return { code: r.code, out: r.stdout + r.stderr };
}

async function on(host: string, command: string): Promise<string> {
  const r = await labSsh(host, `${ENV} ${command}`);
  return r.stdout;
}

/** inventories/lab.yaml with absolute paths (it lives in a temp dir), edited. */
type Doc = { services: { real_servers: { address: string }[] }[] } & Record<string, unknown>;
function inventory(name: string, edit: (d: Doc) => void = () => undefined): string {
  return labInventoryCopy(work, name, edit);
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

describe.skipIf(!root)('tutorial FullNAT on the lab keepalived pair', () => {
  let inv: string;
  beforeAll(async () => {
    await ensureLab();
    await buildFixtures(labPaths().www);
    work = mkdtempSync(path.join(tmpdir(), 'fullnat-it-'));
    inv = inventory('lab.yaml');
  }, 600_000);
  afterAll(async () => {
    await stopLab();
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  it('apply leaves the tutorial addresses, routes and service; the next plan is empty', async () => {
    const apply = await cli(['apply', inv, '--yes', '--limit', 'lb1,lb2']);
    expect(apply.code, apply.out).toBe(0);
    const plan = await cli(['plan', inv, '--limit', 'lb1,lb2', '--no-diff']);
    expect(plan.code, plan.out).toBe(0);

    const routes = await on('lb1', `${BIN}/dpip route show`);
    for (const line of [
      'inet 192.168.229.204/32 via 0.0.0.0 src 0.0.0.0 dev dpdk0 mtu 1500 tos 0 scope host metric 0 proto auto',
      'inet 10.0.96.0/24 via 0.0.0.0 src 0.0.0.0 dev dpdk1 mtu 1500 tos 0 scope link metric 0 proto auto',
      'inet 192.168.229.0/24 via 0.0.0.0 src 0.0.0.0 dev dpdk0 mtu 1500 tos 0 scope link metric 0 proto auto',
      'inet 0.0.0.0/0 via 10.0.96.254 src 0.0.0.0 dev dpdk1 mtu 1500 tos 0 scope global metric 0 proto auto',
    ])
      expect(routes).toContain(line);
    expect(await on('lb1', `${BIN}/dpip addr show`)).toContain(
      'inet 192.168.229.204/32 scope global dpdk0\n     valid_lft forever preferred_lft forever',
    );
    const ln = await on('lb1', `${BIN}/ipvsadm -ln`);
    expect(ln).toContain(
      'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nTCP  10.0.96.204:80 rr\n',
    );
    // field for field: the tutorial's printed row has one space more than upstream's "%-28s" gives
    expect(ln).toMatch(/^ {2}-> 192\.168\.229\.1:80 +FullNat 1 +0 +0 *$/m);
    expect(ln).toMatch(/^ {2}-> 192\.168\.229\.2:80 +FullNat 1 +0 +0 *$/m);
    expect(await on('lb1', `${BIN}/ipvsadm -G`)).toContain('192.168.229.204');
    // the VRRP master holds the VIP (keepalived adds it); the backup does not
    expect(
      await waitFor(
        async () => (await on('lb1', `${BIN}/dpip addr show`)).includes('10.0.96.204/32'),
        30_000,
      ),
    ).toBe(true);
    expect(await on('lb2', `${BIN}/dpip addr show`)).not.toContain('10.0.96.204/32');
  }, 1_800_000);

  it('a real server removed from the inventory is removed, and only it', async () => {
    const fewer = inventory('fewer.yaml', (d) => {
      d.services[0]!.real_servers = d.services[0]!.real_servers.filter((r) => r.address !== '192.168.229.2');
    });
    const plan = await cli(['plan', fewer, '--limit', 'lb1']);
    expect(plan.code, plan.out).toBe(2);
    // one delete (that real server); the restore script and the record follow it
    const deletes = plan.out.split('\n').filter((l) => /^ {2}- /.test(l));
    expect(deletes, plan.out).toEqual([
      expect.stringMatching(
        /lb-services +delete real server 192\.168\.229\.2:80 FullNat weight 1 from tcp:10\.0\.96\.204:80/,
      ),
    ]);
    expect(plan.out).toMatch(/\$ \S*ipvsadm -d -t 10\.0\.96\.204:80 -r 192\.168\.229\.2:80\n/);
    expect(plan.out).not.toMatch(/ipvsadm -[dD] -t \S+ -r 192\.168\.229\.1/);
    const apply = await cli(['apply', fewer, '--yes', '--limit', 'lb1']);
    expect(apply.code, apply.out).toBe(0);
    const ln = await on('lb1', `${BIN}/ipvsadm -ln`);
    expect(ln).not.toContain('192.168.229.2:80');
    expect(ln).toContain('192.168.229.1:80');
    const back = await cli(['apply', inv, '--yes', '--limit', 'lb1']);
    expect(back.code, back.out).toBe(0);
  }, 600_000);

  it('a service removed from the inventory is removed, and only it', async () => {
    // a second service (the VIP's port 8080) managed by the tool, then dropped from the inventory
    const more = inventory('more.yaml', (d) => {
      const web = d.services[0] as Record<string, unknown>;
      d.services.push({
        ...web,
        name: 'alt',
        port: 8080,
        real_servers: [{ address: '192.168.229.1', port: 8080 }],
      } as unknown as Doc['services'][number]);
    });
    const added = await cli(['apply', more, '--yes', '--limit', 'lb1']);
    expect(added.code, added.out).toBe(0);
    expect(await on('lb1', `${BIN}/ipvsadm -ln`)).toContain('10.0.96.204:8080');

    const plan = await cli(['plan', inv, '--limit', 'lb1']);
    expect(plan.code, plan.out).toBe(2);
    const deletes = plan.out.split('\n').filter((l) => /^ {2}- /.test(l));
    expect(deletes, plan.out).toEqual([
      expect.stringMatching(/lb-services +delete service TCP 10\.0\.96\.204:8080 rr /),
    ]);
    expect(plan.out).toMatch(/\$ \S*ipvsadm -D -t 10\.0\.96\.204:8080\n/);
    expect(plan.out).not.toMatch(/ipvsadm -[dD] -t 10\.0\.96\.204:80\b(?!80)/);
    const apply = await cli(['apply', inv, '--yes', '--limit', 'lb1']);
    expect(apply.code, apply.out).toBe(0);
    const ln = await on('lb1', `${BIN}/ipvsadm -ln`);
    expect(ln).not.toContain('10.0.96.204:8080');
    expect(ln).toContain('192.168.229.1:80');
    expect(ln).toContain('192.168.229.2:80');
    const v = await cli(['verify', inv, '--limit', 'lb1', '--no-diff']);
    expect(v.code, v.out).toBe(0);
  }, 600_000);

  it('an object added by hand is reported by verify, not deleted', async () => {
    await on('lb1', `${BIN}/ipvsadm -A -t 10.0.96.205:8080 -s rr`);
    const v = await cli(['verify', inv, '--limit', 'lb1']);
    expect(v.code, v.out).toBe(2);
    expect(v.out).toContain('10.0.96.205');
    const plan = await cli(['plan', inv, '--limit', 'lb1']);
    expect(await on('lb1', `${BIN}/ipvsadm -ln`)).toContain('10.0.96.205:8080');
    expect(plan.code, plan.out).toBe(0); // nothing to apply: it is left alone
    expect(plan.out).toMatch(/\? unmanaged .*10\.0\.96\.205:8080/);
    expect(plan.out).not.toMatch(/ipvsadm -D -t 10\.0\.96\.205/);
    // asked for: prune_unmanaged deletes it
    const prune = inventory('prune.yaml', (d) => {
      (d.hosts as Record<string, Record<string, unknown>>).lb1!.prune_unmanaged = true;
    });
    const pruned = await cli(['apply', prune, '--yes', '--limit', 'lb1']);
    expect(pruned.code, pruned.out).toBe(0);
    expect(pruned.out).toMatch(/ipvsadm -D -t 10\.0\.96\.205:8080/);
    expect(await on('lb1', `${BIN}/ipvsadm -ln`)).not.toContain('10.0.96.205:8080');
    const v2 = await cli(['verify', inv, '--limit', 'lb1', '--no-diff']);
    expect(v2.code, v2.out).toBe(0);
  }, 600_000);

  it('after a dpvs restart everything is back without an apply', async () => {
    const r = await labSsh('lb1', 'systemctl restart dpvs');
    expect(r.code, r.stderr).toBe(0);
    expect(
      await waitFor(async () => (await on('lb1', `${BIN}/ipvsadm -ln`)).includes('192.168.229.2:80'), 60_000),
    ).toBe(true);
    const v = await cli(['verify', inv, '--limit', 'lb1', '--no-diff']);
    expect(v.code, v.out).toBe(0);
  }, 600_000);

  it('stopping the master keepalived moves the VIP to the backup', async () => {
    // keepalived pushes the VIP to dpvs on its instance's dpdk_interface: the service's vip_dev dpdk1,
    // not keepalived.interface dpdk0 (test/fixtures/upstream/keepalived.yaml)
    const vipLine = 'inet 10.0.96.204/32 scope global dpdk1';
    expect(
      await waitFor(async () => (await on('lb1', `${BIN}/dpip addr show`)).includes(vipLine), 30_000),
    ).toBe(true);
    expect(await on('lb2', `${BIN}/dpip addr show`)).not.toContain('10.0.96.204/32');
    const stop = await labSsh('lb1', 'systemctl stop keepalived');
    expect(stop.code, stop.stderr).toBe(0);
    try {
      expect(
        await waitFor(async () => (await on('lb2', `${BIN}/dpip addr show`)).includes(vipLine), 60_000),
      ).toBe(true);
      expect(await on('lb1', `${BIN}/dpip addr show`)).not.toContain('10.0.96.204/32');
    } finally {
      await labSsh('lb1', 'systemctl start keepalived');
    }
  }, 300_000);
});
