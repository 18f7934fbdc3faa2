/**
 * Build once per kernel: hosts of the run whose expected stamps for a module are equal (same kernel
 * release and architecture, same DPVS source) build identical modules. Among those that need the
 * build, the first by name compiles it; the others copy it from that host (copy-from-host: the engine
 * starts the builder first and waits). When a host of the run already holds that build, the others
 * copy it from the first such host by name and nothing is compiled. Every host computes the same
 * answer from ctx.fleet, grouped once per planning pass (the fleet derivations `kmodGroups`) rather than
 * scanned again for every host.
 */
import type { Facts } from '../../facts/types.js';
import type { LoadedInventory } from '../../inventory/types.js';
import { firstOther, minName, throwFirstOther, type HostError } from '../build-once.js';
import type { FleetDerivation } from '../../plan/fleet.js';
import type { PlanContext } from '../../plan/task.js';
import { observe } from './observed.js';
import { expectedStamp, kmodSpec, type KmodName, type KmodSpec } from './spec.js';

export type KmodRole =
  { kind: 'current' } | { kind: 'build'; receivers: string[] } | { kind: 'receive'; builder: string };

/** Why the module cannot be loaded on this host, null when it can. */
export function refusal(host: string, spec: KmodSpec, facts: Facts, m: KmodName): string | null {
  const k = facts.kernel;
  if (k.lockdown !== 'none')
    return (
      `${host}: kernel lockdown is ${k.lockdown}${k.secureBoot ? ' (Secure Boot is on)' : ''}: the kernel loads only ` +
      `signed modules and ${m}.ko built here is unsigned; sign it with a key enrolled in the MOK ` +
      `list of the machine or turn Secure Boot off, or set realserver.${m}: false`
    );
  if (m === 'toa' && !k.ipv6)
    return (
      `${host}: toa needs the IPv6 stack of the kernel, which is absent (/proc/sys/net/ipv6 missing: ipv6.disable=1 ` +
      `on the kernel command line?); enable IPv6 or set realserver.toa: false`
    );
  if (spec.source.problem) return `${host}: ${spec.source.problem}`;
  return null;
}

export function needsBuild(spec: KmodSpec, facts: Facts, m: KmodName): boolean {
  const o = observe(facts, m);
  return !o.builtSha || o.stamp !== expectedStamp(spec, facts, m);
}

interface KmodGroups {
  /** stamp -> the hosts (sorted by name) whose fleet facts need that build / already hold it */
  needing: Map<string, Array<{ name: string }>>;
  holding: Map<string, Array<{ name: string }>>;
  errors: HostError[];
}

/** The fleet's hosts that can load module m, grouped by build stamp. */
function groupsOf(m: KmodName) {
  return (inventory: LoadedInventory, fleet: ReadonlyMap<string, Facts>): KmodGroups => {
    const g: KmodGroups = { needing: new Map(), holding: new Map(), errors: [] };
    for (const h of inventory.hosts) {
      const f = fleet.get(h.name);
      if (!f) continue;
      try {
        const s = kmodSpec(h, inventory);
        if (!s || !s.modules.includes(m) || refusal(h.name, s, f, m)) continue;
        const st = expectedStamp(s, f, m);
        const into = needsBuild(s, f, m) ? g.needing : g.holding;
        const list = into.get(st);
        if (list) list.push({ name: h.name });
        else into.set(st, [{ name: h.name }]);
      } catch (error) {
        g.errors.push({ host: h.name, error });
      }
    }
    const byName = (a: { name: string }, b: { name: string }): number =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    for (const into of [g.needing, g.holding]) for (const list of into.values()) list.sort(byName);
    return g;
  };
}

export const kmodGroups: Record<KmodName, FleetDerivation<KmodGroups>> = {
  toa: { name: 'kmod-build-groups/toa', derive: groupsOf('toa') },
  uoa: { name: 'kmod-build-groups/uoa', derive: groupsOf('uoa') },
};

export function kmodRole(ctx: PlanContext, spec: KmodSpec, m: KmodName): KmodRole {
  const stamp = expectedStamp(spec, ctx.facts, m);
  if (!needsBuild(spec, ctx.facts, m)) return { kind: 'current' };
  const me = ctx.host.name;
  const g = ctx.fleet.derived(kmodGroups[m]);
  throwFirstOther(g.errors, me);
  // a host of the run already has this build: copy it from there, build nothing
  const holder = firstOther(g.holding.get(stamp) ?? [], me);
  if (holder) return { kind: 'receive', builder: holder.name };
  const others = g.needing.get(stamp) ?? [];
  const builder = minName(me, firstOther(others, me)?.name) as string;
  return builder === me
    ? { kind: 'build', receivers: others.filter((o) => o.name !== me).map((o) => o.name) }
    : { kind: 'receive', builder };
}
