/**
 * Planning a fleet: pure, on the facts gathered. Each host gets exactly one HostPlan with its status:
 * unreachable (no facts), planned or blocked (planHost: preflight, then each task on projected facts),
 * or error (a planner threw on this host; other hosts are unaffected).
 */
import type { Facts } from '../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import { unplanned, type HostPlan } from '../plan/change.js';
import { fleetOf } from '../plan/fleet.js';
import { planHost } from '../plan/planner.js';
import type { PlanContext, Task } from '../plan/task.js';
import { runPreflight } from '../preflight/index.js';
import { hostFingerprint } from './fingerprint.js';

export interface FleetInputs {
  inventory: LoadedInventory;
  hosts: readonly ResolvedHost[];
  facts: ReadonlyMap<string, Facts>;
  /** Hosts that could not be connected to or probed, and why. */
  errors: ReadonlyMap<string, string>;
  /** Each host's tasks, in playbook order. */
  tasks: ReadonlyMap<string, readonly Task[]>;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function each(i: FleetInputs, plan: (h: ResolvedHost, facts: Facts) => HostPlan): Map<string, HostPlan> {
  const out = new Map<string, HostPlan>();
  for (const h of i.hosts) {
    const facts = i.facts.get(h.name);
    const err = i.errors.get(h.name);
    if (err !== undefined || !facts) {
      out.set(h.name, unplanned(h.name, 'unreachable', err ?? 'no facts'));
      continue;
    }
    try {
      out.set(h.name, plan(h, facts));
    } catch (e) {
      // a planner's error about this host (a layout its facts cannot hold, ...) stops only this host
      out.set(h.name, unplanned(h.name, 'error', errorText(e), { factsFingerprint: hostFingerprint(facts) }));
    }
  }
  return out;
}

/** One Fleet for the whole pass: the fleet-wide derivations (build-once groups) are computed once. */
export function planFleet(i: FleetInputs): Map<string, HostPlan> {
  const fleet = fleetOf(i.inventory, i.facts);
  return each(i, (host, facts) =>
    planHost({
      host,
      inventory: i.inventory,
      facts,
      fleet,
      tasks: i.tasks.get(host.name) ?? [],
      preflight: runPreflight,
      fingerprint: hostFingerprint,
    }),
  );
}

/** The inverse changes of every reversible task, in reverse playbook order. */
export function planFleetRollback(i: FleetInputs): Map<string, HostPlan> {
  const fleet = fleetOf(i.inventory, i.facts);
  return each(i, (host, facts) => {
    const ctx: PlanContext = { host, inventory: i.inventory, facts, fleet };
    const changes = [...(i.tasks.get(host.name) ?? [])]
      .reverse()
      .flatMap((t) => t.rollback?.(ctx).changes ?? []);
    return {
      host: host.name,
      status: 'planned',
      changes,
      checks: [],
      factsFingerprint: hostFingerprint(facts),
    };
  });
}
