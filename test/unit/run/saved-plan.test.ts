/** apply plan.json: which saved host plans are still good, on the facts just gathered (src/run/saved-plan.ts). */
import { describe, expect, it } from 'vitest';
import { makePlanFile } from '../../../src/plan/plan-file.js';
import { hostFingerprint } from '../../../src/run/fingerprint.js';
import { checkSavedPlan } from '../../../src/run/saved-plan.js';
import { factsBuilder } from '../../support/facts-builder.js';

const then = factsBuilder().build();
const change = { id: 'c', task: 't', summary: 's', action: 'update' as const, steps: [] };
const saved = makePlanFile(
  '/inv.yaml',
  '0'.repeat(64),
  ['same', 'changed', 'gone'].map((host) => ({
    plan: {
      host,
      status: 'planned' as const,
      changes: [change],
      checks: [],
      factsFingerprint: hostFingerprint(then),
    },
    facts: then,
  })),
  'test',
);

describe('checkSavedPlan', () => {
  it('keeps a host as planned, refuses a changed host as stale with what changed, and an unreachable one', () => {
    const now = { ...then, kernel: { ...then.kernel, release: '6.1.0-99-amd64' } };
    const out = checkSavedPlan(
      saved,
      new Map([
        ['same', then],
        ['changed', now],
      ]),
      new Map([['gone', 'connect ETIMEDOUT']]),
    );
    expect(out.get('same')).toMatchObject({ status: 'planned', changes: [change] });
    expect(out.get('changed')?.status).toBe('stale');
    expect(out.get('changed')?.error).toMatch(
      /^stale plan: the host changed since it was planned; plan again:\n\s+kernel/,
    );
    expect(out.get('gone')).toMatchObject({ status: 'unreachable', error: 'connect ETIMEDOUT' });
  });

  it('derives the status of a plan saved before plans carried one', () => {
    const legacy = structuredClone(saved);
    for (const h of legacy.hosts) delete (h as { status?: string }).status;
    const first = legacy.hosts[0];
    if (!first) throw new Error('no host');
    first.checks = [{ id: 'HW-001', severity: 'error', title: 't', found: 'f', expected: 'e', fix: 'x' }];
    const out = checkSavedPlan(legacy, new Map([['same', then]]), new Map());
    expect(out.get('same')?.status).toBe('blocked');
  });
});
