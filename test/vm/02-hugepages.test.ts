/**
 * hugepages for REAL on both NUMA nodes of the guest kernel: plan (2) → apply → plan (0) → verify (0),
 * then the guest's own sysfs, mount table, fstab and systemd say the same.
 */
import { describe, expect, it } from 'vitest';
import { HUGEPAGES_PER_NODE } from './inventory.js';
import { dpvsDeploy, unavailable, vm } from './harness.js';
import { hugepagesOnly } from './variants.js';

const off = unavailable();
const node = (n: number, f: string): string =>
  `/sys/devices/system/node/node${n}/hugepages/hugepages-2048kB/${f}`;

describe.skipIf(off !== null)(`hugepages on a real kernel${off ? ` (SKIPPED: ${off})` : ''}`, () => {
  it('plan shows the change, apply makes it, plan and verify then find nothing to do', async () => {
    const g = await vm();
    const inv = await hugepagesOnly();
    for (const n of [0, 1]) expect((await g.must(`cat ${node(n, 'nr_hugepages')}`)).trim()).toBe('0');

    const plan = await dpvsDeploy(['plan', inv]);
    expect(plan.code, plan.all).toBe(2);
    expect(plan.stdout).toMatch(/node0 2M hugepages: 0 → 64/);
    expect(plan.stdout).toMatch(/node1 2M hugepages: 0 → 64/);

    const apply = await dpvsDeploy(['apply', inv, '--yes']);
    expect(apply.code, apply.all).toBe(0);

    const again = await dpvsDeploy(['plan', inv]);
    expect(again.code, again.all).toBe(0);
    const verify = await dpvsDeploy(['verify', inv]);
    expect(verify.code, verify.all).toBe(0);
  });

  it('the guest kernel really holds the pages on each node, mounted and persisted', async () => {
    const g = await vm();
    for (const n of [0, 1]) {
      expect(Number((await g.must(`cat ${node(n, 'nr_hugepages')}`)).trim())).toBe(HUGEPAGES_PER_NODE);
      expect(Number((await g.must(`cat ${node(n, 'free_hugepages')}`)).trim())).toBe(HUGEPAGES_PER_NODE);
    }
    expect(await g.must('grep HugePages_Total /proc/meminfo')).toMatch(
      new RegExp(`HugePages_Total:\\s+${2 * HUGEPAGES_PER_NODE}\\b`),
    );
    expect(await g.must('findmnt -n -t hugetlbfs -o TARGET')).toMatch(/^\/dev\/hugepages$/m);
    expect(await g.must('cat /etc/fstab')).toMatch(/^\S+\s+\/dev\/hugepages\s+hugetlbfs\s/m);
    expect((await g.must('systemctl is-enabled dpvs-hugepages.service')).trim()).toBe('enabled');
    // The unit the real systemd runs at boot writes the same counters.
    const unit = await g.must('systemctl cat dpvs-hugepages.service');
    for (const n of [0, 1]) expect(unit).toContain(`echo ${HUGEPAGES_PER_NODE} > ${node(n, 'nr_hugepages')}`);
  });
});
