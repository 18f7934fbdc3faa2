/**
 * playbooks/<role>.yaml: which tasks run for a role, in order. A host with several roles runs the union,
 * each task once, in the order of first appearance (balancer before realserver).
 */
import { UserError } from '../errors.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Role } from '../inventory/schema.js';
import { packagePath } from '../paths.js';
import { taskRegistry } from '../tasks/registry.js';
import type { Task } from '../plan/task.js';

const Playbook = z
  .object({ role: z.string(), description: z.string().optional(), tasks: z.array(z.string()) })
  .strict();
const ROLE_ORDER: Role[] = ['balancer', 'realserver', 'client'];
const cache = new Map<Role, string[]>();

export function playbookTasks(role: Role): string[] {
  const hit = cache.get(role);
  if (hit) return hit;
  let names: string[] = [];
  try {
    const doc = Playbook.parse(parse(readFileSync(packagePath('playbooks', `${role}.yaml`), 'utf8')));
    names = doc.tasks;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  for (const n of names)
    if (!taskRegistry.has(n)) throw new Error(`playbooks/${role}.yaml names unknown task '${n}'`);
  cache.set(role, names);
  return names;
}

/** The tasks of a host's roles in playbook order; with `only`, just those of them (`--tasks`). */
export function tasksForRoles(roles: ReadonlyArray<Role>, only?: ReadonlySet<string>): Task[] {
  const seen = new Set<string>();
  const out: Task[] = [];
  for (const role of ROLE_ORDER.filter((r) => roles.includes(r)))
    for (const name of playbookTasks(role)) {
      if (seen.has(name) || (only && !only.has(name))) continue;
      seen.add(name);
      out.push(taskRegistry.get(name) as Task);
    }
  return out;
}

/** Parses `--tasks a,b`: every name must be a task of some playbook. */
export function parseTaskFilter(list: string): Set<string> {
  const known = new Set(ROLE_ORDER.flatMap((r) => playbookTasks(r)));
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !known.has(n));
  if (!names.length || unknown.length)
    throw new UserError(
      `--tasks ${list}: ${unknown.length ? `unknown task(s) ${unknown.join(', ')}` : 'no task named'}; ` +
        `the tasks are: ${[...known].join(', ')}`,
    );
  return new Set(names);
}
