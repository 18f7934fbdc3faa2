/**
 * The fingerprint of a host's facts with every typed reader the tool has: src/facts's readers and the
 * live LB state's (src/lb/current.ts). planFleet, rollback and apply of a saved plan use these, so a
 * plan made in one run and checked in another is fingerprinted the same way.
 */
import { FACT_READERS, type ReaderSet } from '../facts/readings.js';
import type { Facts } from '../facts/types.js';
import { lbState } from '../lb/current.js';
import { factsDifferences, factsFingerprint } from '../plan/fingerprint.js';

export const HOST_READERS = { ...FACT_READERS, 'lb-state': lbState } satisfies ReaderSet;

export function hostFingerprint(f: Facts): string {
  return factsFingerprint(f, HOST_READERS);
}

export function hostDifferences(a: Facts, b: Facts, limit = 20): string[] {
  return factsDifferences(a, b, HOST_READERS, limit);
}
