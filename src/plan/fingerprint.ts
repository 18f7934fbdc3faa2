/**
 * Fingerprints: a plan records the facts it was planned from; apply of a saved plan re-probes and
 * refuses a host whose fingerprint changed. Volatile readings (free memory, timings, pids, command
 * outputs with counters) are left out, so the fingerprint changes only when the host really changed.
 */
import { createHash } from 'node:crypto';
import type { Facts } from '../facts/types.js';

export function stableFacts(f: Facts): Record<string, unknown> {
  return {
    ...f,
    probeMs: undefined,
    memory: { ...f.memory, freeKb: undefined },
    numa: f.numa.map((n) => ({ ...n, memFreeKb: undefined })),
    processes: Object.fromEntries(Object.entries(f.processes).map(([k, v]) => [k, v.length > 0])),
    outputs: undefined,
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

export function factsFingerprint(f: Facts): string {
  return sha256(canonicalJson(stableFacts(f)));
}

/** Paths (a.b[2].c) whose values differ between two fact documents: says what changed. */
export function factsDifferences(a: Facts, b: Facts, limit = 20): string[] {
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
    out.push(`${path}: ${JSON.stringify(x)} → ${JSON.stringify(y)}`);
  };
  walk(JSON.parse(canonicalJson(stableFacts(a))), JSON.parse(canonicalJson(stableFacts(b))), '');
  return out;
}
