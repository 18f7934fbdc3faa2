import { describe, expect, it } from 'vitest';
import type { Change } from '../../../src/plan/change.js';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { INPUT_CHECK_ID, inputProblems, planHost } from '../../../src/plan/planner.js';
import { runPreflight } from '../../../src/preflight/index.js';
import { tasksForRoles } from '../../../src/run/playbooks.js';
import { hostFingerprint } from '../../../src/run/fingerprint.js';
import { makeStyle } from '../../../src/cli/views/style.js';
import { renderHostPlan } from '../../../src/cli/views/plan.js';
import { failStep } from '../../../src/tasks/dpdk/fail.js';
import { DPVS_CONF_TASK } from '../../../src/tasks/dpvs-conf.js';
import type { Task } from '../../../src/plan/task.js';
import { factsBuilder, inventoryOf, planContext, r630, r630Host } from '../../support/facts-builder.js';
import { fleetOf } from '../../../src/plan/fleet.js';

const plainStyle = makeStyle(false);

const change = (task: string, steps: Change['steps']): Change => ({
  id: `${task}/x`,
  task,
  summary: task,
  action: 'run',
  steps,
});

describe('changes planned to fail block the host at plan time', () => {
  it('each fail step becomes a blocking INPUT-001 check naming the problem', () => {
    const checks = inputProblems([
      change('hugepages', [{ kind: 'exec', command: 'true' }]),
      change('dpdk-source', [failStep('DPDK 20.11.10 source: /x/dpdk.tar.xz: no such file')]),
      change('toa', [failStep('linux-headers-6.1.0-99-amd64 is not available from apt')]),
    ]);
    expect(checks.map((c) => [c.id, c.severity, c.title])).toEqual([
      [INPUT_CHECK_ID, 'error', 'dpdk-source cannot be applied'],
      [INPUT_CHECK_ID, 'error', 'toa cannot be applied'],
    ]);
    expect(checks[0]?.found).toContain('/x/dpdk.tar.xz: no such file');
    expect(checks[1]?.found).toContain('linux-headers-6.1.0-99-amd64');
  });

  it('ordinary steps, even failing-looking commands, are not problems', () => {
    expect(inputProblems([change('x', [{ kind: 'exec', command: 'exit 1' }])])).toEqual([]);
  });
});

describe('a task that cannot plan on a host preflight blocks', () => {
  const centos7 = (): Facts =>
    factsBuilder()
      .hostname('client1')
      .os('centos7')
      .numaNodes(1, { cpusPerNode: 2, memPerNodeMb: 16384 })
      .managementNic()
      .nic({ pci: '0000:00:10.0', numaNode: 0, ifname: 'ens16f0', mac: '90:e2:ba:00:05:00' })
      .build();
  const balancer: ResolvedHost = {
    name: 'client1',
    address: '10.241.1.5',
    roles: ['balancer'],
    groups: [],
    dpvs: { version: '1.10.2' },
    nics: [],
  };
  const plan = (host: ResolvedHost, facts: Facts, tasks: Task[]): ReturnType<typeof planHost> =>
    planHost({
      host,
      inventory: inventoryOf([host]),
      facts,
      fleet: fleetOf(inventoryOf([host]), new Map([[host.name, facts]])),
      tasks,
      preflight: runPreflight,
      fingerprint: hostFingerprint,
    });

  it('a DPVS 1.10 balancer without ports on CentOS 7 gets its preflight errors, not the dpvs-conf error', () => {
    const facts = centos7();
    const tasks = tasksForRoles(balancer.roles);
    // the cause: dpvs-conf cannot render a dpvs.conf without ports
    const conf = tasks.find((t) => t.name === DPVS_CONF_TASK);
    expect(() => conf?.plan(planContext(balancer, facts))).toThrow(/no nics in the inventory/);
    const p = plan(balancer, facts, tasks);
    expect(p.error).toBeUndefined();
    const blocking = p.checks.filter((c) => c.severity === 'error' && !c.waived).map((c) => c.id);
    expect(blocking).toEqual(expect.arrayContaining(['SYS-005', 'CONF-001']));
    expect(p.changes).toEqual([]);
    expect(renderHostPlan(p, balancer, { diffs: false, style: plainStyle })).toMatch(
      /^client1 \(10\.241\.1\.5\): no changes, blocked by \d+ preflight error/,
    );
  });

  it('without a blocking check the task error still stops the host', () => {
    const throws = {
      name: 'boom',
      plan: () => {
        throw new Error('boom: cannot plan');
      },
    } as unknown as Task;
    const host = r630Host();
    expect(() => plan(host, r630().build(), [throws])).toThrow('boom: cannot plan');
  });

  it('a waived error does not hide a task error', () => {
    const throws = {
      name: 'boom',
      plan: () => {
        throw new Error('boom: cannot plan');
      },
    } as unknown as Task;
    const host = r630Host({ preflight: { waive: [{ id: 'CPU-001', reason: 'lab' }] } });
    expect(() => plan(host, r630().smt(true).build(), [throws])).toThrow('boom: cannot plan');
  });
});
