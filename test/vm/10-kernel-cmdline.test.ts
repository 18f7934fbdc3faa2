/**
 * Kernel boot arguments through the guest's own bootloader, on a real kernel (issue #25): the guest
 * boots with what its /boot/grub/grub.cfg says (the launcher reads it from the disk at every boot,
 * supervisor.ts), and that has no intel_iommu=on (Debian bookworm's 6.1 kernel turns the Intel IOMMU on
 * by default anyway, CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y: IOMMU groups exist before, with DMA
 * translated; iommu=pt makes the default domain passthrough, which the kernel reports at boot as "set via
 * kernel command line"). dpvs-deploy plans the /etc/default/grub change and a
 * reboot; apply edits GRUB_CMDLINE_LINUX, runs the guest's real update-grub, reboots it once
 * (`systemctl reboot`: the guest resets, the supervisor boots it again from the regenerated grub.cfg);
 * verify finds the arguments in /proc/cmdline, IOMMU groups from q35's emulated VT-d and the boot-time
 * 2 MB pages on both nodes (the kernel's own "pre-allocated 128 pages" at boot, not the runtime unit's); vfio-pci then binds a NIC (no no-IOMMU mode: Debian's kernel has none);
 * a second apply changes nothing and does not reboot; rollback restores the command line (and reboots).
 *
 * The same reboot is the persistence check (it replaced 09-reboot's own reboot): an apply of 03-toa's
 * inventory first sets up and persists hugepages (unit, mount) and toa/uoa with parameters; after the
 * tool's reboot they must all be back, and verify exits 0.
 *
 * 2 MB pages, not 1 GB: each of the guest's two NUMA nodes has 1 GiB of memory, so a 1 GB page cannot
 * be reserved on a node and leave the kernel anything; the boot-time path (hugepagesz/hugepages on the
 * command line, the kernel spreading them over the nodes) is the same for both sizes.
 */
import { describe, expect, it } from 'vitest';
import { HUGEPAGES_PER_NODE } from './inventory.js';
import { dpvsDeploy, inventoryVariant, missingTasks, unavailable, vm, type Vm } from './harness.js';
import { vmSources } from './fixtures.js';
import { toaInventory } from './variants.js';
import { boots } from './vm.js';

const off = unavailable();

/**
 * vm1 as a realserver with toa and uoa (03-toa's variant) and the kernel arguments, so that verify after
 * the reboot checks the persisted hugepages and toa/uoa too.
 */
async function kernelInventory(): Promise<string> {
  const src = await vmSources();
  return inventoryVariant('kernel', (h) => {
    h.roles = ['realserver'];
    delete h.nics;
    delete h.workers;
    h.dpvs = { version: src.dpvs.version, source: { file: src.dpvs.file } };
    h.realserver = { toa: true, uoa: true, uoa_params: { uoa_debug: 1, uoa_map_timeout: 120 } };
    h.kernel = { iommu: true, boot_hugepages: true, reboot_timeout_s: 900 };
  });
}

const bootId = async (g: Vm): Promise<string> => (await g.must('cat /proc/sys/kernel/random/boot_id')).trim();
const cmdline = async (g: Vm): Promise<string> => (await g.must('cat /proc/cmdline')).trim();
const iommuGroups = async (g: Vm): Promise<number> =>
  Number((await g.must('ls /sys/kernel/iommu_groups | wc -l')).trim());
const grubLine = async (g: Vm): Promise<string> =>
  (await g.must("grep '^GRUB_CMDLINE_LINUX=' /etc/default/grub")).trim();

/** The guest's /proc/cmdline is exactly what the launcher read from its grub.cfg for this boot. */
async function bootedFromGrubCfg(g: Vm): Promise<string> {
  const running = boots(g.paths).at(-1);
  expect(running?.end, 'the last boot is the running one').toBeUndefined();
  const proc = await cmdline(g);
  expect(proc).toBe(running?.cmdline);
  // …and that is what the guest's own grub.cfg holds now (its first entry's linux line)
  const linux = (await g.must('awk \'$1=="linux"{$1=""; print; exit}\' /boot/grub/grub.cfg')).trim();
  expect(proc).toBe(`BOOT_IMAGE=${linux}`);
  return proc;
}

describe.skipIf(off !== null)(`kernel boot arguments${off ? ` (SKIPPED: ${off})` : ''}`, () => {
  it('the guest boots with its own grub.cfg: no intel_iommu=on, no boot-time pages', async (ctx) => {
    const missing = await missingTasks('kernel-cmdline');
    if (missing) return ctx.skip(missing);
    const g = await vm();
    const proc = await bootedFromGrubCfg(g);
    expect(proc).toMatch(/^BOOT_IMAGE=\/boot\/vmlinuz-\S+ root=UUID=[0-9a-f-]+ ro console=ttyS0 /);
    expect(proc).not.toMatch(/intel_iommu|iommu=pt|hugepages/);
    const dmesg = await g.must('dmesg');
    expect(dmesg).toMatch(/iommu: Default domain type: Translated\s*$/m);
    expect(dmesg).toMatch(/HugeTLB: registered 2\.00 MiB page size, pre-allocated 0 pages/);
    // Debian's /etc/default/grub, with the image's (installer-preseeded) GRUB_CMDLINE_LINUX
    expect(await g.must('cat /etc/default/grub')).toMatch(/^GRUB_CMDLINE_LINUX_DEFAULT="quiet"$/m);
  });

  it('plan shows the bootloader diff and the reboot; apply reboots once; verify shows the arguments, the IOMMU groups and the boot-time pages', async (ctx) => {
    const missing = await missingTasks('kernel-cmdline');
    if (missing) return ctx.skip(missing);
    const g = await vm();
    // first the same host without kernel arguments (03-toa's inventory): hugepages and toa/uoa set up and
    // persisted BEFORE the reboot below, so that reboot is also the check that they come back through a
    // real boot (the tasks after kernel-cmdline run after its reboot and would set them up again)
    const pre = await dpvsDeploy(['apply', await toaInventory(), '--yes']);
    expect(pre.code, pre.all).toBe(0);
    const inv = await kernelInventory();
    const before = await bootId(g);
    const grubBefore = await grubLine(g);
    const nBoots = boots(g.paths).length;

    const plan = await dpvsDeploy(['plan', inv]);
    expect(plan.code, plan.all).toBe(2); // changes to make
    expect(plan.stdout).toMatch(/\/etc\/default\/grub/);
    expect(plan.stdout).toMatch(/^\s*-GRUB_CMDLINE_LINUX="console=ttyS0 .*"$/m);
    expect(plan.stdout).toMatch(
      /^\s*\+GRUB_CMDLINE_LINUX="console=ttyS0 .*intel_iommu=on iommu=pt.*hugepagesz=2M hugepages=128.*"$/m,
    );
    expect(plan.stdout).toMatch(/reboot/i);
    // the plan changed nothing
    expect(await bootId(g)).toBe(before);
    expect(await grubLine(g)).toBe(grubBefore);

    const t0 = Date.now();
    const apply = await dpvsDeploy(['apply', inv, '--yes'], 1_200_000);
    console.error(`[vm] kernel-cmdline apply with its reboot: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(apply.code, apply.all).toBe(0);

    const g2 = await vm();
    expect(await bootId(g2)).not.toBe(before);
    // exactly one reboot: one more boot, and the one before ended with the kernel's restart
    const all = boots(g2.paths);
    expect(all).toHaveLength(nBoots + 1);
    expect(all.at(-2)?.end).toBe('reboot');
    const proc = await bootedFromGrubCfg(g2);
    for (const a of ['intel_iommu=on', 'iommu=pt', 'default_hugepagesz=2M', 'hugepagesz=2M', 'hugepages=128'])
      expect(proc.split(' ')).toContain(a);
    expect(await grubLine(g2)).toMatch(/intel_iommu=on iommu=pt/);
    const dmesg = await g2.must('dmesg');
    expect(dmesg).toMatch(/DMAR: IOMMU enabled/);
    expect(dmesg).toMatch(/iommu: Default domain type: Passthrough \(set via kernel command line\)/);
    expect(dmesg).toMatch(/HugeTLB: registered 2\.00 MiB page size, pre-allocated 128 pages/);
    expect(await iommuGroups(g2)).toBeGreaterThan(1);
    for (const n of [0, 1])
      expect(
        Number(
          (
            await g2.must(`cat /sys/devices/system/node/node${n}/hugepages/hugepages-2048kB/nr_hugepages`)
          ).trim(),
        ),
      ).toBe(HUGEPAGES_PER_NODE);
    // what the tool persisted before the reboot came back through the real boot: the hugepages oneshot
    // unit ran in this boot, the hugetlbfs mount from fstab, toa and uoa from modules-load.d with uoa's
    // parameter from modprobe.d
    expect((await g2.must('systemctl is-active dpvs-hugepages.service')).trim()).toBe('active');
    expect(await g2.must('findmnt -n -t hugetlbfs -o TARGET')).toMatch(/^\/dev\/hugepages$/m);
    const modules = await g2.must('cat /proc/modules');
    expect(modules).toMatch(/^toa /m);
    expect(modules).toMatch(/^uoa /m);
    expect((await g2.must('cat /sys/module/uoa/parameters/uoa_map_timeout')).trim()).toBe('120');

    const verify = await dpvsDeploy(['verify', inv]);
    expect(verify.code, verify.all).toBe(0);
  });

  it('vfio-pci binds a NIC now, without the no-IOMMU mode', async (ctx) => {
    const missing = await missingTasks('kernel-cmdline');
    if (missing) return ctx.skip(missing);
    const g = await vm();
    const { e1000 } = g.state.nics;
    const drv = async (): Promise<string> =>
      (await g.must(`basename "$(readlink /sys/bus/pci/devices/${e1000}/driver)"`)).trim();
    expect(await drv()).toBe('e1000');
    await g.must(`modprobe vfio-pci && dpdk-devbind.py -b vfio-pci ${e1000}`);
    expect(await drv()).toBe('vfio-pci');
    const group = (await g.must(`basename "$(readlink /sys/bus/pci/devices/${e1000}/iommu_group)"`)).trim();
    expect(group).toMatch(/^\d+$/);
    expect(await g.must('ls /dev/vfio')).toMatch(new RegExp(`^${group}$`, 'm'));
    // no no-IOMMU group (noiommu-N) and the unsafe mode is not on (Debian's kernel does not even have it)
    expect(await g.must('ls /dev/vfio')).not.toMatch(/noiommu/);
    const unsafe = await g.ssh('cat /sys/module/vfio/parameters/enable_unsafe_noiommu_mode');
    expect(unsafe.code !== 0 || unsafe.stdout.trim() === 'N').toBe(true);
    await g.must(`echo > /sys/bus/pci/devices/${e1000}/driver_override; dpdk-devbind.py -b e1000 ${e1000}`);
    expect(await drv()).toBe('e1000');
  });

  it('a second apply changes nothing and does not reboot', async (ctx) => {
    const missing = await missingTasks('kernel-cmdline');
    if (missing) return ctx.skip(missing);
    const g = await vm();
    const inv = await kernelInventory();
    const before = await bootId(g);
    const nBoots = boots(g.paths).length;
    const plan = await dpvsDeploy(['plan', inv]);
    expect(plan.code, plan.all).toBe(0); // nothing to do
    const apply = await dpvsDeploy(['apply', inv, '--yes']);
    expect(apply.code, apply.all).toBe(0);
    expect(apply.all).not.toMatch(/reboot \(/);
    expect(await bootId(g)).toBe(before);
    expect(boots(g.paths)).toHaveLength(nBoots);
  });

  it('rollback restores the previous command line (after its reboot)', async (ctx) => {
    const missing = await missingTasks('kernel-cmdline');
    if (missing) return ctx.skip(missing);
    const g = await vm();
    const inv = await kernelInventory();
    const before = await bootId(g);
    const t0 = Date.now();
    const rollback = await dpvsDeploy(['rollback', inv, '--yes'], 1_200_000);
    console.error(`[vm] kernel-cmdline rollback with its reboot: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(rollback.code, rollback.all).toBe(0);
    const g2 = await vm();
    expect(await bootId(g2)).not.toBe(before);
    const proc = await bootedFromGrubCfg(g2);
    expect(proc).not.toMatch(/intel_iommu|iommu=pt|hugepages/);
    expect(await g2.must('dmesg')).toMatch(/iommu: Default domain type: Translated\s*$/m);
    expect(await grubLine(g2)).toBe(
      'GRUB_CMDLINE_LINUX="console=ttyS0 panic=-1 systemd.mask=dpdk.service systemd.mask=e2scrub_reap.service"',
    );
  });
});
