/**
 * Build once per identical target. Hosts of the run whose expected build stamps are equal (same OS,
 * kernel, CPU target, compiler and inputs) build identical artifacts; among those that need the build,
 * the first by name builds it and packs it, the others receive the pack (copy-from-host). Every host
 * computes the same answer from ctx.fleet, so the decision needs no coordination.
 */
import type { Facts } from '../../facts/types.js';
import type { PlanContext } from '../types.js';
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

export function buildDecision(ctx: PlanContext): BuildDecision | null {
  const spec = dpdkSpec(ctx.host, ctx.inventory.dir);
  if (!spec) return null;
  const stamp = expectedStamp(spec, ctx.facts, ctx.inventory.dir);
  const artifact = `${ARTIFACT_DIR}/dpdk-${spec.version}-${stampId(stamp)}.tar.gz`;
  if (!needsBuild(spec, ctx.facts, stamp)) return { spec, stamp, role: { kind: 'current' }, artifact };
  const group: string[] = [];
  for (const h of ctx.inventory.hosts) {
    if (h.name === ctx.host.name) {
      group.push(h.name);
      continue;
    }
    const f = ctx.fleet.get(h.name);
    if (!f) continue;
    const s = dpdkSpec(h, ctx.inventory.dir);
    if (!s) continue;
    const st = expectedStamp(s, f, ctx.inventory.dir);
    if (st === stamp && needsBuild(s, f, st)) group.push(h.name);
  }
  group.sort();
  const builder = group[0] as string;
  const role: BuildRole =
    builder === ctx.host.name ? { kind: 'build', receivers: group.slice(1) } : { kind: 'receive', builder };
  return { spec, stamp, role, artifact };
}
