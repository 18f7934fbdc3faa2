/**
 * The planner: pure. For one host, preflight checks on the facts, then each task of the host's
 * playbooks in order, each against the facts as the earlier tasks will leave them (projected facts).
 * A task that cannot plan on a host preflight blocks leaves that host with its checks and no changes.
 */
import type { Facts } from '../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import type { Fleet } from './fleet.js';
import type { Task, PlanContext, TaskPlan } from './task.js';
import { blockingChecks, plannedStatus, type Change, type CheckResult, type HostPlan } from './change.js';

export interface PlanInputs {
  host: ResolvedHost;
  inventory: LoadedInventory;
  facts: Facts;
  /** the run's fleet (one for every host of a planning pass, so its derivations are computed once) */
  fleet: Fleet;
  tasks: ReadonlyArray<Task>;
  preflight: (ctx: PlanContext) => CheckResult[];
  /** the fingerprint of the facts a plan was made from (src/run/fingerprint.ts: every typed reader) */
  fingerprint: (facts: Facts) => string;
}

export function planHost(i: PlanInputs): HostPlan {
  const base: PlanContext = { host: i.host, inventory: i.inventory, facts: i.facts, fleet: i.fleet };
  const checks = i.preflight(base);
  const changes: Change[] = [];
  let projected = i.facts;
  for (const task of i.tasks) {
    let p: TaskPlan;
    try {
      p = task.plan({ ...base, facts: projected });
    } catch (e) {
      // A host that preflight blocks is often one a task cannot plan for (CONF-001: a balancer without
      // ports makes dpvs-conf throw). Report the checks, which say why and how to fix it, rather than
      // the task's error; nothing is applied on a blocked host, so it gets no changes.
      if (!blockingChecks(checks).length) throw e;
      return {
        host: i.host.name,
        status: 'blocked',
        changes: [],
        checks,
        factsFingerprint: i.fingerprint(i.facts),
      };
    }
    changes.push(...p.changes);
    if (p.projected) projected = p.projected;
  }
  checks.push(...inputProblems(changes));
  const drift = i.tasks.flatMap((t) => t.drift?.(base) ?? []);
  return {
    host: i.host.name,
    status: plannedStatus(checks),
    changes,
    checks,
    factsFingerprint: i.fingerprint(i.facts),
    ...(drift.length ? { drift } : {}),
  };
}

/** The id of the check a change planned to fail becomes: the host is blocked before anything runs. */
export const INPUT_CHECK_ID = 'INPUT-001';

/** Changes whose steps the planner already knows will fail (a missing source, a bad checksum). */
export function inputProblems(changes: readonly Change[]): CheckResult[] {
  const out: CheckResult[] = [];
  for (const c of changes)
    for (const s of c.steps)
      if (s.kind === 'exec' && s.problem !== undefined)
        out.push({
          id: INPUT_CHECK_ID,
          severity: 'error',
          title: `${c.task} cannot be applied`,
          found: s.problem,
          expected: 'every input this host needs is readable and matches its checksum',
          fix: 'correct the input named above (inventory, file on the control machine or host package) and plan again',
        });
  return out;
}

/** Problems after a task ran, on fresh facts: the task's own verify, or "the task still plans changes". */
export function verifyTask(task: Task, ctx: PlanContext): string[] {
  if (task.verify) return task.verify(ctx);
  const left = task.plan(ctx).changes;
  return left.map((c) => `still pending after apply: ${c.summary}`);
}
