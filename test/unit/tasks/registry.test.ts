/** src/tasks/registry.ts is generated (npm run gen) and must name every task module's exported task. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTaskRegistry } from '../../../scripts/gen-task-registry.js';
import { taskRegistry } from '../../../src/tasks/registry.js';

const root = path.resolve(import.meta.dirname, '../../..');
const squash = (s: string): string => s.replace(/\s+/g, '').replace(/,([\])}])/g, '$1');

describe('the task registry', () => {
  it('is current: src/tasks/registry.ts is what npm run gen writes', () => {
    const want = renderTaskRegistry(path.join(root, 'src', 'tasks'));
    expect(squash(readFileSync(path.join(root, 'src', 'tasks', 'registry.ts'), 'utf8'))).toBe(squash(want));
  });

  it('holds each task under its own name, and every playbook names only registered tasks', () => {
    for (const [name, task] of taskRegistry) expect(task.name).toBe(name);
    for (const role of ['balancer', 'realserver']) {
      const text = readFileSync(path.join(root, 'playbooks', `${role}.yaml`), 'utf8');
      const names = [...text.matchAll(/^\s+- ([\w-]+)$/gm)].map((m) => m[1] as string);
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((n) => !taskRegistry.has(n))).toEqual([]);
    }
  });
});
