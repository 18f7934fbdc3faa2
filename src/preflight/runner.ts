/** Runs the checks on one host's facts and applies the inventory's waivers. Pure. */
import type { CheckResult } from '../plan/change.js';
import type { Check, PlanContext } from '../plan/task.js';
import { allChecks } from './registry.js';

/** Failing checks of a host (passing and not-applicable checks are left out); waived ones carry `waived`. */
export function runPreflight(ctx: PlanContext, checks: readonly Check[] = allChecks): CheckResult[] {
  const waivers = new Map((ctx.host.preflight?.waive ?? []).map((w) => [w.id, w.reason]));
  const results: CheckResult[] = [];
  for (const check of checks) {
    const f = check.run(ctx);
    if (f === null) continue;
    const result: CheckResult = { id: check.id, severity: check.severity, title: check.title, ...f };
    const reason = waivers.get(check.id);
    if (reason !== undefined) result.waived = reason;
    results.push(result);
  }
  return results;
}

/** The results that block the host: unwaived errors. */
export function blocking(results: readonly CheckResult[]): CheckResult[] {
  return results.filter((r) => r.severity === 'error' && r.waived === undefined);
}

/** Waivers that name no known check (typos would otherwise silently waive nothing). */
export function unknownWaivers(ctx: PlanContext, checks: readonly Check[] = allChecks): string[] {
  const ids = new Set(checks.map((c) => c.id));
  return (ctx.host.preflight?.waive ?? []).map((w) => w.id).filter((id) => !ids.has(id));
}
