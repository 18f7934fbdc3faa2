import { expect } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import type { CheckResult } from '../../../src/plan/change.js';
import { runPreflight } from '../../../src/preflight/index.js';
import { planContext } from '../../support/facts-builder.js';

/** Runs preflight and returns the result of `id`, failing the test when the check did not trip. */
export function tripped(host: ResolvedHost, facts: Facts, id: string): CheckResult {
  const results = runPreflight(planContext(host, facts));
  const r = results.find((x) => x.id === id);
  expect(r, `${id} should trip; got ${results.map((x) => x.id).join(', ') || 'nothing'}`).toBeDefined();
  return r as CheckResult;
}

/** Ids of every failing check. */
export function failing(host: ResolvedHost, facts: Facts): string[] {
  return runPreflight(planContext(host, facts)).map((r) => r.id);
}
