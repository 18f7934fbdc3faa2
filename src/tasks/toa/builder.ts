/**
 * Build once per kernel: hosts of the run whose expected stamps for a module are equal (same kernel
 * release and architecture, same DPVS source) build identical modules. Among those that need the
 * build, the first by name compiles it; the others copy it from that host (copy-from-host: the engine
 * starts the builder first and waits). When a host of the run already holds that build, the others
 * copy it from the first such host by name and nothing is compiled. Every host computes the same
 * answer from ctx.fleet.
 */
import type { Facts } from '../../facts/types.js';
import type { PlanContext } from '../types.js';
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

export function kmodRole(ctx: PlanContext, spec: KmodSpec, m: KmodName): KmodRole {
  const stamp = expectedStamp(spec, ctx.facts, m);
  if (!needsBuild(spec, ctx.facts, m)) return { kind: 'current' };
  const group = [ctx.host.name];
  const holders: string[] = [];
  for (const h of ctx.inventory.hosts) {
    if (h.name === ctx.host.name) continue;
    const f = ctx.fleet.get(h.name);
    const s = f ? kmodSpec(h, ctx.inventory.dir) : null;
    if (!f || !s || !s.modules.includes(m) || refusal(h.name, s, f, m)) continue;
    if (expectedStamp(s, f, m) !== stamp) continue;
    if (needsBuild(s, f, m)) group.push(h.name);
    else holders.push(h.name);
  }
  // a host of the run already has this build: copy it from there, build nothing
  if (holders.length) return { kind: 'receive', builder: holders.sort()[0] as string };
  group.sort();
  const builder = group[0] as string;
  return builder === ctx.host.name
    ? { kind: 'build', receivers: group.slice(1) }
    : { kind: 'receive', builder };
}
