/**
 * Controlled reboots on in-memory hosts (test/support/memory-host.ts): the reboot step notes the boot
 * id, reboots detached, reconnects until the host answers with a new boot id, and the host's later
 * changes run on the new connection after a full re-probe. Rolling: keepalived peers are never down
 * together; a host that does not come back fails alone and stops the later batches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import type { PlanContext, Task } from '../../../src/plan/task.js';
import { Engine } from '../../../src/run/engine.js';
import { Redactor } from '../../../src/run/redact.js';
import { RunDir } from '../../../src/run/transcript.js';
import { inventoryOf } from '../../support/facts-builder.js';
import { bootIdOf, MemoryFleet, memoryProber } from '../../support/memory-host.js';

const base = mkdtempSync(path.join(tmpdir(), 'dd-reboot-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Reboots a host that has not booted in this test yet (state `booted` unset), then verifies it did. */
function rebootTask(timeoutMs = 5_000): Task {
  return {
    name: 'kernel-cmdline',
    plan(ctx: PlanContext) {
      if (ctx.facts.outputs.booted) return { changes: [] };
      return {
        changes: [
          {
            id: 'kernel-cmdline/reboot',
            task: 'kernel-cmdline',
            summary: 'reboot',
            action: 'run',
            disruptive: true,
            steps: [
              {
                kind: 'reboot',
                command: 'systemctl reboot',
                bootIdPath: '/proc/sys/kernel/random/boot_id',
                timeoutMs,
                intervalMs: 5,
                description: `${ctx.host.name} is back with a new boot id`,
              },
            ],
          },
        ],
      };
    },
  };
}

/** A task after the reboot: sets `after` = yes. */
const afterTask: Task = {
  name: 'after',
  plan(ctx) {
    if (ctx.facts.outputs.after?.stdout === 'yes') return { changes: [] };
    return {
      changes: [
        {
          id: 'after/x',
          task: 'after',
          summary: 'after',
          action: 'update',
          steps: [{ kind: 'exec', command: 'set after yes' }],
        },
      ],
    };
  },
};

function hosts(): ResolvedHost[] {
  // a and b are one keepalived pair, c and d another
  return ['a', 'b', 'c', 'd'].map((name, i) => ({
    name,
    address: `192.0.2.${i + 1}`,
    roles: [],
    groups: [],
    keepalived: { virtual_router_id: i < 2 ? 51 : 52, priority: 100 + i } as ResolvedHost['keepalived'],
  }));
}

function engine(fleet: MemoryFleet, hs: ResolvedHost[], tasks: Task[]): Engine {
  return new Engine({
    inventory: inventoryOf(hs),
    hosts: hs,
    forks: 8,
    runDir: new RunDir(base, 'test', new Redactor([])),
    tasks: () => tasks,
    prober: memoryProber(fleet),
    connect: (h) => fleet.host(h.name).connect(),
  });
}

describe('engine: controlled reboots', () => {
  it('reboots each host once, waits for a new boot id, runs the rest on the new connection; peers never down together; a second plan is empty', async () => {
    const fleet = new MemoryFleet();
    const hs = hosts();
    const e = engine(fleet, hs, [rebootTask(), afterTask]);
    await e.gather();
    e.plan();
    const results = await e.apply({ command: 'apply', serial: 2 });
    expect(results.map((r) => [r.host, r.status, r.error])).toEqual([
      ['a', 'changed', undefined],
      ['b', 'changed', undefined],
      ['c', 'changed', undefined],
      ['d', 'changed', undefined],
    ]);
    for (const name of ['a', 'b', 'c', 'd']) {
      const h = fleet.host(name);
      expect(h.boots).toBe(1);
      expect(h.bootId).toBe(bootIdOf(name, 1));
      expect(h.bootId).not.toBe(bootIdOf(name, 0));
      // the change after the reboot ran after the host was back
      const cmds = fleet.commandsOf(name);
      expect(cmds.indexOf('set after yes')).toBeGreaterThan(
        cmds.findIndex((c) => c.includes('systemctl reboot')),
      );
    }
    // keepalived peers (a, b) and (c, d): their down intervals never overlap
    const overlap = (x: [number, number], y: [number, number]) => x[0] < y[1] && y[0] < x[1];
    for (const [x, y] of [
      ['a', 'b'],
      ['c', 'd'],
    ] as const) {
      const rx = fleet.host(x).reboots[0] as [number, number];
      const ry = fleet.host(y).reboots[0] as [number, number];
      expect(rx[1]).toBeGreaterThan(0);
      expect(overlap(rx, ry)).toBe(false);
    }
    // the task was verified on a full probe after the reboot
    expect(fleet.host('a').probes).toBeGreaterThanOrEqual(2);
    // a second run: nothing to do, no reboot
    const e2 = engine(fleet, hs, [rebootTask(), afterTask]);
    await e2.gather();
    expect([...e2.plan().values()].flatMap((p) => p.changes)).toEqual([]);
    await e.close();
    await e2.close();
  });

  it('a host that does not come back fails alone with a clear message; the later batches stop', async () => {
    const fleet = new MemoryFleet();
    const hs = hosts();
    fleet.host('b').neverReturns = true;
    const e = engine(fleet, hs, [rebootTask(200), afterTask]);
    await e.gather();
    e.plan();
    const results = await e.apply({ command: 'apply', serial: 1 });
    expect(results.map((r) => [r.host, r.status])).toEqual([
      ['a', 'changed'],
      ['b', 'failed'],
      ['c', 'skipped'],
      ['d', 'skipped'],
    ]);
    expect(results[1]?.error).toMatch(/^b: did not come back within 0 s after `systemctl reboot`/);
    expect(results[1]?.error).toContain('ECONNREFUSED');
    expect(fleet.host('c').boots).toBe(0);
    expect(fleet.commandsOf('b')).not.toContain('set after yes');
    await e.close();
  });
  it('a host that copies a build from another after both reboot waits for that build; the build host goes first', async () => {
    const fleet = new MemoryFleet();
    // a (listed first) receives what z builds, both after their reboot: with one host a batch, z's batch
    // must come first and a's copy must wait for z's build task, not only for z's stage 1
    const hs: ResolvedHost[] = ['a', 'z'].map((name, i) => ({
      name,
      address: `192.0.2.${i + 1}`,
      roles: [],
      groups: [],
    }));
    const build: Task = {
      name: 'build',
      plan(ctx) {
        if (ctx.facts.outputs['file:/art']?.stdout === 'built-by-z') return { changes: [] };
        const z = ctx.host.name === 'z';
        return {
          changes: [
            {
              id: z ? 'build/pack' : 'build/copy',
              task: 'build',
              summary: z ? 'build' : 'copy from z',
              action: 'create',
              steps: z
                ? [{ kind: 'exec', command: 'set file:/art built-by-z' }]
                : [
                    {
                      kind: 'copy-from-host',
                      sourceHost: 'z',
                      sourcePath: '/art',
                      path: '/art',
                      mode: 0o644,
                    },
                  ],
            },
          ],
        };
      },
    };
    const e = engine(fleet, hs, [rebootTask(), build]);
    await e.gather();
    e.plan();
    const results = await e.apply({ command: 'apply', serial: 1 });
    expect(results.map((r) => [r.host, r.status, r.error])).toEqual([
      ['a', 'changed', undefined],
      ['z', 'changed', undefined],
    ]);
    const reboot = (h: string) =>
      fleet.execs.findIndex((x) => x.host === h && x.command.includes('systemctl reboot'));
    expect(reboot('z')).toBeGreaterThanOrEqual(0);
    expect(reboot('z')).toBeLessThan(reboot('a'));
    expect(fleet.host('a').state.get('file:/art')).toBe('built-by-z');
    await e.close();
  });
});
