/**
 * Kernel boot argument checks (kernel.*, the kernel-cmdline task): argument values, CPU 0 isolated, an
 * IOMMU asked for where the firmware has none, and a reboot that is pending but not allowed.
 */
import { argKey, bootArgs, checkArgs, hasKernelSettings, satisfies } from '../../desired/boot-args.js';
import { parseCpuList } from '../../cpu-list.js';
import { runningArgs } from '../../desired/bootloader.js';
import { acpiTables } from '../../facts/reads/boot-firmware.js';
import { finding, type PreflightCheck } from '../check.js';

export const argValues: PreflightCheck = {
  id: 'KERNEL-001',
  title: 'kernel boot argument with a bad value',
  severity: 'error',
  howToFix:
    'Correct the value in kernel.cmdline.add (docs/inventory.md lists the known arguments; an unknown key is only a warning).',
  protects:
    'A mistyped boot argument is ignored by the kernel at best, and at worst leaves the host unbootable.',
  run({ host, facts }) {
    if (!hasKernelSettings(host)) return null;
    const w = bootArgs(host, facts);
    const bad = checkArgs([...w.add, ...w.remove.filter((r) => r.includes('='))]).filter(
      (p) => p.severity === 'error',
    );
    if (!bad.length) return null;
    return finding(
      bad.map((p) => p.message).join('; '),
      'known kernel arguments with values the kernel accepts',
      'correct kernel.cmdline.add / remove',
    );
  },
};

export const unknownArgs: PreflightCheck = {
  id: 'KERNEL-002',
  title: 'kernel boot argument dpvs-deploy does not know',
  severity: 'warning',
  howToFix: 'Check the spelling against the kernel’s kernel-parameters.txt; waive the check if it is right.',
  protects: 'The kernel ignores (and passes to init) an argument it does not know: a typo goes unnoticed.',
  run({ host, facts }) {
    if (!hasKernelSettings(host)) return null;
    const unknown = checkArgs(bootArgs(host, facts).add).filter((p) => p.severity === 'warning');
    if (!unknown.length) return null;
    return finding(
      unknown.map((p) => p.arg).join(', '),
      'arguments from the kernel’s kernel-parameters.txt',
      'check the spelling; waive KERNEL-002 with the reason if the argument is right',
    );
  },
};

export const isolatedCpu0: PreflightCheck = {
  id: 'KERNEL-003',
  title: 'CPU 0 isolated from the scheduler',
  severity: 'error',
  howToFix: 'Take CPU 0 out of isolcpus / nohz_full / rcu_nocbs in kernel.cmdline.add.',
  protects:
    'CPU 0 takes the boot, timekeeping and (usually) the management NIC’s interrupts, SSH’s among them: isolated, the host stalls.',
  run({ host, facts }) {
    if (!hasKernelSettings(host)) return null;
    const hit = bootArgs(host, facts)
      .add.filter((a) => ['isolcpus', 'nohz_full', 'rcu_nocbs'].includes(argKey(a)))
      .filter((a) =>
        parseCpuList(
          a
            .slice(argKey(a).length + 1)
            .split(',')
            .filter((p) => /^\d/.test(p))
            .join(','),
        ).includes(0),
      );
    if (!hit.length) return null;
    return finding(
      hit.join(' '),
      'CPU 0 left to the OS',
      'remove CPU 0 from these lists (kernel.isolate_workers never includes it)',
    );
  },
};

export const iommuFirmware: PreflightCheck = {
  id: 'KERNEL-004',
  title: 'IOMMU asked for, but the firmware has no DMAR / IVRS table',
  severity: 'error',
  howToFix:
    'Enable VT-d (Intel) / AMD-Vi (AMD) in the BIOS (on a VM: an emulated IOMMU, e.g. QEMU -device intel-iommu), or drop kernel.iommu and use dpdk.driver: uio_pci_generic.',
  protects:
    'intel_iommu=on without VT-d in the firmware gives no IOMMU groups after the reboot: vfio-pci still cannot bind.',
  run({ host, facts }) {
    if (!hasKernelSettings(host)) return null;
    const add = bootArgs(host, facts).add;
    if (!add.some((a) => /^intel_iommu=(.*,)?on(,|$)/.test(a) || a === 'iommu=pt')) return null;
    const names = acpiTables.read(facts);
    if (!names) return null; // no ACPI tables to read (not x86 ACPI): cannot tell
    if (names.includes('DMAR') || names.includes('IVRS')) return null;
    return finding(
      `/sys/firmware/acpi/tables has no DMAR or IVRS (${names.filter(Boolean).join(' ') || 'empty'})`,
      'a DMAR (Intel VT-d) or IVRS (AMD-Vi) table',
      'enable VT-d / AMD-Vi in the firmware (Processor Settings → Virtualization Technology), or drop kernel.iommu and use dpdk.driver: uio_pci_generic',
    );
  },
};

export const rebootPending: PreflightCheck = {
  id: 'KERNEL-005',
  title: 'reboot pending, not allowed',
  severity: 'warning',
  howToFix:
    'Reboot the host in a maintenance window (then apply again), or allow dpvs-deploy to (kernel.reboot: true, the default).',
  protects: 'With kernel.reboot: false the new boot arguments wait for a reboot the operator makes.',
  run({ host, facts }) {
    if (!hasKernelSettings(host) || host.kernel?.reboot !== false) return null;
    const w = bootArgs(host, facts);
    if (satisfies(runningArgs(facts.kernel.cmdline), w.add, w.remove)) return null;
    return finding(
      `the running kernel lacks ${w.add.filter((a) => !satisfies(runningArgs(facts.kernel.cmdline), [a], [])).join(' ') || '(removals)'}`,
      'the host rebooted with the bootloader’s new command line',
      'reboot the host (systemctl reboot) and apply again; or set kernel.reboot: true',
    );
  },
};

export const bootChecks: PreflightCheck[] = [
  argValues,
  unknownArgs,
  isolatedCpu0,
  iommuFirmware,
  rebootPending,
];
