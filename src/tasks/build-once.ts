/**
 * Helpers of the build-once groupings (dpdk/build-role.ts, toa/builder.ts, dpvs/release.ts): each is a
 * fleet derivation (src/plan/fleet.ts) computed once per planning pass; a host looks its group up.
 */

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
