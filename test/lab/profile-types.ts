/**
 * The contract between the lab's orchestration (test/lab/lab.ts), its fake hardware tree
 * (test/lab/fakekernel/) and its fake tools (test/lab/hostbin/). A profile says what one lab host
 * looks like; the lab writes its tree from it.
 */
export type LabOs = 'debian12' | 'ubuntu22' | 'rocky9' | 'centos7';

export interface LabNic {
  /** PCI address, e.g. 0000:00:10.0 (all lab NICs sit under pci0000:00). */
  pci: string;
  /** 8086 Intel, 15b3 Mellanox, 1af4 virtio */
  vendor: string;
  /** 10fb (82599), 1572 (X710), 1017 (ConnectX-5), 1000 (virtio-net legacy) */
  device: string;
  /** kernel driver it starts on: ixgbe, i40e, mlx5_core, virtio-pci */
  driver: string;
  /** kernel interface name while on the kernel driver */
  ifname: string;
  mac: string;
  numaNode: number;
  maxRxQueues: number;
  maxTxQueues: number;
  /**
   * The management NIC: its ifname is the host's real veth (eth0) that carries SSH and whose MAC the
   * lab sets to `mac`, so the probe's "which NIC carries SSH" logic sees a real route.
   */
  management?: boolean;
}

export interface LabHostProfile {
  name: string;
  roles: Array<'balancer' | 'realserver' | 'client'>;
  /** lab address of the management NIC */
  address: string;
  os: LabOs;
  /** what the host's uname -r says */
  kernel: string;
  /** what the host's uname -m says, where it is not this machine's (a shape override, e.g. aarch64) */
  machine?: string;
  /** /lib/modules/<kernel>/build present */
  kernelHeaders: boolean;
  numaNodes: number;
  /**
   * CPU packages, where they are not one per NUMA node: a 2-socket box with node interleaving on in its
   * BIOS shows 2 packages and 1 node (a shape override; the cores are split evenly)
   */
  sockets?: number;
  cpusPerNode: number;
  /** hyper-threading: 2 threads per core when true */
  smt: boolean;
  memPerNodeMb: number;
  cpuFlags: string[];
  nics: LabNic[];
  /** 'simulated' per-node counters (default) or 'real': the machine's real 2 MB counter (opt-in, one host) */
  hugepages: 'simulated' | 'real';
  /** IOMMU groups present (vfio-pci can bind) */
  iommu: boolean;
  /** kernel lockdown mode (Secure Boot) */
  lockdown: 'none' | 'integrity' | 'confidentiality';
  /** IPv6 stack present (toa needs it) */
  ipv6: boolean;
  /** kernel modules modprobe can find on this host (name -> PCI driver it registers, or null) */
  availableModules: Record<string, string | null>;
  /** headers packages the fake package manager can install: linux-headers-<ver> / kernel-devel-<ver> */
  installablePackages: string[];
}
