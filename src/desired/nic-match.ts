/**
 * Resolve the inventory's NICs (match by pci, mac and/or ifname) against the probed NICs. A NIC that a
 * userspace driver holds has no kernel name or MAC any more; such NICs are "unresolved" candidates
 * for ifname/mac matchers rather than misses.
 */
import type { Facts, NicFacts } from '../facts/types.js';
import type { NicSettings } from '../inventory/schema.js';

export interface NicMatchResult {
  nic: NicSettings;
  /** facts NICs satisfying every matcher the inventory gives */
  candidates: NicFacts[];
  /** NICs without a kernel name/MAC (bound to a userspace driver) that could be this one */
  unresolved: NicFacts[];
  /** matchers that point at different NICs */
  conflicts: string[];
}

const lc = (s: string | null | undefined): string | null => (s ? s.toLowerCase() : null);

function matchesPci(n: NicFacts, pci: string): boolean {
  return lc(n.pci) === pci.toLowerCase();
}

export function describeMatch(nic: NicSettings): string {
  const m = nic.match;
  const parts: string[] = [];
  if (m.pci) parts.push(`pci ${m.pci}`);
  if (m.mac) parts.push(`mac ${m.mac}`);
  if (m.ifname) parts.push(`ifname ${m.ifname}`);
  return parts.join(', ');
}

export function describeNic(n: NicFacts): string {
  const name = n.ifname ? ` (${n.ifname})` : '';
  return `${n.pci}${name} ${n.vendorId}:${n.deviceId} on ${n.driver ?? 'no driver'}`;
}

export function matchNic(nic: NicSettings, nics: readonly NicFacts[]): NicMatchResult {
  const { pci, mac, ifname } = nic.match;
  const ok = (n: NicFacts): boolean | null => {
    // true: matches; false: does not; null: cannot tell (name/MAC unknown while on a userspace driver)
    if (pci !== undefined && !matchesPci(n, pci)) return false;
    let unknown = false;
    if (mac !== undefined) {
      if (n.mac === null) unknown = true;
      else if (lc(n.mac) !== mac.toLowerCase()) return false;
    }
    if (ifname !== undefined) {
      if (n.ifname === null) unknown = true;
      else if (n.ifname !== ifname) return false;
    }
    return unknown ? null : true;
  };
  const candidates = nics.filter((n) => ok(n) === true);
  const unresolved = nics.filter((n) => ok(n) === null);
  const conflicts: string[] = [];
  if (candidates.length === 0) {
    // A matcher that on its own hits a NIC that is not a candidate: the matchers disagree.
    const hits: Array<[string, NicFacts | undefined]> = [
      [`pci ${pci}`, pci !== undefined ? nics.find((n) => matchesPci(n, pci)) : undefined],
      [`mac ${mac}`, mac !== undefined ? nics.find((n) => lc(n.mac) === mac.toLowerCase()) : undefined],
      [`ifname ${ifname}`, ifname !== undefined ? nics.find((n) => n.ifname === ifname) : undefined],
    ];
    for (const [what, n] of hits) {
      if (n && !unresolved.includes(n)) conflicts.push(`${what} is ${describeNic(n)}`);
    }
  }
  return { nic, candidates, unresolved, conflicts };
}

/** Resolve every inventory NIC of a host. */
export function matchNics(nics: readonly NicSettings[] | undefined, facts: Facts): NicMatchResult[] {
  return (nics ?? []).map((n) => matchNic(n, facts.nics));
}

/** The facts NIC an inventory NIC resolves to, when exactly one can be. */
export function resolved(r: NicMatchResult): NicFacts | null {
  if (r.candidates.length === 1) return r.candidates[0] ?? null;
  if (r.candidates.length === 0 && r.unresolved.length === 1) return r.unresolved[0] ?? null;
  return null;
}
