/** Human text for one check result. */
import type { CheckResult } from '../plan/change.js';

/**
 * ERROR CPU-001 lb1: hyper-threading is on
 *   found: 2 threads per core (smt/active=1)
 *   expected: 1 thread per core
 *   fix: BIOS: …
 * A waived result starts with WAIVED and adds `waived: <reason>`.
 */
export function formatCheck(result: CheckResult, host?: string): string {
  const level = result.waived !== undefined ? 'WAIVED' : result.severity === 'error' ? 'ERROR' : 'WARNING';
  const lines = [
    `${level} ${result.id}${host ? ` ${host}` : ''}: ${result.title}`,
    `  found: ${result.found}`,
    `  expected: ${result.expected}`,
    `  fix: ${result.fix}`,
  ];
  if (result.waived !== undefined) lines.push(`  waived: ${result.waived} (${result.severity})`);
  return lines.join('\n');
}
