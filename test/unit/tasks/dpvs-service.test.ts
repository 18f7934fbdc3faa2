import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import type { Change, Step } from '../../../src/plan/change.js';
import { dpvsBuildTask } from '../../../src/tasks/dpvs-build.js';
import { dpvsConfTask } from '../../../src/tasks/dpvs-conf.js';
import {
  dpvsServiceTask,
  renderUnits,
  restartReasons,
  wantedState,
} from '../../../src/tasks/dpvs-service.js';
import { healthCommand, onFailureCommand } from '../../../src/tasks/dpvs/health.js';
import { DPVS_UNIT_PATH, KEEPALIVED_UNIT_PATH } from '../../../src/tasks/dpvs/settings.js';
import { RUNNING_STATE } from '../../../src/tasks/dpvs/state.js';
import { dpvsLayout } from '../../../src/desired/layout.js';
import type { PlanContext, Task } from '../../../src/plan/task.js';
import { inventoryOf, planContext, r630, r630Host, R630_PORTS } from '../../support/facts-builder.js';
import { UNIT_GONE_EXIT, unitGoneCommand, unitStartCommand } from '../../../src/tasks/cause.js';
import { fleetOf } from '../../../src/plan/fleet.js';

const SRC = { url: 'http://10.241.0.1:8080/dpvs-1.9.10.tar.gz', sha256: 'a'.repeat(64) };
const host = r630Host({ dpvs: { version: '1.9.10', source: SRC } });

/** The three tasks in playbook order; returns the changes and the facts as they would be after them. */
function planAll(ctx: PlanContext): { changes: Change[]; projected: Facts } {
  let facts = ctx.facts;
  const changes: Change[] = [];
  for (const t of [dpvsBuildTask, dpvsConfTask, dpvsServiceTask] as Task[]) {
    const p = t.plan({ ...ctx, facts });
    changes.push(...p.changes);
    facts = p.projected ?? facts;
  }
  return { changes, projected: facts };
}

/** A host after an apply: files as projected, dpvs running with the recorded state. */
function converged(h: ResolvedHost): Facts {
  return planAll(planContext(h, r630().build())).projected;
}

const execs = (c: Change | undefined): string[] =>
  (c?.steps ?? []).flatMap((s: Step) => (s.kind === 'exec' ? [s.command] : []));

describe('dpvs-service task', () => {
  it('fresh: units, restore placeholder, then a disruptive start with a health gate', () => {
    const h = r630Host({
      dpvs: { version: '1.9.10', source: SRC },
      keepalived: { enabled: true, interface: 'dpdk0', virtual_router_id: 51 },
    });
    const { changes } = planAll(planContext(h, r630().build()));
    const svc = changes.filter((c) => c.task === 'dpvs-service');
    expect(svc.map((c) => c.id)).toEqual([
      'dpvs-service/unit',
      'dpvs-service/keepalived-unit',
      'dpvs-service/restore-placeholder',
      'dpvs-service/start',
    ]);
    const start = svc.at(-1)!;
    expect(start.disruptive).toBe(true);
    expect(execs(start)[0]).toBe(unitStartCommand('start', 'dpvs'));
    expect(execs(start)[0]).toMatch(/^systemctl start dpvs \|\| \{ rc=\$\?; \{ c=\$\(journalctl -u dpvs /);
    const wait = start.steps.find((s) => s.kind === 'wait');
    expect(wait && wait.kind === 'wait' && wait.timeoutMs).toBe(90_000);
    expect(wait && wait.kind === 'wait' && wait.onFailure).toContain('journalctl -u dpvs -n 50');
    expect(wait && wait.kind === 'wait' && wait.giveUpCode).toBe(UNIT_GONE_EXIT);
    expect(wait && wait.kind === 'wait' && wait.command).toContain(unitGoneCommand('dpvs'));
    // the unit's directory first (a managed file: src/plan/ops/managed-file.ts), then reload and enable
    expect(execs(svc[0]!)).toEqual([
      'mkdir -p /etc/systemd/system',
      'systemctl daemon-reload',
      'systemctl enable dpvs',
    ]);
  });

  it('the unit runs dpvs with -c -p -x and EAL -a in device order, LimitNOFILE from host.nofile', () => {
    const facts = r630().build();
    const { dpvs, keepalived } = renderUnits(host, facts);
    expect(dpvs).toContain(
      `ExecStart=/opt/dpvs/current/bin/dpvs -c /etc/dpvs.conf -p /var/run/dpvs.pid -x /var/run/dpvs.ipc -- -l `,
    );
    const a = [...dpvs.matchAll(/-a (\S+)/g)].map((m) => m[1]);
    expect(a).toEqual([R630_PORTS.dpdk0, R630_PORTS.dpdk1]);
    expect(dpvs).toContain('LimitNOFILE=65536');
    expect(dpvs).toContain('/etc/dpvs-deploy/restore.sh');
    expect(dpvs).toMatch(/^Restart=on-failure$/m);
    expect(keepalived).toBeNull();
    const swapped: ResolvedHost = { ...host, nics: [...(host.nics ?? [])].reverse() };
    const b = [...renderUnits(swapped, facts).dpvs.matchAll(/-a (\S+)/g)].map((m) => m[1]);
    expect(b).toEqual([R630_PORTS.dpdk1, R630_PORTS.dpdk0]);
  });

  it('the keepalived unit is bound to dpvs (After, Requires, PartOf)', () => {
    const h = r630Host({ keepalived: { enabled: true, interface: 'dpdk0', virtual_router_id: 51 } });
    const k = renderUnits(h, r630().build()).keepalived ?? '';
    expect(k).toMatch(/^After=dpvs\.service$/m);
    expect(k).toMatch(/^Requires=dpvs\.service$/m);
    expect(k).toMatch(/^PartOf=dpvs\.service$/m);
  });

  it('converged: nothing to do', () => {
    const f = converged(host);
    expect(f.files[RUNNING_STATE]?.content).toBe(`${JSON.stringify(wantedState(planContext(host, f)))}\n`);
    expect(planAll(planContext(host, f)).changes).toEqual([]);
  });

  it('a queue change: dpvs.conf diff and one disruptive restart, nothing else', () => {
    const f = converged(host);
    const h2: ResolvedHost = {
      ...host,
      nics: (host.nics ?? []).map((n, i) => (i === 0 ? { ...n, rx: { queues: 2 }, tx: { queues: 2 } } : n)),
    };
    const { changes } = planAll(planContext(h2, f));
    // workers: auto caps the slaves at the smallest queue count: 2 slaves, so EAL -l shrinks too
    expect(changes.map((c) => c.id)).toEqual(['dpvs-conf/file', 'dpvs-service/unit', 'dpvs-service/restart']);
    expect(changes[0]!.diff).toMatch(/^\+\s+queue_number\s+2/m);
    expect(changes[1]!.diff).toMatch(/^\+ExecStart=.* -l 1-3 /m);
    const restart = changes[2]!;
    expect(restart.disruptive).toBe(true);
    expect(restart.summary).toContain('dpvs.conf changed');
    expect(execs(restart)[0]).toBe(unitStartCommand('restart', 'dpvs'));
  });

  it('a release change: new release, current switched, restart because of the release', () => {
    const f = converged(host);
    const h2 = r630Host({ dpvs: { version: '1.9.11', source: SRC } });
    const { changes } = planAll(planContext(h2, f));
    expect(changes.map((c) => c.id)).toEqual([
      expect.stringMatching(/^dpvs-build\/release\/1\.9\.11-/),
      'dpvs-build/current',
      'dpvs-conf/file', // the version comment in the file changes
      'dpvs-service/restart',
    ]);
    expect(changes[1]!.disruptive).toBe(true);
    expect(changes.at(-1)!.summary).toMatch(/release 1\.9\.10-\w+ → 1\.9\.11-\w+/);
  });

  it('a stopped dpvs is started even when nothing changed', () => {
    const f = converged(host);
    f.services.dpvs = { active: false, enabled: true, unitExists: true };
    expect(dpvsServiceTask.plan(planContext(host, f)).changes.map((c) => c.id)).toEqual([
      'dpvs-service/start',
    ]);
  });

  it('restart detection: release, conf and unit each count; no record means restart once', () => {
    const w = { release: 'r2', confSha256: 'c2', unitSha256: 'u2' };
    expect(restartReasons(w, w)).toEqual([]);
    expect(restartReasons({ ...w, release: 'r1' }, w)).toEqual(['release r1 → r2']);
    expect(restartReasons({ ...w, confSha256: 'c1' }, w)).toEqual(['dpvs.conf changed']);
    expect(restartReasons({ ...w, unitSha256: 'u1' }, w)).toEqual(['dpvs unit changed']);
    expect(restartReasons(null, w)).toHaveLength(1);
  });

  it('a unit change alone (nofile) rewrites the unit and restarts', () => {
    const f = converged(host);
    const { changes } = planAll(planContext({ ...host, nofile: 1048576 }, f));
    expect(changes.map((c) => c.id)).toEqual(['dpvs-service/unit', 'dpvs-service/restart']);
    expect(changes[1]!.summary).toContain('dpvs unit changed');
    expect(changes[0]!.diff).toContain('+LimitNOFILE=1048576');
  });

  it('on health failure with rollback_on_health_failure: back to the recorded release and config', () => {
    const f = converged(host);
    const prev = JSON.parse(f.files[RUNNING_STATE]!.content!) as { release: string };
    const inv = inventoryOf([host]);
    inv.doc.rollout = { serial: 1, rollback_on_health_failure: true };
    const h2: ResolvedHost = { ...host, dpvs: { ...host.dpvs, pktpool_size: 1048575 } };
    const ctx: PlanContext = {
      host: h2,
      inventory: inv,
      facts: f,
      fleet: fleetOf(inv, new Map([[h2.name, f]])),
    };
    const restart = dpvsServiceTask.plan(ctx).changes.find((c) => c.id === 'dpvs-service/restart')!;
    const wait = restart.steps.find((s) => s.kind === 'wait');
    const onFailure = wait && wait.kind === 'wait' ? (wait.onFailure ?? '') : '';
    expect(onFailure).toContain('journalctl -u dpvs -n 50');
    expect(onFailure).toContain(`ln -sfn /opt/dpvs/releases/${prev.release} /opt/dpvs/.current.dpvs-deploy`);
    expect(onFailure).toContain('cp -p /etc/dpvs.conf.dpvs-deploy.bak /etc/dpvs.conf');
    // without the policy: only the log
    const plain = dpvsServiceTask.plan({ ...ctx, inventory: inventoryOf([h2]) }).changes.at(-1)!;
    const w2 = plain.steps.find((s) => s.kind === 'wait');
    expect(w2 && w2.kind === 'wait' && w2.onFailure).not.toContain('ln -sfn');
  });

  it('onFailure without a previous healthy start prints only the log', () => {
    const l = dpvsLayout();
    const cmd = onFailureCommand({
      layout: l,
      ports: ['dpdk0'],
      timeoutS: 5,
      previous: null,
      rollback: true,
    });
    expect(cmd).toContain('journalctl');
    expect(cmd).not.toContain('systemctl restart');
  });

  it('writes units to the systemd directory', () => {
    const { changes } = planAll(planContext(host, r630().build()));
    const writes = changes.flatMap((c) => c.steps.flatMap((s) => (s.kind === 'write' ? [s.path] : [])));
    expect(writes).toContain(DPVS_UNIT_PATH);
    expect(writes).not.toContain(KEEPALIVED_UNIT_PATH);
  });
});

describe('health gate command (run in a local shell with fake dpip/ipvsadm)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dpvs-health-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const l = dpvsLayout(dir);
  mkdirSync(l.bin, { recursive: true });

  function fake(link: string, linkCode = 0, ipvsCode = 0): void {
    writeFileSync(path.join(dir, 'link.txt'), link);
    writeFileSync(
      path.join(l.bin, 'dpip'),
      `#!/bin/sh\n[ "$DPVS_IPC_FILE" = /var/run/dpvs.ipc ] || exit 9\ncat ${dir}/link.txt\nexit ${linkCode}\n`,
      { mode: 0o755 },
    );
    writeFileSync(path.join(l.bin, 'ipvsadm'), `#!/bin/sh\nexit ${ipvsCode}\n`, { mode: 0o755 });
  }
  const run = (ports: string[]): number => spawnSync('/bin/sh', ['-c', healthCommand(l, ports)]).status ?? -1;
  const up = (id: number, name: string, state: 'UP' | 'DOWN'): string =>
    `${id}: ${name}: socket 0 mtu 1500 rx-queue 4 tx-queue 4\n    ${state} 10000 Mbps full-duplex auto-nego\n    addr 02:00:00:00:00:0${id}\n`;

  it('passes when every port is UP and ipvsadm works', () => {
    fake(up(1, 'dpdk0', 'UP') + up(2, 'dpdk1', 'UP'));
    expect(run(['dpdk0', 'dpdk1'])).toBe(0);
  });
  it('fails when one port is DOWN or missing', () => {
    fake(up(1, 'dpdk0', 'UP') + up(2, 'dpdk1', 'DOWN'));
    expect(run(['dpdk0', 'dpdk1'])).not.toBe(0);
    fake(up(1, 'dpdk0', 'UP'));
    expect(run(['dpdk0', 'dpdk1'])).not.toBe(0);
    expect(run(['dpdk0'])).toBe(0);
  });
  it('fails when dpvs does not answer or ipvsadm fails', () => {
    fake('[dpvs_getsockopt] scoket msg connection error: Connection refused\n', 1);
    expect(run(['dpdk0'])).not.toBe(0);
    fake(up(1, 'dpdk0', 'UP'), 0, 2);
    expect(run(['dpdk0'])).not.toBe(0);
  });
  it('is plain POSIX sh', () => {
    expect(() => execFileSync('/bin/sh', ['-n', '-c', healthCommand(l, ['dpdk0'])])).not.toThrow();
  });
});
