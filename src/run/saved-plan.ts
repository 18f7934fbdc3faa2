/**
 * Applying a saved plan: each host's saved Changes are kept only while the host is as it was planned.
 * The host is re-probed first (the same probe the plan was made with); a host whose facts changed is
 * refused as stale with what changed, an unreachable one is refused as unreachable. Pure, on the facts
 * just gathered.
 */
import type { Facts } from '../facts/types.js';
import { unplanned, type HostPlan } from '../plan/change.js';
import { savedHost, type PlanFile } from '../plan/plan-file.js';
import { hostDifferences, hostFingerprint } from './fingerprint.js';

export function checkSavedPlan(
  saved: PlanFile,
  facts: ReadonlyMap<string, Facts>,
  errors: ReadonlyMap<string, string>,
): Map<string, HostPlan> {
  const out = new Map<string, HostPlan>();
  for (const h of saved.hosts) {
    const { plan, facts: then } = savedHost(h);
    const now = facts.get(plan.host);
    const err = errors.get(plan.host);
    if (err !== undefined || !now) {
      out.set(plan.host, unplanned(plan.host, 'unreachable', err ?? 'no facts', plan));
      continue;
    }
    if (
      (plan.status === 'planned' || plan.status === 'blocked') &&
      hostFingerprint(now) !== plan.factsFingerprint
    ) {
      const diffs = then ? hostDifferences(then, now, 8) : [];
      out.set(
        plan.host,
        unplanned(
          plan.host,
          'stale',
          `stale plan: the host changed since it was planned; plan again${diffs.length ? `:\n    ${diffs.join('\n    ')}` : ''}`,
          plan,
        ),
      );
      continue;
    }
    out.set(plan.host, plan);
  }
  return out;
}
