/** Small helpers shared by the check modules. */
import type { Check } from '../plan/task.js';
import type { CheckResult } from '../plan/change.js';

/** What a failing check reports; the runner adds id, severity and title. */
export type Finding = Omit<CheckResult, 'id' | 'severity' | 'title'>;

export function finding(found: string, expected: string, fix: string): Finding {
  return { found, expected, fix };
}

/** "a, b and c" */
export function listText(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** CPU list as ranges: [0,1,2,5] → "0-2,5" */
export function cpuRanges(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === (s[j] ?? 0) + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

export function mib(kb: number): string {
  return `${Math.floor(kb / 1024)} MiB`;
}

/** A preflight check as this module declares them: the contract's Check plus a general how-to-fix for the docs. */
export interface PreflightCheck extends Check {
  /** How to fix it, in general (docs/preflight.md); each failure prints a fix specific to the host. */
  howToFix: string;
}
