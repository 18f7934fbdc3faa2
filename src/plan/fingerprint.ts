/**
 * Fingerprints: a plan records the facts it was planned from; apply of a saved plan re-probes and
 * refuses a host whose fingerprint changed. The fingerprint covers the fact sections and the typed
 * readings of the probe's reads (src/facts/readings.ts: the DPVS release `current` points to, the LB
 * state, the built kernel modules' hashes, the compiler, ...), as their readers parse them, never their
 * raw text. Volatile readings (free memory, timings, pids, the counters dpip and ipvsadm print) are
 * left out, so the fingerprint changes only when the host really changed.
 *
 * Which readers there are is the caller's: the plan layer cannot see the LB state's reader
 * (src/lb/current.ts), so src/run/fingerprint.ts names the full set and planHost takes the function.
 */
import { createHash } from 'node:crypto';
import { typedReadings, type ReaderSet } from '../facts/readings.js';
import type { Facts } from '../facts/types.js';

export function stableFacts(f: Facts, readers: ReaderSet): Record<string, unknown> {
  return {
    ...f,
    probeMs: undefined,
    memory: { ...f.memory, freeKb: undefined },
    numa: f.numa.map((n) => ({ ...n, memFreeKb: undefined })),
    processes: Object.fromEntries(Object.entries(f.processes).map(([k, v]) => [k, v.length > 0])),
    outputs: undefined,
    readings: typedReadings(f, readers),
    diskFreeMb: Object.fromEntries(Object.entries(f.diskFreeMb).map(([k, v]) => [k, Math.round(v / 1024)])),
  };
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .filter(([, x]) => x !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function factsFingerprint(f: Facts, readers: ReaderSet): string {
  return sha256(canonicalJson(stableFacts(f, readers)));
}

/**
 * Paths (a.b[2].c) whose values differ between two fact documents: says what changed, e.g.
 * `readings.dpvs-releases.current: "/opt/dpvs/releases/1.9.6-…" → "/opt/dpvs/releases/1.9.8-…"`.
 */
export function factsDifferences(a: Facts, b: Facts, readers: ReaderSet, limit = 20): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (out.length >= limit) return;
    if (canonicalJson(x) === canonicalJson(y)) return;
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      const keys = new Set([...Object.keys(x as object), ...Object.keys(y as object)]);
      for (const k of keys) {
        const isArr = Array.isArray(x);
        walk(
          (x as Record<string, unknown>)[k],
          (y as Record<string, unknown>)[k],
          isArr ? `${path}[${k}]` : path ? `${path}.${k}` : k,
        );
      }
      return;
    }
    out.push(`${path}: ${show(x)} → ${show(y)}`);
  };
  walk(
    JSON.parse(canonicalJson(stableFacts(a, readers))),
    JSON.parse(canonicalJson(stableFacts(b, readers))),
    '',
  );
  return out;
}

/** A value as a difference shows it: JSON, `absent` for nothing. */
function show(v: unknown): string {
  return v === undefined ? 'absent' : JSON.stringify(v);
}
