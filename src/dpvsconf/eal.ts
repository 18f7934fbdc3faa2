/**
 * The EAL argument list dpvs runs with (its unit: src/tasks/dpvs/unit.ts). Pure.
 *
 * Upstream facts used (reference dpvs-upstream.md §3, §6):
 * - EAL: DPDK < 20.11 uses `-w BDF` and `--master-lcore`; 20.11+ uses `-a BDF` and `--main-lcore`.
 *   DPDK port ids follow the `-a` order, which must equal the device blocks' order in dpvs.conf.
 */
import { formatCpuList } from '../cpu-list.js';

export interface EalInput {
  dpdkVersion: string;
  /** PCI addresses in dpvs.conf device order. */
  pcis: string[];
  /** Every CPU dpvs runs on (master, slaves, kni worker). */
  lcores: number[];
  mainLcore: number;
  filePrefix?: string;
}

function dpdkIsModern(version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new Error(`not a DPDK version: ${JSON.stringify(version)}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 20 || (major === 20 && minor >= 11);
}

export function ealArgs(input: EalInput): string[] {
  if (!input.lcores.includes(input.mainLcore)) {
    throw new Error(
      `the main lcore ${input.mainLcore} must be one of the lcores (${formatCpuList(input.lcores)})`,
    );
  }
  const modern = dpdkIsModern(input.dpdkVersion);
  const args = [
    '-l',
    formatCpuList(input.lcores),
    modern ? '--main-lcore' : '--master-lcore',
    String(input.mainLcore),
  ];
  for (const pci of input.pcis) args.push(modern ? '-a' : '-w', pci);
  if (input.filePrefix !== undefined) args.push('--file-prefix', input.filePrefix);
  return args;
}
