/**
 * The fleet as a host's planner sees it: every host's facts of one snapshot and the fleet-wide
 * derivations over them (build once: "which hosts of the run build the same target?").
 *
 * A derivation is a named pure function of the inventory and the facts of every host. Each host's
 * planner asks the same question; answering it by scanning the fleet per host made planning O(N²), so
 * a Fleet computes each derivation once, on first use, and every host planned against the same Fleet
 * shares the answer. planFleet (src/run/plan-fleet.ts) builds one Fleet per run; apply builds a new one
 * from the refreshed facts when it verifies a host. A Fleet copies the facts map it is made from at its
 * first read, so its answers cannot go stale behind its back once it has given one.
 */
import type { Facts } from '../facts/types.js';
import type { LoadedInventory } from '../inventory/types.js';

export interface FleetDerivation<T> {
  /** unique among derivations (two derivations of one name in one Fleet are an error) */
  readonly name: string;
  /** pure: a function of the inventory and the facts of every reachable host; the result is shared, not mutated */
  derive(inventory: LoadedInventory, facts: ReadonlyMap<string, Facts>): T;
}

export interface Fleet {
  /** facts of every host of the run that was probed (unreachable hosts are absent) */
  readonly facts: ReadonlyMap<string, Facts>;
  /** the value of a fleet-wide derivation over this snapshot, computed once */
  derived<T>(d: FleetDerivation<T>): T;
}

export function fleetOf(inventory: LoadedInventory, facts: ReadonlyMap<string, Facts>): Fleet {
  // The copy is made when the Fleet is first read, not when it is made: apply makes a Fleet for every
  // task it verifies on every host, and most verifications never read it (a copy each time would be
  // O(hosts) per verified task, O(hosts²) per apply). Planning and verification read a Fleet
  // synchronously right after making it, so the facts cannot change in between.
  let snapshot: ReadonlyMap<string, Facts> | null = null;
  const snap = (): ReadonlyMap<string, Facts> => (snapshot ??= new Map(facts));
  const values = new Map<string, { d: FleetDerivation<unknown>; value: unknown }>();
  return {
    get facts() {
      return snap();
    },
    derived<T>(d: FleetDerivation<T>): T {
      const known = values.get(d.name);
      if (known) {
        if (known.d !== d) throw new Error(`two fleet derivations are named ${d.name}`);
        return known.value as T;
      }
      const value = d.derive(inventory, snap());
      values.set(d.name, { d, value });
      return value;
    },
  };
}
