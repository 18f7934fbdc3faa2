/**
 * The engine on in-memory hosts (test/support/memory-host.ts): gather, plan and apply with tasks given
 * as an argument — apply order, re-probe and verify, rolling batches, the failure threshold, a failed
 * batch, locks, and hosts that must not be touched. No SSH, no shell: every command the engine sends is
 * recorded in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import type { Change } from '../../../src/plan/change.js';
import type { PlanContext, Task } from '../../../src/plan/task.js';
import { Engine } from '../../../src/run/engine.js';
import { LOCK_DIR } from '../../../src/run/lock.js';
import { Redactor } from '../../../src/run/redact.js';
import { RunDir } from '../../../src/run/transcript.js';
import { inventoryOf } from '../../support/facts-builder.js';
import { MemoryFleet, memoryProber, type Exec } from '../../support/memory-host.js';

const base = mkdtempSync(path.join(tmpdir(), 'dd-engine-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface KeyOpts {
  disruptive?: boolean;
  /** the step fails with this message */
  failOn?: (host: string) => string | undefined;
  /** the step sets another value than the one planned: the postcondition cannot hold */
  wrongValue?: boolean;
  /** the step first waits for the test to release this hold */
  hold?: (host: string) => string | undefined;
}

/** A task that wants `key` = `value` on each host; one change when it differs. */
function keyTask(name: string, key: string, value: string, o: KeyOpts = {}): Task {
  return {
    name,
    plan(ctx: PlanContext) {
      if (ctx.facts.outputs[key]?.stdout === value) return { changes: [] };
      const fail = o.failOn?.(ctx.host.name);
      const hold = o.hold?.(ctx.host.name);
      const change: Change = {
        id: `${name}/${key}`,
        task: name,
        summary: `${key}: ${ctx.facts.outputs[key]?.stdout ?? '(unset)'} → ${value}`,
        action: 'update',
        ...(o.disruptive ? { disruptive: true } : {}),
        steps: [
          ...(hold ? [{ kind: 'exec' as const, command: `hold ${hold}` }] : []),
          { kind: 'exec', command: fail ? `fail ${fail}` : `set ${key} ${o.wrongValue ? 'other' : value}` },
        ],
      };
      return { changes: [change] };
    },
  };
}

const hostsNamed = (...names: string[]): ResolvedHost[] =>
  names.map((name, i) => ({ name, address: `192.0.2.${i + 1}`, roles: [], groups: [] }));

function engine(fleet: MemoryFleet, hosts: ResolvedHost[], tasks: Task[], forks = 8): Engine {
  const redactor = new Redactor([]);
  return new Engine({
    inventory: inventoryOf(hosts),
    hosts,
    forks,
    runDir: new RunDir(base, 'test', redactor),
    tasks: () => tasks,
    prober: memoryProber(fleet),
    connect: (h) => {
      const m = fleet.host(h.name);
      return m.unreachable ? Promise.reject(new Error(m.unreachable)) : Promise.resolve(m.transport());
    },
  });
}

async function planned(fleet: MemoryFleet, hosts: ResolvedHost[], tasks: Task[], forks?: number) {
  const e = engine(fleet, hosts, tasks, forks);
  await e.gather();
  e.plan();
  return e;
}

describe('engine: apply on in-memory hosts', () => {
  it("runs each host's changes in plan order, verifies each task on re-probed facts; a second plan is empty", async () => {
    const fleet = new MemoryFleet();
    const hosts = hostsNamed('a', 'b');
    const tasks = [keyTask('first', 'k1', 'v1'), keyTask('second', 'k2', 'v2')];
    const e = await planned(fleet, hosts, tasks);
    expect([...e.plans.values()].map((p) => [p.host, p.status, p.changes.map((c) => c.id)])).toEqual([
      ['a', 'planned', ['first/k1', 'second/k2']],
      ['b', 'planned', ['first/k1', 'second/k2']],
    ]);
    const probesBefore = fleet.host('a').probes;
    const results = await e.apply({ command: 'apply' });
    expect(results.map((r) => [r.host, r.status, r.changed])).toEqual([
      ['a', 'changed', 2],
      ['b', 'changed', 2],
    ]);
    expect(fleet.commandsOf('a')).toEqual(['set k1 v1', 'set k2 v2']);
    // one re-probe after each task, to verify it
    expect(fleet.host('a').probes - probesBefore).toBe(2);
    // locks taken and released
    expect(fleet.host('a').lock).toBeNull();
    expect(fleet.execs.some((x) => x.host === 'a' && x.command.includes(LOCK_DIR))).toBe(true);

    const again = await planned(fleet, hosts, tasks);
    expect([...again.plans.values()].flatMap((p) => p.changes)).toEqual([]);
  });

  it('a task whose postcondition does not hold fails its host with the reason; the other host completes', async () => {
    const fleet = new MemoryFleet();
    const hosts = hostsNamed('a', 'b');
    const e = await planned(fleet, hosts, [
      keyTask('broken', 'k', 'v', { wrongValue: true }),
      keyTask('after', 'k2', 'v2'),
    ]);
    const results = await e.apply({ command: 'apply' });
    for (const r of results) {
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/^broken: verification failed:/);
    }
    // the host stops at the first failure: the next task never ran
    expect(fleet.commandsOf('a')).toEqual(['set k other']);
  });

  it('disruptive changes run after every host finished its non-disruptive ones, in batches of --serial', async () => {
    const fleet = new MemoryFleet();
    const hosts = hostsNamed('a', 'b', 'c', 'd');
    const e = await planned(fleet, hosts, [
      keyTask('prepare', 'p', '1'),
      keyTask('restart', 'r', '1', { disruptive: true }),
    ]);
    const results = await e.apply({ command: 'apply', serial: 2 });
    expect(results.every((r) => r.status === 'changed')).toBe(true);
    const at = (host: string, cmd: string) => fleet.execs.find((x) => x.host === host && x.command === cmd);
    const lastPrepare = Math.max(...hosts.map((h) => at(h.name, 'set p 1')?.end ?? Infinity));
    const restarts = hosts.map((h) => at(h.name, 'set r 1'));
    expect(restarts.every((x) => x !== undefined && x.start > lastPrepare)).toBe(true);
    // batch 1 (a, b) ends before batch 2 (c, d) starts
    const [ra, rb, rc, rd] = restarts.map((x) => x as NonNullable<typeof x>) as [Exec, Exec, Exec, Exec];
    expect(Math.max(ra.end, rb.end)).toBeLessThan(Math.min(rc.start, rd.start));
  });

  it('a failed batch stops the remaining batches; their hosts are skipped, untouched', async () => {
    const fleet = new MemoryFleet();
    const hosts = hostsNamed('a', 'b', 'c');
    const e = await planned(fleet, hosts, [
      keyTask('restart', 'r', '1', {
        disruptive: true,
        failOn: (h) => (h === 'a' ? 'dpvs did not come back' : undefined),
      }),
    ]);
    const results = await e.apply({ command: 'apply', serial: 1 });
    expect(results.map((r) => [r.host, r.status])).toEqual([
      ['a', 'failed'],
      ['b', 'skipped'],
      ['c', 'skipped'],
    ]);
    expect(results[0]?.error).toContain('dpvs did not come back');
    expect(fleet.commandsOf('b')).toEqual([]);
    expect(fleet.commandsOf('c')).toEqual([]);
  });

  it('--max-fail-percent: once failures exceed it, no new host starts', async () => {
    const fleet = new MemoryFleet();
    const hosts = hostsNamed('a', 'b', 'c', 'd');
    const e = await planned(
      fleet,
      hosts,
      [keyTask('t', 'k', 'v', { failOn: (h) => (h === 'a' || h === 'b' ? 'broken' : undefined) })],
      1,
    );
    const results = await e.apply({ command: 'apply', maxFailPercent: 25 });
    // a fails (25 %: not over), b fails (50 %: over), c and d never start
    expect(results.map((r) => [r.host, r.status])).toEqual([
      ['a', 'failed'],
      ['b', 'failed'],
      ['c', 'skipped'],
      ['d', 'skipped'],
    ]);
    expect(fleet.commandsOf('c')).toEqual([]);
  });

  it('a host locked by another run fails naming the owner and is not changed; the lock stays theirs', async () => {
    const fleet = new MemoryFleet();
    const hosts = hostsNamed('a', 'b');
    const theirs = JSON.stringify({
      user: 'ops',
      controlHost: 'elsewhere.example',
      pid: 1,
      started: '2026-01-01T00:00:00.000Z',
      command: 'apply',
    });
    fleet.host('a').lock = theirs;
    const e = await planned(fleet, hosts, [keyTask('t', 'k', 'v')]);
    const results = await e.apply({ command: 'apply', lockTimeoutMs: 0 });
    expect(results.map((r) => [r.host, r.status])).toEqual([
      ['a', 'failed'],
      ['b', 'changed'],
    ]);
    expect(results[0]?.error).toContain('locked by ops@elsewhere.example pid 1');
    expect(fleet.commandsOf('a')).toEqual([]);
    expect(fleet.host('a').lock).toBe(theirs);
    expect(fleet.host('b').lock).toBeNull();
  });

  it('two applies at once on one host: the second is refused while the first holds the lock and runs no step', async () => {
    const fleet = new MemoryFleet();
    const hosts = hostsNamed('a');
    const first = await planned(fleet, hosts, [keyTask('t', 'k', 'v', { hold: () => 'first' })]);
    const second = await planned(fleet, hosts, [keyTask('u', 'k2', 'w')]);
    const run1 = first.apply({ command: 'apply' });
    await fleet.reached('first');
    const run2 = second.apply({ command: 'apply', lockTimeoutMs: 0 });
    const r2 = await run2;
    expect(r2[0]?.status).toBe('failed');
    expect(r2[0]?.error).toMatch(/locked by .* another apply is running/);
    fleet.release('first');
    expect((await run1)[0]?.status).toBe('changed');
    expect(fleet.commandsOf('a')).toEqual(['hold first', 'set k v']);
  });

  it('unreachable, blocked, stale and failed-in-planning hosts are never touched', async () => {
    const fleet = new MemoryFleet();
    const hosts = hostsNamed('ok', 'down', 'blocked', 'stale', 'broken');
    fleet.host('down').unreachable = 'connect ECONNREFUSED';
    const e = await planned(fleet, hosts, [
      keyTask('t', 'k', 'v'),
      {
        name: 'throws',
        plan(ctx) {
          if (ctx.host.name === 'broken') throw new Error('no layout fits this host');
          return { changes: [] };
        },
      },
    ]);
    const plans = new Map(e.plans);
    const blocked = plans.get('blocked');
    const stale = plans.get('stale');
    if (!blocked || !stale) throw new Error('missing plans');
    plans.set('blocked', {
      ...blocked,
      status: 'blocked',
      checks: [
        {
          id: 'HW-001',
          severity: 'error',
          title: 'hyper-threading is on',
          found: '2',
          expected: '1',
          fix: 'BIOS',
        },
      ],
    });
    plans.set('stale', {
      ...stale,
      status: 'stale',
      error: 'stale plan: the host changed since it was planned',
    });
    expect(plans.get('down')?.status).toBe('unreachable');
    expect(plans.get('broken')?.status).toBe('error');
    expect(plans.get('broken')?.error).toBe('no layout fits this host');

    const results = await e.apply({ command: 'apply', plans });
    expect(results.map((r) => [r.host, r.status])).toEqual([
      ['ok', 'changed'],
      ['down', 'unreachable'],
      ['blocked', 'blocked'],
      ['stale', 'stale'],
      ['broken', 'failed'],
    ]);
    for (const h of ['blocked', 'stale', 'broken']) {
      expect(fleet.commandsOf(h)).toEqual([]);
      expect(fleet.execs.filter((x) => x.host === h)).toEqual([]); // not even a lock
    }
  });
});
