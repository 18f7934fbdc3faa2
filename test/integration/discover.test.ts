/**
 * `init --discover` against the default lab over real SSH, with the built CLI (`npm run build` first).
 * Run under the lab lock:
 *   flock /tmp/dd-lab.lock npx vitest run test/integration/discover.test.ts
 *
 * Each default lab host (lb1, lb2 as balancers; rs1, rs2 as realservers) is discovered through the
 * lab's ssh_config; the inventory printed validates, names the lab's key and known_hosts, never
 * proposes the management NIC or the Mellanox port, and has hugepages and a worker layout for the
 * balancers. Sources cannot be discovered: the test adds the lab's fixture tarballs as
 * `source: {file, sha256}` (what an operator adds by hand), nothing else. Then it is applied and the
 * next plan must be empty.
 *
 * Applied: lb1 and rs1 only (a balancer apply builds DPDK and DPVS from the fixtures; doing lb2 and
 * rs2 too doubles the run). lb2 and rs2 are discovered, validated and planned (preflight passes).
 */
import { asRoot } from '../support/root.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, type CliResult } from './cli-support.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import type { HostEntry, Inventory } from '../../src/inventory/schema.js';
import { buildFixtures, type FixtureManifest } from '../lab/fixtures/build.js';
import { ensureLab, type LabInfo, stopLab } from '../lab/harness.js';
import { labPaths } from '../lab/paths.js';

const root = asRoot;
let work: string;
let lab: LabInfo;
let manifest: FixtureManifest;

const cli = (args: string[], timeoutMs = 1_500_000): Promise<CliResult> => runCli(args, timeoutMs);

const HOSTS = [
  { name: 'lb1', role: 'balancer' },
  { name: 'lb2', role: 'balancer' },
  { name: 'rs1', role: 'realserver' },
  { name: 'rs2', role: 'realserver' },
] as const;

const discovered = new Map<string, string>();

/** The lab's fixture tarball as `source: {file, sha256}`. */
function source(kind: 'dpdk' | 'dpvs', version: string): { file: string; sha256: string } {
  const a = manifest.artifacts.find((x) => x.kind === kind && x.version === version);
  if (!a) throw new Error(`no ${kind} ${version} fixture`);
  return { file: path.join(labPaths().www, a.name), sha256: a.sha256 };
}

/** The discovered YAML (comments kept) with the sources an operator adds. */
function withSources(file: string, name: string): string {
  const d = parseDocument(readFileSync(file, 'utf8'));
  const host = ['hosts', name];
  const dpvsVersion = String(d.getIn([...host, 'dpvs', 'version']));
  d.setIn([...host, 'dpvs', 'source'], source('dpvs', dpvsVersion));
  const dpdkVersion = d.getIn([...host, 'dpdk', 'version']);
  if (dpdkVersion !== undefined) d.setIn([...host, 'dpdk', 'source'], source('dpdk', String(dpdkVersion)));
  const out = file.replace(/\.yaml$/, '.sources.yaml');
  writeFileSync(out, d.toString({ lineWidth: 0 }));
  return out;
}

describe.skipIf(!root)('init --discover on the default lab', () => {
  beforeAll(async () => {
    lab = await ensureLab();
    manifest = await buildFixtures(lab.fixturesDir);
    work = mkdtempSync(path.join(tmpdir(), 'dd-discover-it-'));
  }, 900_000);
  afterAll(async () => {
    await stopLab();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 300_000);

  for (const h of HOSTS) {
    it(`${h.name} (${h.role}): the discovered inventory validates and is what the host has`, async () => {
      const r = await cli(['init', '--discover', h.name, '--role', h.role, '--ssh-config', lab.sshConfig]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`discovered ${h.name} `));
      expect(r.stderr).toMatch(/preflight on the discovered inventory: no errors/);
      const file = path.join(work, `${h.name}.yaml`);
      writeFileSync(file, r.stdout);
      discovered.set(h.name, file);
      const v = await cli(['validate', file]);
      expect(v.code, v.stdout + v.stderr).toBe(0);

      const doc = parse(r.stdout) as Inventory;
      const profile = lab.hosts.find((p) => p.name === h.name);
      if (!profile) throw new Error(`no lab profile ${h.name}`);
      expect(doc.defaults?.ssh).toMatchObject({
        user: 'root',
        identity_file: lab.identity,
        known_hosts: lab.knownHosts,
        use_ssh_config: false,
      });
      const host = doc.hosts[h.name] as HostEntry;
      expect(host.address).toBe(profile.address);
      expect(host.roles).toEqual([h.role]);
      expect(host.expect).toEqual({
        numa_nodes: profile.numaNodes,
        smt: profile.smt,
        os: profile.os.replace(/\d+$/, ''),
      });
      if (h.role === 'balancer') {
        const mgmt = profile.nics.filter((n) => n.management).map((n) => n.pci);
        const mlx = profile.nics.filter((n) => n.driver === 'mlx5_core').map((n) => n.pci);
        const want = profile.nics.filter((n) => !n.management && n.driver !== 'mlx5_core').map((n) => n.pci);
        const pcis = (host.nics ?? []).map((n) => n.match.pci);
        expect(pcis).toEqual(want);
        for (const p of [...mgmt, ...mlx]) expect(pcis).not.toContain(p);
        expect(r.stdout).toMatch(/not used: 0000:00:03\.0 eth0 .*management NIC/);
        if (mlx.length) expect(r.stdout).toMatch(/not used: 0000:00:11\.0 .*mlx5.*never bound/);
        // 16 GiB per node: 4 GiB of 2 MiB pages on every node
        expect(host.hugepages).toEqual({ size: '2M', per_node: 2048 });
        const w = host.workers;
        if (w === undefined || w === 'auto') throw new Error('expected an explicit worker layout');
        expect(w.slaves.length).toBeGreaterThan(0);
        expect(w.slaves.map((s) => s.cpu)).not.toContain(0);
      } else {
        expect(host.nics).toBeUndefined();
        expect(host.realserver).toEqual({ toa: true });
      }
    });
  }

  it('lb2 and rs2, with sources added: plan passes preflight', async () => {
    for (const name of ['lb2', 'rs2']) {
      const file = discovered.get(name);
      if (!file) throw new Error(`${name} was not discovered`);
      const inv = withSources(file, name);
      const p = await cli(['plan', inv, '--no-diff', '--run-dir', path.join(work, 'runs')]);
      // 2: changes pending; 0 if an earlier run on this lab applied the same already
      expect([0, 2], p.stdout + p.stderr).toContain(p.code);
      expect(p.stdout).not.toMatch(/ERROR\s+[A-Z]+-\d{3}/);
      expect(p.stdout).not.toMatch(/blocked by/);
    }
  }, 600_000);

  for (const name of ['rs1', 'lb1']) {
    it(`${name}: apply --yes, then the next plan is empty`, async () => {
      const file = discovered.get(name);
      if (!file) throw new Error(`${name} was not discovered`);
      const inv = withSources(file, name);
      const runs = ['--run-dir', path.join(work, 'runs')];
      const a = await cli(['apply', inv, '--yes', '--no-diff', ...runs]);
      expect(a.code, a.stdout + a.stderr).toBe(0);
      const p = await cli(['plan', inv, ...runs]);
      expect(p.code, p.stdout + p.stderr).toBe(0);
      expect(p.stdout).toMatch(new RegExp(`${name} \\([0-9.]+\\): no changes`));
    }, 1_800_000);
  }
});
