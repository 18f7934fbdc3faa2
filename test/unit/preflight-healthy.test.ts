import { describe, expect, it } from 'vitest';
import { allChecks, blocking, formatCheck, runPreflight } from '../../src/preflight/index.js';
import { planContext, r630, r630Host } from '../support/facts-builder.js';

describe('preflight on a healthy host', () => {
  it('the tutorial R630 balancer passes every check', () => {
    const results = runPreflight(planContext(r630Host(), r630().build()));
    expect(results.map((r) => formatCheck(r, 'lb1'))).toEqual([]);
  });
});
