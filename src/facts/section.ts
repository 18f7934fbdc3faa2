/**
 * One fact module = a shell snippet (run inside the single probe script) and a parser for the text
 * that snippet printed. The probe wraps each snippet's output between markers, so a parser sees only
 * its own section.
 */
import type { ProbeRequest } from './types.js';

export interface FactModule<T> {
  /** Section name in the probe output. */
  name: string;
  /** POSIX sh; may use the helper functions defined in probe.ts (b64, kv). */
  snippet(request: Required<ProbeRequest>): string;
  parse(text: string): T;
}

/** Lines of `key<TAB>value` into a map (first tab splits). */
export function kvLines(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const i = line.indexOf('\t');
    out.push(i < 0 ? [line, ''] : [line.slice(0, i), line.slice(i + 1)]);
  }
  return out;
}

export function fromB64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

export function int(s: string | undefined, fallback = 0): number {
  if (s === undefined) return fallback;
  const n = Number.parseInt(s.trim(), 10);
  return Number.isFinite(n) ? n : fallback;
}

/** "0-3,8,10-11" -> [0,1,2,3,8,10,11] */
export function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-');
    const lo = int(a, NaN);
    const hi = b === undefined ? lo : int(b, NaN);
    if (Number.isNaN(lo) || Number.isNaN(hi)) continue;
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}
