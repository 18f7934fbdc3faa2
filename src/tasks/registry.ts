/** Every task the playbooks may name. */
import { hugepagesTask } from './hugepages.js';
import { nofileTask } from './nofile.js';
import type { Task } from './types.js';

export const taskRegistry: ReadonlyMap<string, Task> = new Map(
  [hugepagesTask, nofileTask].map((t) => [t.name, t]),
);
