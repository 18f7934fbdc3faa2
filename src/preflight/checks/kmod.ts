/** Kernel-module checks: the binding driver's module, IOMMU for vfio-pci, vhost_net for 1.10 KNI, lockdown. */
import type { Facts } from '../../facts/types.js';
import type { ResolvedHost } from '../../inventory/types.js';
import { finding, type PreflightCheck, listText } from '../check.js';
import { bindDriver, dpvsLine, isBalancer, isRealserver, kniEnabled } from '../../desired/settings.js';

const norm = (m: string): string => m.replace(/-/g, '_');

/** modinfo finds it, or it is loaded already. */
export function moduleAvailable(facts: Facts, name: string): boolean {
  const n = norm(name);
  return facts.modulesAvailable.some((m) => norm(m) === n) || facts.modules.some((m) => norm(m.name) === n);
}

/** The kernel module the binding driver comes from (igb_uio is built by us on top of uio). */
export function driverModule(host: ResolvedHost): string {
  const d = bindDriver(host);
  return d === 'igb_uio' ? 'uio' : d;
}

/** Out-of-tree modules dpvs-deploy builds on this host (they need headers and are unsigned). */
export function builtModules(host: ResolvedHost): string[] {
  const out: string[] = [];
  if (isBalancer(host)) {
    if (bindDriver(host) === 'igb_uio') out.push('igb_uio');
    const line = dpvsLine(host);
    if (kniEnabled(host) && (line === '1.8' || line === '1.9')) out.push('rte_kni');
  }
  if (isRealserver(host)) {
    if (host.realserver?.toa !== false) out.push('toa');
    if (host.realserver?.uoa === true) out.push('uoa');
  }
  return out;
}

export const bindModule: PreflightCheck = {
  id: 'KMOD-001',
  title: 'kernel module for the DPDK binding driver not available',
  severity: 'error',
  howToFix: 'Install the kernel’s extra modules package, or choose another dpdk.driver.',
  protects:
    'Binding the ports fails when modprobe cannot find the driver’s module, leaving DPDK without ports.',
  run({ host, facts }) {
    if (!isBalancer(host) || (host.nics ?? []).length === 0) return null;
    const mod = driverModule(host);
    if (moduleAvailable(facts, mod)) return null;
    const driver = bindDriver(host);
    // other drivers to offer: never the one that is missing, nor one whose module is missing too
    const others = (['uio_pci_generic', 'vfio-pci', 'igb_uio'] as const).filter(
      (d) => d !== driver && moduleAvailable(facts, d === 'igb_uio' ? 'uio' : d),
    );
    return finding(
      `modprobe cannot find ${mod} on kernel ${facts.kernel.release}`,
      `module ${mod} available${driver === 'igb_uio' ? ' (igb_uio is built on top of it)' : ''}`,
      `install the kernel's extra modules (Ubuntu: linux-modules-extra-${facts.kernel.release}; RHEL: kernel-modules-extra)` +
        (others.length
          ? `, or choose another dpdk.driver this kernel has (${others.join(', ')})`
          : '; this kernel has none of the other binding drivers (uio_pci_generic, vfio-pci, uio for igb_uio) either'),
    );
  },
};

export const iommuForVfio: PreflightCheck = {
  id: 'KMOD-002',
  title: 'vfio-pci without an IOMMU',
  severity: 'error',
  howToFix:
    'BIOS: Virtualization Technology (VT-d / AMD IOMMU): Enabled plus intel_iommu=on iommu=pt; or dpdk.driver: uio_pci_generic; or dpdk.allow_noiommu: true.',
  protects:
    'vfio-pci cannot bind a device outside an IOMMU group ("vfio-pci: probe … failed with error -22").',
  run({ host, facts }) {
    if (!isBalancer(host) || bindDriver(host) !== 'vfio-pci') return null;
    if (facts.kernel.iommuGroups > 0 || host.dpdk?.allow_noiommu === true) return null;
    // kernel.iommu: the kernel-cmdline task turns the IOMMU on and reboots first (KERNEL-004 checks the firmware)
    if (host.kernel?.iommu && host.kernel.reboot !== false) return null;
    return finding(
      `no IOMMU groups (kernel cmdline: ${facts.kernel.cmdline || 'empty'})`,
      'IOMMU on (/sys/kernel/iommu_groups populated), or dpdk.allow_noiommu: true',
      'BIOS: Processor Settings → Virtualization Technology (Intel VT-d / AMD IOMMU): Enabled, and the kernel parameters ' +
        'intel_iommu=on iommu=pt (AMD: amd_iommu=on); or dpdk.driver: uio_pci_generic; or dpdk.allow_noiommu: true (unsafe)',
    );
  },
};

export const vhostNet: PreflightCheck = {
  id: 'KMOD-003',
  title: 'vhost_net missing for DPVS 1.10 KNI',
  severity: 'error',
  howToFix: 'Install the kernel’s extra modules package (vhost_net), or set dpvs.kni: false.',
  protects:
    'DPVS 1.10 makes its KNI ports as virtio-user devices on /dev/vhost-net; without vhost_net the exception path fails at start.',
  run({ host, facts }) {
    if (!isBalancer(host) || dpvsLine(host) !== '1.10' || !kniEnabled(host)) return null;
    if (moduleAvailable(facts, 'vhost_net') || facts.files['/dev/vhost-net']?.exists === true) return null;
    return finding(
      `no vhost_net module and no /dev/vhost-net on kernel ${facts.kernel.release}`,
      'vhost_net available (/dev/vhost-net)',
      `install the kernel's extra modules (Ubuntu: linux-modules-extra-${facts.kernel.release}), or set dpvs.kni: false`,
    );
  },
};

export const unsignedModules: PreflightCheck = {
  id: 'KMOD-004',
  title: 'kernel lockdown / Secure Boot refuses unsigned modules',
  severity: 'error',
  howToFix: 'BIOS: Secure Boot: Disabled, or sign the modules with an enrolled MOK key.',
  protects:
    'igb_uio, rte_kni, toa and uoa are built on the host and unsigned; under lockdown insmod fails ("Key was rejected by service").',
  run({ host, facts }) {
    const mods = builtModules(host);
    if (mods.length === 0) return null;
    const { lockdown, secureBoot } = facts.kernel;
    const locked = lockdown === 'integrity' || lockdown === 'confidentiality';
    if (!locked && secureBoot !== true) return null;
    return finding(
      `lockdown ${lockdown}${secureBoot === true ? ', Secure Boot on' : ''}; unsigned modules to load: ${listText(mods)}`,
      'lockdown none and Secure Boot off (or modules signed with an enrolled key)',
      'BIOS: System Security / Boot Settings → Secure Boot: Disabled; or sign the modules with a key enrolled via mokutil --import',
    );
  },
};

export const kniCarrier: PreflightCheck = {
  id: 'KMOD-005',
  title: 'rte_kni loaded without carrier=on',
  severity: 'warning',
  howToFix: 'Stop dpvs and unload rte_kni; the plan loads it with carrier=on.',
  protects:
    'rte_kni loaded with carrier off leaves the KNI interfaces NO-CARRIER ("link is not ready"): VRRP and routing daemons on them stay down.',
  run({ host, facts }) {
    const line = dpvsLine(host);
    if (!isBalancer(host) || !kniEnabled(host) || (line !== '1.8' && line !== '1.9')) return null;
    const kni = facts.modules.find((m) => m.name === 'rte_kni');
    if (!kni) return null;
    const carrier = kni.params['carrier'];
    if (carrier === undefined || carrier === 'on') return null;
    return finding(
      `rte_kni loaded with carrier=${carrier}`,
      'rte_kni loaded with carrier=on',
      'stop dpvs and rmmod rte_kni; the plan loads it again as insmod rte_kni.ko carrier=on',
    );
  },
};

export const kmodChecks: PreflightCheck[] = [bindModule, iommuForVfio, vhostNet, unsignedModules, kniCarrier];
