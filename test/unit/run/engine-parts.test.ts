import { describe, expect, it } from 'vitest';
import { planBatches, batchSize } from '../../../src/run/batches.js';
import { selectHosts } from '../../../src/run/select.js';
import { hostFingerprint } from '../../../src/run/fingerprint.js';
import { Redactor } from '../../../src/run/redact.js';
import { planHost } from '../../../src/plan/planner.js';
import { parseProbeOutput, probeScript, mergeRequests } from '../../../src/facts/probe.js';
import { kernelPath } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import type { Task } from '../../../src/plan/task.js';
import { factsBuilder, inventoryOf, r630Host } from '../../support/facts-builder.js';
import { execFileSync } from 'node:child_process';
import { fleetOf } from '../../../src/plan/fleet.js';

const h = (name: string, extra: Partial<ResolvedHost> = {}): ResolvedHost => ({
  name,
  address: `10.0.0.${name.length}`,
  roles: ['balancer'],
  groups: [],
  ...extra,
});

describe('--limit', () => {
  const hosts = [
    h('lb1', { groups: ['balancers'] }),
    h('lb2', { groups: ['balancers'] }),
    h('rs1', { roles: ['realserver'] }),
  ];
  it('selects by name, wildcard, group, role and exclusion', () => {
    expect(selectHosts(hosts, 'lb1').map((x) => x.name)).toEqual(['lb1']);
    expect(selectHosts(hosts, 'lb*,!lb2').map((x) => x.name)).toEqual(['lb1']);
    expect(selectHosts(hosts, 'balancers').map((x) => x.name)).toEqual(['lb1', 'lb2']);
    expect(selectHosts(hosts, 'role:realserver').map((x) => x.name)).toEqual(['rs1']);
    expect(selectHosts(hosts, undefined)).toHaveLength(3);
  });
  it('a pattern that matches nothing is a user error naming the hosts', () => {
    expect(() => selectHosts(hosts, 'db*')).toThrow(/matches no host \(hosts: lb1, lb2, rs1\)/);
  });
});

describe('rolling batches', () => {
  it('serial as a number or a percentage', () => {
    expect(batchSize(undefined, 4)).toBe(4);
    expect(batchSize(1, 4)).toBe(1);
    expect(batchSize('50%', 4)).toBe(2);
    expect(batchSize('10%', 4)).toBe(1);
  });
  it('never puts both members of a keepalived pair in one batch', () => {
    const pair = { keepalived: { enabled: true, virtual_router_id: 51 } };
    const hosts = [h('lb1', pair), h('lb2', pair), h('lb3'), h('lb4')];
    const batches = planBatches(hosts, 2).map((b) => b.map((x) => x.name));
    expect(batches).toEqual([
      ['lb1', 'lb3'],
      ['lb2', 'lb4'],
    ]);
    expect(planBatches(hosts, undefined).map((b) => b.map((x) => x.name))).toEqual([
      ['lb1', 'lb3', 'lb4'],
      ['lb2'],
    ]);
  });
});

describe('redaction', () => {
  it('masks every secret occurrence, longest first', () => {
    const r = new Redactor(['hunter2', 'hunter2-long']);
    expect(r.redact('a hunter2-long b hunter2')).toBe('a ****** b ******');
  });
});

describe('planner', () => {
  it('feeds each task the facts projected by the earlier ones, preflight first', () => {
    const seen: number[] = [];
    const first: Task = {
      name: 'first',
      plan: (ctx) => {
        const projected = structuredClone(ctx.facts);
        projected.limits.nofile = 4242;
        return {
          changes: [{ id: 'x', task: 'first', summary: 's', action: 'update', steps: [] }],
          projected,
        };
      },
    };
    const second: Task = {
      name: 'second',
      plan: (ctx) => {
        seen.push(ctx.facts.limits.nofile);
        return { changes: [] };
      },
    };
    const host = r630Host();
    const facts = factsBuilder().nofile(1024).build();
    const p = planHost({
      host,
      inventory: inventoryOf([host]),
      facts,
      fleet: fleetOf(inventoryOf([host]), new Map([[host.name, facts]])),
      tasks: [first, second],
      preflight: () => [
        { id: 'T-001', severity: 'warning', title: 't', found: 'f', expected: 'e', fix: 'x' },
      ],
      fingerprint: hostFingerprint,
    });
    expect(seen).toEqual([4242]);
    expect(p.changes.map((c) => c.id)).toEqual(['x']);
    expect(p.checks[0]?.id).toBe('T-001');
    expect(p.factsFingerprint).toBe(hostFingerprint(facts));
  });
});

describe('probe script', () => {
  it('runs on this machine with POSIX sh and parses into consistent facts', () => {
    if (process.platform !== 'linux') return;
    const req = mergeRequests([
      {
        files: ['/etc/hostname', '/no/such/file'],
        commands: ['sh', 'no-such-cmd'],
        execs: { k: ['sh', '-c', 'echo hi; exit 3'], r: ['echo', kernelPath('release=', '.')] },
        packages: ['no-such-package-dd'],
        services: ['no-such-unit-dd'],
      },
    ]);
    const f = parseProbeOutput(execFileSync('sh', ['-s'], { input: probeScript(req) }).toString());
    expect(f.kernel.release).toBe(execFileSync('uname', ['-r']).toString().trim());
    expect(f.cpu.online.length).toBeGreaterThan(0);
    expect(f.files['/no/such/file']).toEqual({ exists: false, mode: null, sha256: null, content: null });
    expect(f.files['/etc/hostname']?.exists).toBe(true);
    expect(f.commands['no-such-cmd']).toBeNull();
    expect(f.commands.sh).toMatch(/\/sh$/);
    expect(f.outputs.k).toEqual({ code: 3, stdout: 'hi' });
    // RUNNING_KERNEL in an argv word: the release the probe read, filled in on the host
    expect(f.outputs.r).toEqual({ code: 0, stdout: `release=${f.kernel.release}.` });
    expect(f.numa.length).toBeGreaterThan(0);
    // batched package and unit checks: a request nothing answers is still present, as not installed
    expect(f.packages).toEqual({ 'no-such-package-dd': null });
    expect(f.services).toEqual({ 'no-such-unit-dd': { active: false, enabled: false, unitExists: false } });
  });
  it('refuses truncated probe output', () => {
    expect(() => parseProbeOutput('@@dpvs-deploy-section@@ system\nhostname\tx\n')).toThrow(
      /lacks the cpu section/,
    );
  });
});
