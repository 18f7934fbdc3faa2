/**
 * Fleet-wide derivations (build-once grouping) computed once per plan run instead of once per host.
 *
 * Every host's planner asks the same fleet-wide question ("which hosts of the run build the same
 * target?"); answering it by scanning the whole fleet for each host made planning O(N²). A derivation is
 * cached per fleet Map object and inventory (WeakMaps: nothing outlives the run), so each host looks its
 * group up. Planners stay pure: the cache is keyed by its inputs and is only used while the fleet Map
 * holds exactly the entries it was built from. The engine refreshes one host's entry of the same Map
 * after applying that host (and plans its verification against it), so each lookup compares the Map's
 * entries with the snapshot by identity (N pointer comparisons, no facts are read) and rebuilds on any
 * difference.
 */
import type { Facts } from '../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';

type Fleet = ReadonlyMap<string, Facts>;

interface Snapshot {
  hosts: readonly ResolvedHost[];
  dir: string;
  names: string[];
  facts: Facts[];
  values: Map<string, unknown>;
}

const memo = new WeakMap<Fleet, WeakMap<LoadedInventory, Snapshot>>();

function unchanged(s: Snapshot, fleet: Fleet, inventory: LoadedInventory): boolean {
  if (s.hosts !== inventory.hosts || s.dir !== inventory.dir || s.names.length !== fleet.size) return false;
  let i = 0;
  for (const [name, facts] of fleet) {
    if (s.names[i] !== name || s.facts[i] !== facts) return false;
    i++;
  }
  return true;
}

function snapshot(fleet: Fleet, inventory: LoadedInventory): Snapshot {
  let byInventory = memo.get(fleet);
  if (!byInventory) {
    byInventory = new WeakMap();
    memo.set(fleet, byInventory);
  }
  const s = byInventory.get(inventory);
  if (s && unchanged(s, fleet, inventory)) return s;
  const fresh: Snapshot = {
    hosts: inventory.hosts,
    dir: inventory.dir,
    names: [...fleet.keys()],
    facts: [...fleet.values()],
    values: new Map(),
  };
  byInventory.set(inventory, fresh);
  return fresh;
}

/**
 * The value of `derive(fleet, inventory)` under `key`, derived once per fleet contents and inventory.
 * `derive` must be pure (a function of fleet and inventory only); its result is shared between hosts
 * and must not be mutated.
 */
export function fleetDerived<T>(
  fleet: Fleet,
  inventory: LoadedInventory,
  key: string,
  derive: (fleet: Fleet, inventory: LoadedInventory) => T,
): T {
  const s = snapshot(fleet, inventory);
  if (s.values.has(key)) return s.values.get(key) as T;
  const v = derive(fleet, inventory);
  s.values.set(key, v);
  return v;
}

/**
 * A per-host derivation that threw, kept so a lookup fails as the fleet scan did: the scan for host X
 * threw the first error (inventory order) of a host other than X.
 */
export interface HostError {
  host: string;
  error: unknown;
}

export function throwFirstOther(errors: readonly HostError[], self: string): void {
  for (const e of errors) if (e.host !== self) throw e.error;
}

/** The first of a name-sorted list that is not `self` (the list holds each name once). */
export function firstOther<T extends { name: string }>(sorted: readonly T[], self: string): T | undefined {
  const a = sorted[0];
  return a && a.name === self ? sorted[1] : a;
}

/** The smaller of two names (as Array.prototype.sort orders strings), either may be absent. */
export function minName(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b < a ? b : a;
}
