/**
 * A reboot of the guest (`systemctl reboot`; QEMU runs without -no-reboot, same overlay), then
 * `verify` exits 0: what dpvs-deploy persisted came back through the real boot — hugepages on both
 * nodes (its oneshot unit, its fstab mount) and, when the toa task is registered, toa/uoa.
 */
import { describe, expect, it } from 'vitest';
import { HUGEPAGES_PER_NODE } from './inventory.js';
import { dpvsDeploy, missingTasks, unavailable, vm } from './harness.js';
import { hugepagesOnly, toaInventory } from './variants.js';
import { reboot } from './vm.js';

const off = unavailable();

describe.skipIf(off !== null)(`reboot${off ? ` (SKIPPED: ${off})` : ''}`, () => {
  it('after a reboot, verify exits 0 and the guest has it all again', async () => {
    const g = await vm();
    const withToa = (await missingTasks('toa')) === null;
    const inv = withToa ? await toaInventory() : await hugepagesOnly();
    const apply = await dpvsDeploy(['apply', inv, '--yes']);
    expect(apply.code, apply.all).toBe(0);

    const ms = await reboot(g.paths, g.state);
    console.error(`[vm] reboot → ssh in ${(ms / 1000).toFixed(1)} s`);
    expect((await g.must('cat /proc/uptime')).split('.')[0]).toMatch(/^\d{1,3}$/);

    for (const n of [0, 1])
      expect(
        Number(
          (
            await g.must(`cat /sys/devices/system/node/node${n}/hugepages/hugepages-2048kB/nr_hugepages`)
          ).trim(),
        ),
      ).toBe(HUGEPAGES_PER_NODE);
    expect(await g.must('findmnt -n -t hugetlbfs -o TARGET')).toMatch(/^\/dev\/hugepages$/m);
    if (withToa) {
      expect(await g.must('cat /proc/modules')).toMatch(/^toa /m);
      expect((await g.must('cat /sys/module/uoa/parameters/uoa_map_timeout')).trim()).toBe('120');
    }
    const verify = await dpvsDeploy(['verify', inv]);
    expect(verify.code, verify.all).toBe(0);
    const plan = await dpvsDeploy(['plan', inv]);
    expect(plan.code, plan.all).toBe(0);
  });
});
