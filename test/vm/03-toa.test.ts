/**
 * The real-server role's toa path on a real kernel: dpvs-deploy pushes a DPVS source tarball (the lab
 * fixture with real kernel-module stand-ins for kmod/toa and kmod/uoa), builds toa.ko and uoa.ko with
 * kbuild against the guest's headers, loads them with their parameters and persists them.
 */
import { describe, expect, it } from 'vitest';
import { dpvsDeploy, missingTasks, unavailable, vm } from './harness.js';
import { toaInventory } from './variants.js';

const off = unavailable();

describe.skipIf(off !== null)(
  `toa/uoa built and loaded on a real kernel${off ? ` (SKIPPED: ${off})` : ''}`,
  () => {
    it('plan → apply → plan 0 → verify 0; the modules are loaded with their parameters and persisted', async (ctx) => {
      const missing = await missingTasks('toa');
      if (missing) return ctx.skip(missing);
      const g = await vm();
      const inv = await toaInventory();
      const plan = await dpvsDeploy(['plan', inv]);
      expect(plan.code, plan.all).toBe(2);
      const apply = await dpvsDeploy(['apply', inv, '--yes']);
      expect(apply.code, apply.all).toBe(0);
      const again = await dpvsDeploy(['plan', inv]);
      expect(again.code, again.all).toBe(0);
      const verify = await dpvsDeploy(['verify', inv]);
      expect(verify.code, verify.all).toBe(0);

      const mods = await g.must('cat /proc/modules');
      expect(mods).toMatch(/^toa /m);
      expect(mods).toMatch(/^uoa /m);
      expect((await g.must('cat /sys/module/uoa/parameters/uoa_map_timeout')).trim()).toBe('120');
      expect((await g.must('cat /sys/module/uoa/parameters/uoa_debug')).trim()).toBe('1');
      // Built here against this kernel's headers (vermagic), installed where modprobe finds it.
      expect(await g.must('modinfo -F vermagic toa')).toContain(g.state.kver);
      expect(await g.must('modinfo -n toa')).toMatch(new RegExp(`^/lib/modules/${g.state.kver}/`));
      const dmesg = await g.must('dmesg');
      expect(dmesg).toContain('TOA 2.0.0.0 by qlb of iqiyi');
      expect(dmesg).toContain('toa loaded');
      // upstream's counters file, one column per online CPU (the guest has two)
      expect(await g.must('cat /proc/net/toa_stats')).toMatch(/CPU0 +CPU1[\s\S]*^syn_recv_sock_toa +:0 +0 /m);
      expect(await g.must('cat /proc/net/uoa_stats')).toMatch(/Success +Miss/);
      expect(await g.must('cat /etc/modules-load.d/*.conf')).toMatch(/^toa$/m);
      expect(await g.must('cat /etc/modprobe.d/*.conf')).toMatch(/^options uoa .*uoa_map_timeout=120/m);
    });
  },
);
