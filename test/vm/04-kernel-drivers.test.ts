/**
 * What the balancer's kernel side needs, on the real guest kernel: uio_pci_generic and vfio-pci
 * (vfio with q35's emulated VT-d: the guest's bootloader configuration has no intel_iommu=on, but
 * Debian bookworm's 6.1 kernel turns the Intel IOMMU on by default, CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y
 * in its /boot/config; 10-kernel-cmdline has the tool add intel_iommu=on iommu=pt), and the REAL
 * dpdk-devbind.py binding the e1000 and virtio test NICs and back. These prove the tier can exercise the
 * kmods and nic-binding tasks (05-balancer.test.ts). igb_uio is not built here: 06-realdpdk has the tool
 * build it from Debian's dpdk-kmods source for the guest's kernel (on the native build host, never under
 * TCG) and load it on the guest with its parameters.
 */
import { describe, expect, it } from 'vitest';
import { unavailable, vm } from './harness.js';
import { MGMT_MAC } from './qemu.js';
import { pciByMac } from './vm.js';

const off = unavailable();
const devbind = 'dpdk-devbind.py';

describe.skipIf(off !== null)(`kernel drivers on a real kernel${off ? ` (SKIPPED: ${off})` : ''}`, () => {
  it('loads uio_pci_generic and vfio-pci; the IOMMU gives vfio groups', async () => {
    const g = await vm();
    await g.must('modprobe uio_pci_generic && modprobe vfio-pci');
    const mods = await g.must('cat /proc/modules');
    expect(mods).toMatch(/^uio_pci_generic /m);
    expect(mods).toMatch(/^vfio_pci /m);
    expect(Number((await g.must('ls /sys/kernel/iommu_groups | wc -l')).trim())).toBeGreaterThan(1);
  });

  for (const driver of ['uio_pci_generic', 'vfio-pci']) {
    it(`the real dpdk-devbind.py binds the e1000 and virtio NICs to ${driver} and back`, async () => {
      const g = await vm();
      const { e1000, virtio } = g.state.nics;
      const drv = async (bdf: string): Promise<string> =>
        (await g.must(`basename "$(readlink /sys/bus/pci/devices/${bdf}/driver)"`)).trim();
      expect(await drv(e1000)).toBe('e1000');
      expect(await drv(virtio)).toBe('virtio-pci');
      await g.must(`modprobe ${driver} && ${devbind} -b ${driver} ${e1000} ${virtio}`);
      expect(await drv(e1000)).toBe(driver);
      expect(await drv(virtio)).toBe(driver);
      const dev = driver === 'vfio-pci' ? 'ls /dev/vfio' : 'ls /dev | grep ^uio';
      expect(
        (await g.must(dev))
          .trim()
          .split('\n')
          .filter((l) => l !== 'vfio'),
      ).toHaveLength(2);
      await g.must(
        `for d in ${e1000} ${virtio}; do echo > /sys/bus/pci/devices/$d/driver_override; done; ` +
          `${devbind} -b e1000 ${e1000} && ${devbind} -b virtio-pci ${virtio}`,
      );
      expect(await drv(e1000)).toBe('e1000');
      expect(await drv(virtio)).toBe('virtio-pci');
    });
  }

  it('dpdk-devbind.py will not take the management NIC (it carries SSH) — and still exits 0', async () => {
    const g = await vm();
    const mgmt = await pciByMac(g.target, MGMT_MAC);
    const r = await g.ssh(`modprobe uio_pci_generic; ${devbind} -b uio_pci_generic ${mgmt}; echo "rc=$?"`);
    expect(r.stdout + r.stderr).toMatch(/Not modifying/);
    expect(r.stdout).toMatch(/rc=0/);
    expect((await g.must(`basename "$(readlink /sys/bus/pci/devices/${mgmt}/driver)"`)).trim()).toBe(
      'virtio-pci',
    );
  });
});
