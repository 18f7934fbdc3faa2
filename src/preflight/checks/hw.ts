/** The inventory's hardware expectations (expect.numa_nodes, expect.smt, expect.os) against the facts. */
import { finding, type PreflightCheck } from '../check.js';

export const expectNuma: PreflightCheck = {
  id: 'HW-001',
  title: 'NUMA node count differs from expect.numa_nodes',
  severity: 'error',
  howToFix: 'Fix the BIOS NUMA setting, or correct expect.numa_nodes.',
  protects:
    'A host whose BIOS or hardware differs from what the inventory was written for (node interleaving, NPS4, a swapped box).',
  run({ host, facts }) {
    const want = host.expect?.numa_nodes;
    const have = Math.max(1, facts.numa.length);
    if (want === undefined || want === have) return null;
    return finding(
      `${have} NUMA node${have === 1 ? '' : 's'}`,
      `${want} (expect.numa_nodes)`,
      'BIOS: Memory Settings → Node Interleaving: Disabled (AMD: NUMA Nodes Per Socket), or correct expect.numa_nodes',
    );
  },
};

export const expectSmt: PreflightCheck = {
  id: 'HW-002',
  title: 'hyper-threading differs from expect.smt',
  severity: 'error',
  howToFix: 'Fix the BIOS hyper-threading setting, or correct expect.smt.',
  protects: 'A host whose hyper-threading setting differs from what the worker layout was planned for.',
  run({ host, facts }) {
    const want = host.expect?.smt;
    const have = facts.cpu.smtActive || facts.cpu.threadsPerCore > 1;
    if (want === undefined || want === have) return null;
    return finding(
      `hyper-threading ${have ? 'on' : 'off'} (${facts.cpu.threadsPerCore} threads per core)`,
      `hyper-threading ${want ? 'on' : 'off'} (expect.smt: ${want})`,
      `BIOS: Processor Settings → Logical Processor (Hyper-Threading): ${want ? 'Enabled' : 'Disabled'}, or correct expect.smt`,
    );
  },
};

export const expectOs: PreflightCheck = {
  id: 'HW-003',
  title: 'operating system differs from expect.os',
  severity: 'error',
  howToFix: 'Reinstall the expected OS, or correct expect.os.',
  protects: 'Deploying to a host reinstalled with another distribution than the inventory was written for.',
  run({ host, facts }) {
    const want = host.expect?.os;
    if (want === undefined || want === facts.os.id) return null;
    return finding(
      `${facts.os.prettyName || facts.os.id} (ID=${facts.os.id})`,
      `ID=${want} (expect.os)`,
      'reinstall the expected OS, or correct expect.os',
    );
  },
};

export const hwChecks: PreflightCheck[] = [expectNuma, expectSmt, expectOs];
