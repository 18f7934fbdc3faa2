import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { parseTaskFilter, tasksForRoles } from '../../../src/run/playbooks.js';

describe('--tasks: a subset of the playbooks, in playbook order', () => {
  it('keeps playbook order whatever order the names are given in', () => {
    const only = parseTaskFilter('nic-binding, dpdk-build,dpdk-source');
    expect(tasksForRoles(['balancer'], only).map((t) => t.name)).toEqual([
      'dpdk-source',
      'dpdk-build',
      'nic-binding',
    ]);
  });

  it('a role without any of the named tasks runs nothing', () => {
    expect(tasksForRoles(['realserver'], parseTaskFilter('nic-binding'))).toEqual([]);
  });

  it('without a filter every task of the roles runs once', () => {
    const all = tasksForRoles(['balancer', 'realserver']).map((t) => t.name);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toContain('toa');
    expect(all[0]).toBe('kernel-cmdline');
  });

  it('an unknown or empty name is a user error listing the tasks', () => {
    expect(() => parseTaskFilter('dpdk-biuld')).toThrow(UserError);
    expect(() => parseTaskFilter('dpdk-biuld')).toThrow(
      /unknown task\(s\) dpdk-biuld; the tasks are: kernel-cmdline, hugepages,/,
    );
    expect(() => parseTaskFilter(',')).toThrow(/no task named/);
  });
});
