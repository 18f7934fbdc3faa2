/**
 * Lab host profiles: what each fake host looks like (OS, kernel, NUMA, NICs). The default lab is
 * lb1, lb2 (balancers, keepalived pair), rs1, rs2 (realservers) and client1; `labProfiles(n, m)`
 * builds a larger lab by cycling through the same variants.
 */
import { SUBNET_OCTET } from './instance.js';
import type { LabHostProfile, LabNic, LabOs } from './profile-types.js';

/** 10.241.0.0/16 for the default lab, another /16 per instance (test/lab/instance.ts). */
export const LAB_SUBNET = `10.${SUBNET_OCTET}.0.0/16`;
export const LAB_BRIDGE_ADDRESS = `10.${SUBNET_OCTET}.0.1`;
export const LAB_UPLINK_ADDRESS = `10.${SUBNET_OCTET}.0.254`;
export const LAB_PREFIX_LEN = 16;

/** 10.241.1.1 for index 0, ... 10.241.1.254, then 10.241.2.1, ... (the instance's /16, or `octet`'s) */
export function hostAddress(index: number, octet: number = SUBNET_OCTET): string {
  return `10.${octet}.${1 + Math.floor(index / 254)}.${(index % 254) + 1}`;
}

interface OsInfo {
  os: LabOs;
  kernel: string;
  headersPackage: (kernel: string) => string;
}

const DEBIAN12: OsInfo = {
  os: 'debian12',
  kernel: '6.1.0-18-amd64',
  headersPackage: (k) => `linux-headers-${k}`,
};
const UBUNTU22: OsInfo = {
  os: 'ubuntu22',
  kernel: '5.15.0-91-generic',
  headersPackage: (k) => `linux-headers-${k}`,
};
const ROCKY9: OsInfo = {
  os: 'rocky9',
  kernel: '5.14.0-362.8.1.el9_3.x86_64',
  headersPackage: (k) => `kernel-devel-${k}`,
};
const CENTOS7: OsInfo = {
  os: 'centos7',
  kernel: '3.10.0-1160.el7.x86_64',
  headersPackage: (k) => `kernel-devel-${k}`,
};

type NicKind = 'ixgbe' | 'i40e' | 'mlx5';

const NIC_IDS: Record<
  NicKind,
  { vendor: string; device: string; driver: string; oui: string; queues: number }
> = {
  ixgbe: { vendor: '8086', device: '10fb', driver: 'ixgbe', oui: '90:e2:ba', queues: 64 },
  i40e: { vendor: '8086', device: '1572', driver: 'i40e', oui: '3c:fd:fe', queues: 64 },
  mlx5: { vendor: '15b3', device: '1017', driver: 'mlx5_core', oui: '0c:42:a1', queues: 63 },
};

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

function managementNic(index: number): LabNic {
  return {
    pci: '0000:00:03.0',
    vendor: '1af4',
    device: '1000',
    driver: 'virtio-pci',
    ifname: 'eth0',
    mac: `52:54:00:${hex2(index >> 16)}:${hex2(index >> 8)}:${hex2(index)}`,
    numaNode: 0,
    maxRxQueues: 1,
    maxTxQueues: 1,
    management: true,
  };
}

/** A data NIC: slot 0x10 + n, function f; names follow the predictable-names scheme (ens<slot>f<f>). */
function dataNic(index: number, kind: NicKind, slot: number, fn: number, numaNode: number): LabNic {
  const id = NIC_IDS[kind];
  const pciSlot = 0x10 + slot;
  return {
    pci: `0000:00:${hex2(pciSlot)}.${fn}`,
    vendor: id.vendor,
    device: id.device,
    driver: id.driver,
    ifname: `ens${pciSlot}f${fn}`,
    mac: `${id.oui}:${hex2(index >> 8)}:${hex2(index)}:${hex2((slot << 4) | fn)}`,
    numaNode,
    maxRxQueues: id.queues,
    maxTxQueues: id.queues,
  };
}

/** Modules modprobe finds on every lab host's kernel (name -> PCI driver it registers, or null). */
export const MODULES_COMMON: Record<string, string | null> = {
  ixgbe: 'ixgbe',
  i40e: 'i40e',
  mlx5_core: 'mlx5_core',
  uio: null,
  uio_pci_generic: 'uio_pci_generic',
  vfio: null,
  vfio_iommu_type1: null,
  vfio_pci: 'vfio-pci',
};

interface Variant {
  osInfo: OsInfo;
  numaNodes: number;
  cpusPerNode: number;
  smt: boolean;
  kernelHeaders: boolean;
  iommu: boolean;
  cpuFlags: string[];
  nics: (index: number) => LabNic[];
}

const FLAGS_FULL = ['sse4_2', 'avx', 'avx2', 'pdpe1gb', 'aes', 'popcnt'];
const FLAGS_NO_AVX2 = ['sse4_2', 'avx', 'aes', 'popcnt'];

/** Balancer variants: lb1-like (Debian, 2 nodes, 82599 pair + the one ConnectX) and lb2-like (Ubuntu, X710). */
const BALANCER_VARIANTS: Variant[] = [
  {
    osInfo: DEBIAN12,
    numaNodes: 2,
    cpusPerNode: 4,
    smt: true,
    kernelHeaders: true,
    iommu: true,
    cpuFlags: FLAGS_FULL,
    nics: (i) => [
      managementNic(i),
      dataNic(i, 'ixgbe', 0, 0, 0),
      dataNic(i, 'ixgbe', 0, 1, 1),
      dataNic(i, 'mlx5', 1, 0, 1),
    ],
  },
  {
    osInfo: UBUNTU22,
    numaNodes: 2,
    cpusPerNode: 4,
    smt: false,
    kernelHeaders: false,
    iommu: true,
    cpuFlags: FLAGS_FULL,
    nics: (i) => [managementNic(i), dataNic(i, 'i40e', 0, 0, 0), dataNic(i, 'i40e', 0, 1, 1)],
  },
];

/** Realserver variants: all Rocky 9 on the same kernel; one or two data NICs. */
const REALSERVER_VARIANTS: Variant[] = [
  {
    osInfo: ROCKY9,
    numaNodes: 1,
    cpusPerNode: 4,
    smt: true,
    kernelHeaders: true,
    iommu: false,
    cpuFlags: FLAGS_FULL,
    nics: (i) => [managementNic(i), dataNic(i, 'ixgbe', 0, 0, 0)],
  },
  {
    osInfo: ROCKY9,
    numaNodes: 1,
    cpusPerNode: 2,
    smt: false,
    kernelHeaders: false,
    iommu: false,
    cpuFlags: FLAGS_NO_AVX2,
    nics: (i) => [managementNic(i), dataNic(i, 'i40e', 0, 0, 0), dataNic(i, 'i40e', 0, 1, 0)],
  },
];

const CLIENT_VARIANT: Variant = {
  osInfo: CENTOS7,
  numaNodes: 1,
  cpusPerNode: 2,
  smt: false,
  kernelHeaders: false,
  iommu: false,
  cpuFlags: FLAGS_NO_AVX2,
  nics: (i) => [managementNic(i), dataNic(i, 'ixgbe', 0, 0, 0)],
};

function makeProfile(
  name: string,
  role: LabHostProfile['roles'][number],
  index: number,
  v: Variant,
  octet: number,
): LabHostProfile {
  return {
    name,
    roles: [role],
    address: hostAddress(index, octet),
    os: v.osInfo.os,
    kernel: v.osInfo.kernel,
    kernelHeaders: v.kernelHeaders,
    numaNodes: v.numaNodes,
    cpusPerNode: v.cpusPerNode,
    smt: v.smt,
    memPerNodeMb: 16384,
    cpuFlags: [...v.cpuFlags],
    nics: v.nics(index + 1),
    hugepages: 'simulated',
    iommu: v.iommu,
    lockdown: 'none',
    ipv6: true,
    availableModules: { ...MODULES_COMMON },
    installablePackages: [v.osInfo.headersPackage(v.osInfo.kernel)],
  };
}

export interface LabShape {
  balancers: number;
  realservers: number;
  /** host whose 2 MB hugepage counter is the machine's real one (opt-in, at most one) */
  realHugepages?: string;
  /**
   * host -> kernel release it runs instead of its variant's (e.g. a third real server on another
   * kernel); its headers package for that release is installable, not installed
   */
  kernels?: Record<string, string>;
  /** hosts whose running kernel has no installable headers package (and no headers installed) */
  noHeaders?: string[];
  /**
   * host -> hardware/kernel facts that differ from its variant, to trip preflight checks (e.g.
   * `{ lb2: { iommu: false }, rs2: { ipv6: false } }`); the default lab has none
   */
  overrides?: Record<string, LabHostOverride>;
}

/**
 * What a shape may override on one host (facts only: names, roles, addresses and NIC addresses stay).
 * `nics`, by PCI address: what the platform reports of a NIC (its NUMA node, -1 where the firmware gives
 * none; its vendor and device id, for a model dpvs-deploy does not know).
 */
export type LabHostOverride = Partial<
  Pick<
    LabHostProfile,
    | 'smt'
    | 'cpuFlags'
    | 'iommu'
    | 'lockdown'
    | 'ipv6'
    | 'availableModules'
    | 'memPerNodeMb'
    | 'machine'
    | 'sockets'
  >
> & { nics?: Record<string, Partial<Pick<LabNic, 'numaNode' | 'vendor' | 'device'>>> };

function headersPackageFor(os: LabOs, kernel: string): string {
  return os === 'debian12' || os === 'ubuntu22' ? `linux-headers-${kernel}` : `kernel-devel-${kernel}`;
}

/** Applies the shape's kernel overrides to the profiles (throws on an unknown host name). */
function applyKernels(out: LabHostProfile[], shape: LabShape): void {
  const find = (name: string, opt: string): LabHostProfile => {
    const host = out.find((p) => p.name === name);
    if (!host) throw new Error(`${opt}: no host named ${name} in this lab`);
    return host;
  };
  for (const [name, kernel] of Object.entries(shape.kernels ?? {})) {
    const host = find(name, '--kernel');
    host.kernel = kernel;
    host.kernelHeaders = false;
    host.installablePackages = [headersPackageFor(host.os, kernel)];
  }
  for (const name of shape.noHeaders ?? []) {
    const host = find(name, '--without-headers');
    host.kernelHeaders = false;
    host.installablePackages = [];
  }
  for (const [name, o] of Object.entries(shape.overrides ?? {})) {
    const host = find(name, '--override');
    const { nics, ...rest } = structuredClone(o);
    Object.assign(host, rest);
    for (const [pci, n] of Object.entries(nics ?? {})) {
      const nic = host.nics.find((x) => x.pci === pci);
      if (!nic) throw new Error(`lab shape override: ${name} has no NIC ${pci}`);
      Object.assign(nic, n);
    }
  }
}

export const DEFAULT_SHAPE: LabShape = { balancers: 2, realservers: 2 };

/**
 * Profiles for a lab of `balancers` lbN, `realservers` rsN and one client1, addressed in that order in
 * this process's instance's /16 (or 10.`octet`.0.0/16: DEFAULT_OCTET for the default lab's).
 */
export function labProfiles(shape: LabShape = DEFAULT_SHAPE, octet: number = SUBNET_OCTET): LabHostProfile[] {
  const out: LabHostProfile[] = [];
  for (let b = 0; b < shape.balancers; b++) {
    out.push(makeProfile(`lb${b + 1}`, 'balancer', out.length, BALANCER_VARIANTS[b % 2] as Variant, octet));
  }
  for (let r = 0; r < shape.realservers; r++) {
    out.push(
      makeProfile(`rs${r + 1}`, 'realserver', out.length, REALSERVER_VARIANTS[r % 2] as Variant, octet),
    );
  }
  out.push(makeProfile('client1', 'client', out.length, CLIENT_VARIANT, octet));
  if (shape.realHugepages !== undefined) {
    const host = out.find((p) => p.name === shape.realHugepages);
    if (!host) throw new Error(`--real-hugepages: no host named ${shape.realHugepages} in this lab`);
    host.hugepages = 'real';
  }
  applyKernels(out, shape);
  return out;
}

/** NICs DPDK may take: not the management NIC, not the Mellanox (bifurcated driver, never bound). */
export function dpdkNics(p: LabHostProfile): LabNic[] {
  return p.nics.filter((n) => !n.management && n.driver !== 'mlx5_core');
}
