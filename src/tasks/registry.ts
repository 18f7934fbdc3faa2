/** Every task the playbooks may name. */
import { dpvsNetworkTask } from './dpvs-network.js';
import { hugepagesTask } from './hugepages.js';
import { keepalivedTask } from './keepalived.js';
import { lbServicesTask } from './lb-services.js';
import { nofileTask } from './nofile.js';
import type { Task } from './types.js';

export const taskRegistry: ReadonlyMap<string, Task> = new Map(
  [hugepagesTask, nofileTask, dpvsNetworkTask, lbServicesTask, keepalivedTask].map((t) => [t.name, t]),
);
