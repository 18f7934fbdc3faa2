/**
 * Build once per identical target. Hosts of the run whose expected build stamps are equal (same OS,
 * kernel, CPU target, compiler and inputs) build identical artifacts; among those that need the build,
 * the first by name builds it and packs it, the others receive the pack (copy-from-host). Every host
 * computes the same answer from ctx.fleet, so the decision needs no coordination. The fleet is grouped by
 * stamp once per planning pass (the fleet derivation `dpdkBuildGroups`), not scanned again for every host.
 */
import type { Facts } from '../../facts/types.js';
import type { LoadedInventory } from '../../inventory/types.js';
import { firstOther, minName, throwFirstOther, type HostError } from '../build-once.js';
import type { FleetDerivation } from '../../plan/fleet.js';
import type { PlanContext } from '../../plan/task.js';
import { expectedStamp, stampId } from './stamp.js';
import { dpdkSpec, type DpdkSpec } from './spec.js';

export const ARTIFACT_DIR = '/var/cache/dpvs-deploy/artifacts';

export type BuildRole =
  { kind: 'current' } | { kind: 'build'; receivers: string[] } | { kind: 'receive'; builder: string };

export interface BuildDecision {
  spec: DpdkSpec;
  stamp: string;
  role: BuildRole;
  /** packed build (tar.gz of layout.root), on the builder and copied to receivers */
  artifact: string;
}

export function needsBuild(spec: DpdkSpec, facts: Facts, stamp: string): boolean {
  return facts.files[spec.layout.stamp]?.content !== stamp;
}

interface DpdkGroups {
  /** stamp -> names (sorted) of the hosts whose fleet facts need the build of that stamp */
  needing: Map<string, Array<{ name: string }>>;
  errors: HostError[];
}

/** The fleet's hosts grouped by the build they need. */
function dpdkGroups(inventory: LoadedInventory, fleet: ReadonlyMap<string, Facts>): DpdkGroups {
  const needing = new Map<string, Array<{ name: string }>>();
  const errors: HostError[] = [];
  for (const h of inventory.hosts) {
    const f = fleet.get(h.name);
    if (!f) continue;
    try {
      const s = dpdkSpec(h, inventory);
      if (!s) continue;
      const st = expectedStamp(s, f, inventory);
      if (!needsBuild(s, f, st)) continue;
      const g = needing.get(st) ?? [];
      g.push({ name: h.name });
      needing.set(st, g);
    } catch (error) {
      errors.push({ host: h.name, error });
    }
  }
  for (const g of needing.values()) g.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { needing, errors };
}

export const dpdkBuildGroups: FleetDerivation<DpdkGroups> = { name: 'dpdk-build-groups', derive: dpdkGroups };

export function buildDecision(ctx: PlanContext): BuildDecision | null {
  const spec = dpdkSpec(ctx.host, ctx.inventory);
  if (!spec) return null;
  const stamp = expectedStamp(spec, ctx.facts, ctx.inventory);
  const artifact = `${ARTIFACT_DIR}/dpdk-${spec.version}-${stampId(stamp)}.tar.gz`;
  if (!needsBuild(spec, ctx.facts, stamp)) return { spec, stamp, role: { kind: 'current' }, artifact };
  // the group: this host (on its projected facts) and the other hosts of the run that need this build
  const me = ctx.host.name;
  const groups = ctx.fleet.derived(dpdkBuildGroups);
  throwFirstOther(groups.errors, me);
  const others = groups.needing.get(stamp) ?? [];
  const builder = minName(me, firstOther(others, me)?.name) as string;
  const role: BuildRole =
    builder === me
      ? { kind: 'build', receivers: others.filter((o) => o.name !== me).map((o) => o.name) }
      : { kind: 'receive', builder };
  return { spec, stamp, role, artifact };
}
