/** Every task the playbooks may name. */
import { dpdkBuildTask } from './dpdk-build.js';
import { dpdkSourceTask } from './dpdk-source.js';
import { dpvsBuildTask } from './dpvs-build.js';
import { dpvsConfTask } from './dpvs-conf.js';
import { dpvsNetworkTask } from './dpvs-network.js';
import { dpvsServiceTask } from './dpvs-service.js';
import { hugepagesTask } from './hugepages.js';
import { keepalivedTask } from './keepalived.js';
import { kmodsTask } from './kmods.js';
import { lbServicesTask } from './lb-services.js';
import { nicBindingTask } from './nic-binding.js';
import { nofileTask } from './nofile.js';
import { packagesTask } from './packages.js';
import { toaTask } from './toa.js';
import type { Task } from '../plan/task.js';

export const taskRegistry: ReadonlyMap<string, Task> = new Map(
  [
    hugepagesTask,
    nofileTask,
    packagesTask,
    dpdkSourceTask,
    dpdkBuildTask,
    kmodsTask,
    nicBindingTask,
    dpvsBuildTask,
    dpvsConfTask,
    dpvsServiceTask,
    dpvsNetworkTask,
    lbServicesTask,
    keepalivedTask,
    toaTask,
  ].map((t) => [t.name, t]),
);
