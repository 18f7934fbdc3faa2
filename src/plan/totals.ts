/**
 * How each host came out of planning and the counts over a fleet: what the summary line, the JSON output
 * and the exit codes are computed from (the views print them; they decide nothing).
 */
import type { HostPlan } from './change.js';

/** How a host came out of planning; each host is in exactly one state. */
export type PlanState = 'unreachable' | 'failed' | 'blocked' | 'changes' | 'in-sync';

export function planState(p: HostPlan): PlanState {
  switch (p.status) {
    case 'unreachable':
      return 'unreachable';
    case 'stale':
    case 'error':
      return 'failed';
    case 'blocked':
      return 'blocked';
    case 'planned':
      return p.changes.length ? 'changes' : 'in-sync';
  }
}

export interface PlanTotals {
  /** every change planned, blocked hosts' included */
  changes: number;
  /** changes on hosts that can be applied (not blocked) */
  applicable: number;
  /** hosts with changes that are not blocked */
  hostsWithChanges: number;
  /** hosts planned, not blocked, with no change */
  inSync: number;
  /** hosts blocked by a preflight error */
  blocked: number;
  /** changes planned on blocked hosts (not applied) */
  heldBack: number;
  /** hosts that could not be connected to or probed */
  unreachable: number;
  /** hosts reached but not planned (a planner's error) */
  failed: number;
  /** unreachable + failed */
  errors: number;
  /** unmanaged objects found (reported, not changed) */
  drift: number;
  /** every host was planned and none is blocked */
  complete: boolean;
}

export function planTotals(plans: ReadonlyArray<HostPlan>): PlanTotals {
  const n = (s: PlanState) => plans.filter((p) => planState(p) === s).length;
  const changesOn = (pred: (p: HostPlan) => boolean) =>
    plans.filter(pred).reduce((k, p) => k + p.changes.length, 0);
  const blocked = n('blocked');
  const unreachable = n('unreachable');
  const failed = n('failed');
  return {
    drift: plans.reduce((k, p) => k + (p.drift?.length ?? 0), 0),
    changes: changesOn(() => true),
    applicable: changesOn((p) => planState(p) === 'changes'),
    hostsWithChanges: n('changes'),
    inSync: n('in-sync'),
    blocked,
    heldBack: changesOn((p) => planState(p) === 'blocked'),
    unreachable,
    failed,
    errors: unreachable + failed,
    complete: blocked + unreachable + failed === 0,
  };
}
