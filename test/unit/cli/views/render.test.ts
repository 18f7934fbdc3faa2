import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { CheckResult, HostPlan } from '../../../../src/plan/change.js';
import { isFailure } from '../../../../src/cli/views/results.js';
import { makeStyle } from '../../../../src/cli/views/style.js';
import { planTotals } from '../../../../src/plan/totals.js';
import { renderHostPlan, renderPlanSummary, wrapCommand } from '../../../../src/cli/views/plan.js';

const plain = makeStyle(false);
const color = makeStyle(true);
const GREEN = '\u001b[32m';

const blockingCheck: CheckResult = {
  id: 'CPU-001',
  severity: 'error',
  title: 'hyper-threading is on',
  found: '2',
  expected: '1',
  fix: 'BIOS',
};
const change = (id: string) => ({ id, task: 'nofile', summary: id, action: 'create' as const, steps: [] });
const inSync: HostPlan = { host: 'a', status: 'planned', changes: [], checks: [], factsFingerprint: 'f' };
const withChanges: HostPlan = {
  host: 'b',
  status: 'planned',
  changes: [change('x'), change('y')],
  checks: [],
  factsFingerprint: 'f',
};
const blocked: HostPlan = {
  host: 'c',
  status: 'blocked',
  changes: [change('z')],
  checks: [blockingCheck],
  factsFingerprint: 'f',
};
const blockedNoChange: HostPlan = {
  host: 'c2',
  status: 'blocked',
  changes: [],
  checks: [blockingCheck],
  factsFingerprint: 'f',
};
const unreachable = (host: string): HostPlan => ({
  host,
  status: 'unreachable',
  changes: [],
  checks: [],
  factsFingerprint: '',
  error: 'connect ECONNREFUSED',
});
const failed: HostPlan = {
  host: 'f',
  status: 'error',
  changes: [],
  checks: [],
  factsFingerprint: 'f',
  error: 'planner: boom',
};

describe('the plan summary counts each kind of host apart', () => {
  it('one blocked, three unreachable, one in sync: incomplete, not "No changes", not green', () => {
    const plans = [inSync, blockedNoChange, unreachable('u1'), unreachable('u2'), unreachable('u3')];
    const line = renderPlanSummary(plans, plain);
    expect(line).toBe(
      'Plan incomplete: no change can be applied, 1 host(s) in sync, 1 host(s) blocked by preflight, 3 host(s) unreachable.',
    );
    expect(line).not.toContain('No changes');
    expect(renderPlanSummary(plans, color)).not.toContain(GREEN);
    expect(planTotals(plans)).toMatchObject({
      inSync: 1,
      blocked: 1,
      unreachable: 3,
      failed: 0,
      complete: false,
    });
  });

  it('"No changes." in green only when every host was planned and none has a change', () => {
    expect(renderPlanSummary([inSync, { ...inSync, host: 'a2' }], plain)).toBe(
      'Plan: No changes., 2 host(s) in sync.',
    );
    expect(renderPlanSummary([inSync], color)).toContain(`${GREEN}No changes.`);
  });

  it('a blocked host is neither in sync nor among the hosts with changes; its changes are held back', () => {
    const line = renderPlanSummary([inSync, withChanges, blocked, failed], plain);
    expect(line).toBe(
      'Plan incomplete: 2 change(s) on 1 host(s), 1 host(s) in sync, 1 host(s) blocked by preflight (1 change(s) held back), 1 host(s) could not be planned.',
    );
  });

  it('failed, unreachable, blocked and stale results are failures (stderr); ok, changed, skipped are not', () => {
    for (const s of ['failed', 'unreachable', 'blocked', 'stale'] as const)
      expect(isFailure({ status: s })).toBe(true);
    for (const s of ['ok', 'changed', 'skipped'] as const) expect(isFailure({ status: s })).toBe(false);
  });
});

describe('plans show commands in full', () => {
  const long = `printf '%s\\n' ${Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ')} > /etc/x && echo 'a quoted part with spaces that must not be broken inside the quotes at all ever' | tee -a /etc/x`;

  it('a 400-character command is wrapped with shell continuations, never cut, and is the same command', () => {
    expect(long.length).toBeGreaterThan(400);
    const plan: HostPlan = {
      host: 'lb1',
      status: 'planned',
      changes: [{ ...change('c'), steps: [{ kind: 'exec', command: long }] }],
      checks: [],
      factsFingerprint: 'f',
    };
    const text = renderHostPlan(plan, undefined, { diffs: true, style: plain });
    expect(text).not.toContain('…');
    const lines = text.split('\n').filter((l) => l.startsWith('      '));
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(6 + 2 + 110 + 2);
    expect(text).toContain(
      "'a quoted part with spaces that must not be broken inside the quotes at all ever'",
    );
    // the wrapped text is the same command: sh gets the same words from both
    const words = `printf '%s|' ${Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ')} 'a b  c' "d \\" e" f\\ g`;
    const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout;
    const wrapped = wrapCommand(words, 40);
    expect(wrapped.split('\n').length).toBeGreaterThan(3);
    expect(sh(wrapped)).toBe(sh(words));
    expect(sh(words)).toContain('|a b  c|d " e|f g|');
  });

  it('leaves a line without a space outside quotes whole', () => {
    const noSpace = `echo '${'x '.repeat(100)}'`;
    expect(wrapCommand(noSpace, 50).split('\n')).toHaveLength(2); // one break after echo only
    expect(wrapCommand(noSpace, 50).replace(' \\\n  ', ' ')).toBe(noSpace);
  });
});
