/** Every preflight check, in report order. Ids are stable: never renumber, only append. */
import type { PreflightCheck } from './check.js';
import { bootChecks } from './checks/boot.js';
import { buildChecks } from './checks/build.js';
import { confChecks } from './checks/conf.js';
import { cpuChecks } from './checks/cpu.js';
import { hugepageChecks } from './checks/hugepages.js';
import { hwChecks } from './checks/hw.js';
import { kmodChecks } from './checks/kmod.js';
import { nicChecks } from './checks/nic.js';
import { numaChecks } from './checks/numa.js';
import { sysChecks } from './checks/sys.js';

export const allChecks: PreflightCheck[] = [
  ...sysChecks,
  ...hwChecks,
  ...cpuChecks,
  ...numaChecks,
  ...hugepageChecks,
  ...nicChecks,
  ...kmodChecks,
  ...buildChecks,
  ...confChecks,
  ...bootChecks,
];

export const CHECK_ID = /^[A-Z]+-\d{3}$/;

export function checkById(id: string): PreflightCheck | undefined {
  return allChecks.find((c) => c.id === id);
}
