/**
 * writeHostTree: the static part of a lab host's fake hardware tree, plus profile.json and
 * state.json for the fake kernel. Boot state (driver modules loaded, each NIC bound to its kernel
 * driver with its net/<ifname>) is applied by the fake kernel itself on the host's first access, so
 * the binding semantics live in one place (kernel.py).
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LabHostProfile } from '../profile-types.js';
import { isMultiFunction, modalias, NET_CLASS, pciConfig, subsystemOf } from './pciconfig.js';
import { cpuList, cpuMask, labCpus, nodeCpus, socketCpus } from './topology.js';

/** Modules the kernel has built in (in /sys/module, not in /proc/modules, cannot be unloaded). */
export const BUILTIN_MODULES = ['virtio_pci'];
/** NIC driver modules loaded at boot. */
export const BOOT_MODULES = ['ixgbe', 'i40e', 'mlx5_core'];
/** Where a host sees its whole fake-kernel directory (ctl, proc/, sys/, procnet/). */
export const HOST_KERNEL_DIR = '/run/fakekernel/kernel';
/** The target of the host's /proc/net symlink. */
export const HOST_PROCNET_DIR = `${HOST_KERNEL_DIR}/procnet`;

type Entry = { kind: 'file'; data: string | Buffer } | { kind: 'link'; target: string } | { kind: 'dir' };

class TreeBuilder {
  readonly entries = new Map<string, Entry>();
  file(path: string, data: string | Buffer): void {
    this.entries.set(path, { kind: 'file', data });
  }
  line(path: string, value: string | number): void {
    this.file(path, `${value}\n`);
  }
  link(path: string, target: string): void {
    this.entries.set(path, { kind: 'link', target });
  }
  dir(path: string): void {
    this.entries.set(path, { kind: 'dir' });
  }
}

function hugeSizes(p: LabHostProfile): number[] {
  return p.cpuFlags.includes('pdpe1gb') ? [2048, 1048576] : [2048];
}

function totalCpus(p: LabHostProfile): number {
  return p.numaNodes * p.cpusPerNode * (p.smt ? 2 : 1);
}

function pciTree(t: TreeBuilder, p: LabHostProfile): void {
  t.dir('sys/bus/pci/drivers');
  t.dir('sys/bus/pci/slots');
  t.file('sys/bus/pci/drivers_probe', '');
  t.line('sys/bus/pci/drivers_autoprobe', 1);
  t.line('sys/devices/pci0000:00/uevent', '');
  p.nics.forEach((nic, i) => {
    const d = `sys/devices/pci0000:00/${nic.pci}`;
    const [sv, sd] = subsystemOf(nic);
    const cpus = nodeCpus(p, nic.numaNode);
    t.link(`sys/bus/pci/devices/${nic.pci}`, `../../../devices/pci0000:00/${nic.pci}`);
    t.line(`${d}/vendor`, `0x${nic.vendor}`);
    t.line(`${d}/device`, `0x${nic.device}`);
    t.line(`${d}/class`, `0x${NET_CLASS.toString(16).padStart(6, '0')}`);
    t.line(`${d}/subsystem_vendor`, `0x${sv}`);
    t.line(`${d}/subsystem_device`, `0x${sd}`);
    t.line(`${d}/revision`, '0x01');
    t.line(`${d}/numa_node`, p.numaNodes > 1 ? nic.numaNode : -1);
    t.line(`${d}/local_cpulist`, cpuList(cpus));
    t.line(`${d}/local_cpus`, cpuMask(cpus, totalCpus(p)));
    t.line(`${d}/driver_override`, '(null)');
    t.line(`${d}/modalias`, modalias(nic));
    t.line(`${d}/irq`, 11);
    t.line(`${d}/enable`, 1);
    t.line(`${d}/msi_bus`, 1);
    t.line(`${d}/broken_parity_status`, 0);
    t.line(`${d}/d3cold_allowed`, 1);
    t.line(`${d}/dma_mask_bits`, 64);
    t.line(`${d}/consistent_dma_mask_bits`, 64);
    t.line(`${d}/max_link_speed`, '8.0 GT/s PCIe');
    t.line(`${d}/max_link_width`, 8);
    t.line(`${d}/sriov_totalvfs`, 0);
    t.line(`${d}/power_state`, 'D0');
    t.file(
      `${d}/uevent`,
      `PCI_CLASS=20000\nPCI_ID=${nic.vendor.toUpperCase()}:${nic.device.toUpperCase()}\n`,
    );
    t.file(`${d}/resource`, '0x0000000000000000 0x0000000000000000 0x0000000000000000\n'.repeat(13));
    t.file(`${d}/config`, pciConfig(nic, isMultiFunction(nic, p.nics)));
    t.link(`${d}/subsystem`, '../../../bus/pci');
    t.dir(`${d}/power`);
    if (p.iommu) {
      t.link(`${d}/iommu_group`, `../../../kernel/iommu_groups/${i}`);
      t.link(`sys/kernel/iommu_groups/${i}/devices/${nic.pci}`, `../../../../devices/pci0000:00/${nic.pci}`);
      t.line(`sys/kernel/iommu_groups/${i}/type`, 'DMA');
      t.line(`sys/kernel/iommu_groups/${i}/reserved_regions`, '0x00000000fee00000 0x00000000feefffff msi');
    }
  });
  t.dir('sys/kernel/iommu_groups');
}

function cpuTree(t: TreeBuilder, p: LabHostProfile): void {
  const cpus = labCpus(p);
  const all = cpuList(cpus.map((c) => c.id));
  const base = 'sys/devices/system/cpu';
  for (const f of ['online', 'possible', 'present']) t.line(`${base}/${f}`, all);
  t.line(`${base}/offline`, '');
  t.line(`${base}/isolated`, '');
  t.line(`${base}/kernel_max`, 8191);
  t.line(`${base}/smt/active`, p.smt ? 1 : 0);
  t.line(`${base}/smt/control`, p.smt ? 'on' : 'notsupported');
  for (const c of cpus) {
    const d = `${base}/cpu${c.id}`;
    const pkg = socketCpus(p, c.socket);
    if (c.id !== 0) t.line(`${d}/online`, 1);
    t.line(`${d}/topology/core_id`, c.coreId);
    t.line(`${d}/topology/physical_package_id`, c.socket);
    t.line(`${d}/topology/die_id`, 0);
    t.line(`${d}/topology/thread_siblings_list`, cpuList(c.siblings));
    t.line(`${d}/topology/core_cpus_list`, cpuList(c.siblings));
    t.line(`${d}/topology/thread_siblings`, cpuMask(c.siblings, cpus.length));
    t.line(`${d}/topology/core_siblings_list`, cpuList(pkg));
    t.line(`${d}/topology/package_cpus_list`, cpuList(pkg));
    t.line(`${d}/topology/core_siblings`, cpuMask(pkg, cpus.length));
    t.link(`${d}/node${c.node}`, `../../node/node${c.node}`);
  }
}

function nodeTree(t: TreeBuilder, p: LabHostProfile): void {
  const base = 'sys/devices/system/node';
  const nodes = cpuList(Array.from({ length: p.numaNodes }, (_, i) => i));
  for (const f of ['online', 'possible', 'has_cpu', 'has_memory', 'has_normal_memory'])
    t.line(`${base}/${f}`, nodes);
  for (let n = 0; n < p.numaNodes; n++) {
    const d = `${base}/node${n}`;
    const cpus = nodeCpus(p, n);
    t.line(`${d}/cpulist`, cpuList(cpus));
    t.line(`${d}/cpumap`, cpuMask(cpus, totalCpus(p)));
    t.line(`${d}/distance`, Array.from({ length: p.numaNodes }, (_, m) => (m === n ? 10 : 21)).join(' '));
    t.file(`${d}/meminfo`, '');
    for (const size of hugeSizes(p)) {
      for (const f of ['nr_hugepages', 'free_hugepages', 'surplus_hugepages']) {
        t.file(`${d}/hugepages/hugepages-${size}kB/${f}`, '');
      }
    }
    for (const c of cpus) t.link(`${d}/cpu${c}`, `../../cpu/cpu${c}`);
  }
}

function kernelTree(t: TreeBuilder, p: LabHostProfile): void {
  for (const size of hugeSizes(p)) {
    for (const f of [
      'nr_hugepages',
      'nr_hugepages_mempolicy',
      'free_hugepages',
      'resv_hugepages',
      'surplus_hugepages',
      'nr_overcommit_hugepages',
    ]) {
      t.file(`sys/kernel/mm/hugepages/hugepages-${size}kB/${f}`, '');
    }
  }
  t.dir('sys/module');
  const modes = ['none', 'integrity', 'confidentiality'];
  t.line('sys/kernel/security/lockdown', modes.map((m) => (m === p.lockdown ? `[${m}]` : m)).join(' '));
}

const BASE_FLAGS =
  'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ' +
  'syscall nx rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid pni pclmulqdq ssse3 cx16 ' +
  'pcid sse4_1 x2apic movbe tsc_deadline_timer xsave hypervisor lahf_lm';

export function cpuinfo(p: LabHostProfile): string {
  const flags = [...new Set([...BASE_FLAGS.split(' '), ...(p.smt ? ['ht'] : []), ...p.cpuFlags])].join(' ');
  const coresPerPackage = (p.numaNodes * p.cpusPerNode) / (p.sockets ?? p.numaNodes);
  const perPackage = coresPerPackage * (p.smt ? 2 : 1);
  return labCpus(p)
    .map((c) =>
      [
        `processor\t: ${c.id}`,
        'vendor_id\t: GenuineIntel',
        'cpu family\t: 6',
        'model\t\t: 85',
        'model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz',
        'stepping\t: 4',
        'microcode\t: 0x2006e05',
        'cpu MHz\t\t: 2100.000',
        'cache size\t: 22528 KB',
        `physical id\t: ${c.socket}`,
        `siblings\t: ${perPackage}`,
        `core id\t\t: ${c.coreId}`,
        `cpu cores\t: ${coresPerPackage}`,
        `apicid\t\t: ${c.id * 2}`,
        `initial apicid\t: ${c.id * 2}`,
        'fpu\t\t: yes',
        'fpu_exception\t: yes',
        'cpuid level\t: 22',
        'wp\t\t: yes',
        `flags\t\t: ${flags}`,
        'bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass',
        'bogomips\t: 4200.00',
        'clflush size\t: 64',
        'cache_alignment\t: 64',
        'address sizes\t: 46 bits physical, 48 bits virtual',
        'power management:',
        '',
        '',
      ].join('\n'),
    )
    .join('');
}

/**
 * The firmware's ACPI tables as /sys/firmware/acpi/tables lists them: a Xeon server's, with DMAR (VT-d
 * enabled in the BIOS); whether the kernel uses it is up to its command line (intel_iommu=on).
 */
function acpiTree(t: TreeBuilder): void {
  for (const name of ['APIC', 'DMAR', 'DSDT', 'FACP', 'HPET', 'MCFG', 'SRAT', 'SLIT'])
    t.file(`sys/firmware/acpi/tables/${name}`, '');
}

/** GRUB_CMDLINE_LINUX of a lab host's /etc/default/grub (its first boot's arguments). */
export function labGrubCmdline(p: LabHostProfile): string {
  return p.iommu ? 'intel_iommu=on iommu=pt' : '';
}

function procTree(t: TreeBuilder, p: LabHostProfile): void {
  t.file('proc/meminfo', '');
  t.file('proc/modules', '');
  t.file('proc/sys/vm/nr_hugepages', '');
  t.file('proc/cpuinfo', cpuinfo(p));
  // as GRUB boots the host's /etc/default/grub (host-files.ts): GRUB_CMDLINE_LINUX, then _DEFAULT
  t.line(
    'proc/cmdline',
    `BOOT_IMAGE=/boot/vmlinuz-${p.kernel} root=/dev/vda1 ro ${labGrubCmdline(p)} quiet`.replace(
      'ro  quiet',
      'ro quiet',
    ),
  );
  t.dir('procnet');
  t.link('procnet-link', HOST_PROCNET_DIR);
  t.file('ctl', '');
}

/** The fake kernel's initial state for this host (see kernel.py Host). */
export function initialState(p: LabHostProfile): object {
  const zeros = (): number[] => new Array<number>(p.numaNodes).fill(0);
  return {
    booted: false,
    builtin: BUILTIN_MODULES,
    bootModules: BOOT_MODULES,
    modules: [],
    dynids: {},
    hugepages: { '2048': zeros(), '1048576': zeros() },
  };
}

export function buildHostTree(p: LabHostProfile): Map<string, Entry> {
  const t = new TreeBuilder();
  t.file('profile.json', JSON.stringify(p, null, 1) + '\n');
  t.file('state.json', JSON.stringify(initialState(p)) + '\n');
  pciTree(t, p);
  cpuTree(t, p);
  acpiTree(t);
  nodeTree(t, p);
  kernelTree(t, p);
  procTree(t, p);
  return t.entries;
}

/** Writes the host's tree under hostStateDir (replacing whatever was there). */
export async function writeHostTree(hostStateDir: string, profile: LabHostProfile): Promise<void> {
  const entries = buildHostTree(profile);
  await rm(hostStateDir, { recursive: true, force: true });
  const dirs = new Set<string>();
  for (const [path, e] of entries) dirs.add(e.kind === 'dir' ? path : dirname(path));
  const sorted = [...dirs].sort();
  const leaves = sorted.filter((d, i) => !(sorted[i + 1] ?? '').startsWith(d + '/'));
  await Promise.all(leaves.map((d) => mkdir(join(hostStateDir, d), { recursive: true })));
  await Promise.all(
    [...entries].map(([path, e]) => {
      const abs = join(hostStateDir, path);
      if (e.kind === 'file') return writeFile(abs, e.data);
      if (e.kind === 'link') return symlink(e.target, abs);
      return undefined;
    }),
  );
}
