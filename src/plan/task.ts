import type { Facts, ProbeRequest } from '../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import type { Change, CheckResult } from './change.js';
import type { Fleet } from './fleet.js';

/** Everything a planner may read. Pure data; planners do no I/O. */
export interface PlanContext {
  host: ResolvedHost;
  inventory: LoadedInventory;
  /** Facts as they will be after the earlier tasks' changes of this run (projected). */
  facts: Facts;
  /** Every host of the run: its facts and the fleet-wide derivations over them (build-once groups). */
  fleet: Fleet;
}

export interface TaskPlan {
  changes: Change[];
  /** Facts as they will be after these changes (for the next tasks); default: unchanged. */
  projected?: Facts;
}

export interface Task {
  /** Name used in playbooks/*.yaml and Change.task. */
  name: string;
  /** What the probe must read for this task. */
  probe?(host: ResolvedHost, inventory: LoadedInventory): ProbeRequest;
  /** Pure planner. */
  plan(ctx: PlanContext): TaskPlan;
  /**
   * Postcondition after apply, on fresh facts: problems as sentences (empty = verified).
   * Default: the task plans no changes on the fresh facts.
   */
  verify?(ctx: PlanContext): string[];
  /**
   * Pure planner of the inverse, for `dpvs-deploy rollback`: restore what the task recorded before its
   * first change (previous drivers, previous release and config, previous counters). Only tasks whose
   * changes have a real inverse implement it. Tasks run in reverse playbook order on rollback.
   */
  rollback?(ctx: PlanContext): TaskPlan;
  /**
   * Objects of the kind this task manages that are on the host but in neither the inventory nor the
   * task's record (added by hand): left alone, reported by `plan` and counted as drift by `verify`.
   */
  drift?(ctx: PlanContext): string[];
}

/** A preflight check: pure, on facts only. Returns null when it does not apply. */
export interface Check {
  id: string;
  title: string;
  severity: 'error' | 'warning';
  /** What it protects against (docs/preflight.md). */
  protects: string;
  run(ctx: PlanContext): Omit<CheckResult, 'id' | 'severity' | 'title'> | null;
}
