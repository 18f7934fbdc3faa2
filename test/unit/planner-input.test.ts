import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/plan/change.js';
import { INPUT_CHECK_ID, inputProblems } from '../../src/plan/planner.js';
import { failStep } from '../../src/tasks/dpdk/fail.js';

const change = (task: string, steps: Change['steps']): Change => ({
  id: `${task}/x`,
  task,
  summary: task,
  action: 'run',
  steps,
});

describe('changes planned to fail block the host at plan time', () => {
  it('each fail step becomes a blocking INPUT-001 check naming the problem', () => {
    const checks = inputProblems([
      change('hugepages', [{ kind: 'exec', command: 'true' }]),
      change('dpdk-source', [failStep('DPDK 20.11.10 source: /x/dpdk.tar.xz: no such file')]),
      change('toa', [failStep('linux-headers-6.1.0-99-amd64 is not available from apt')]),
    ]);
    expect(checks.map((c) => [c.id, c.severity, c.title])).toEqual([
      [INPUT_CHECK_ID, 'error', 'dpdk-source cannot be applied'],
      [INPUT_CHECK_ID, 'error', 'toa cannot be applied'],
    ]);
    expect(checks[0]?.found).toContain('/x/dpdk.tar.xz: no such file');
    expect(checks[1]?.found).toContain('linux-headers-6.1.0-99-amd64');
  });

  it('ordinary steps, even failing-looking commands, are not problems', () => {
    expect(inputProblems([change('x', [{ kind: 'exec', command: 'exit 1' }])])).toEqual([]);
  });
});
