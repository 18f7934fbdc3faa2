/**
 * Builders of realistic `Facts` (and of the PlanContext around them) for unit tests.
 *
 *   const facts = factsBuilder().numaNodes(2, { cpusPerNode: 8 }).smt(true)
 *     .nic({ pci: '0000:04:00.0', driver: 'ixgbe', numaNode: 0 }).build();
 *   const healthy = r630().build();               // the tutorial's PowerEdge R630, healthy
 *   const ctx = planContext(r630Host(), healthy);  // a balancer planned against it
 *
 * Every setter returns the builder; `build()` returns a fresh, self-consistent Facts (memory totals,
 * global hugepage counters, CPU lists and thread counts are derived from the per-node settings).
 */
import { liveControl } from './control.js';
import type { Facts, FileFacts, ModuleFacts, NicFacts, OsFacts } from '../../src/facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../../src/inventory/types.js';
import type { PlanContext } from '../../src/plan/task.js';
import { fleetOf } from '../../src/plan/fleet.js';

export type OsName = 'debian12' | 'ubuntu22' | 'rocky9' | 'centos7' | 'alma8';

export const OS_PRESETS: Record<OsName, { os: OsFacts; kernel: string }> = {
  debian12: {
    os: {
      id: 'debian',
      versionId: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      family: 'debian',
      packageManager: 'apt',
    },
    kernel: '6.1.0-18-amd64',
  },
  ubuntu22: {
    os: {
      id: 'ubuntu',
      versionId: '22.04',
      prettyName: 'Ubuntu 22.04.4 LTS',
      family: 'debian',
      packageManager: 'apt',
    },
    kernel: '5.15.0-91-generic',
  },
  rocky9: {
    os: {
      id: 'rocky',
      versionId: '9.3',
      prettyName: 'Rocky Linux 9.3 (Blue Onyx)',
      family: 'rhel',
      packageManager: 'dnf',
    },
    kernel: '5.14.0-362.8.1.el9_3.x86_64',
  },
  alma8: {
    os: {
      id: 'almalinux',
      versionId: '8.9',
      prettyName: 'AlmaLinux 8.9 (Midnight Oncilla)',
      family: 'rhel',
      packageManager: 'dnf',
    },
    kernel: '4.18.0-513.5.1.el8_9.x86_64',
  },
  centos7: {
    os: {
      id: 'centos',
      versionId: '7',
      prettyName: 'CentOS Linux 7 (Core)',
      family: 'rhel',
      packageManager: 'yum',
    },
    kernel: '3.10.0-1160.36.2.el7.x86_64',
  },
};

/** Flags of a Broadwell Xeon (E5-2630 v4), trimmed to those checks look at plus a few usual ones. */
export const BROADWELL_FLAGS = [
  'fpu',
  'sse',
  'sse2',
  'ssse3',
  'sse4_1',
  'sse4_2',
  'popcnt',
  'aes',
  'pclmulqdq',
  'avx',
  'f16c',
  'rdrand',
  'avx2',
  'bmi1',
  'bmi2',
  'fma',
  'movbe',
  'adx',
  'cx16',
  'pdpe1gb',
  'lm',
];

export interface NodeOptions {
  /** logical CPUs per node (with SMT: 2 threads per core, so cpusPerNode/2 cores) */
  cpusPerNode?: number;
  memPerNodeMb?: number;
}

export interface HugepageOptions {
  /** page size in kB (2048 or 1048576) */
  sizeKb?: number;
  /** pages on each node: one count for all, or per node in node order */
  perNode: number | number[];
  /** free pages per node (default: all free) */
  free?: number | number[];
}

export type NicOptions = Partial<NicFacts> & { pci: string };

const pick = (v: number | number[], i: number): number => (typeof v === 'number' ? v : (v[i] ?? 0));

let macSeq = 0;

export class FactsBuilder {
  private osName: OsName = 'debian12';
  private osOverride: Partial<OsFacts> = {};
  private kernelOverride: Partial<Facts['kernel']> = {};
  private nodes = 1;
  private cpusPerNode = 4;
  private memPerNodeMb = 16384;
  private smtOn = false;
  private socketCount: number | null = null;
  private flags: string[] = [...BROADWELL_FLAGS];
  private model = 'Intel(R) Xeon(R) CPU E5-2630 v4 @ 2.20GHz';
  private hp: HugepageOptions[] = [];
  private nicList: NicFacts[] = [];
  private mods: ModuleFacts[] = [];
  private modsAvailable: string[] = [];
  private cmds: Record<string, string | null> = {};
  private pkgs: Record<string, string | null> = {};
  private fileMap: Record<string, FileFacts> = {};
  private disk: Record<string, number> = {};
  private outs: Record<string, { code: number; stdout: string }> = {};
  private procs: Record<string, number[]> = {};
  private svc: Facts['services'] = {};
  private nofileLimit = 1024;
  private host = 'lb1';

  hostname(name: string): this {
    this.host = name;
    return this;
  }
  os(name: OsName, override: Partial<OsFacts> = {}): this {
    this.osName = name;
    this.osOverride = override;
    return this;
  }
  kernel(k: Partial<Facts['kernel']>): this {
    Object.assign(this.kernelOverride, k);
    return this;
  }
  numaNodes(n: number, opts: NodeOptions = {}): this {
    this.nodes = n;
    if (opts.cpusPerNode !== undefined) this.cpusPerNode = opts.cpusPerNode;
    if (opts.memPerNodeMb !== undefined) this.memPerNodeMb = opts.memPerNodeMb;
    return this;
  }
  /** Physical sockets (default: one per NUMA node). */
  sockets(n: number): this {
    this.socketCount = n;
    return this;
  }
  smt(on: boolean): this {
    this.smtOn = on;
    return this;
  }
  cpuModel(model: string): this {
    this.model = model;
    return this;
  }
  cpuFlags(flags: string[]): this {
    this.flags = [...flags];
    return this;
  }
  withoutCpuFlags(...flags: string[]): this {
    this.flags = this.flags.filter((f) => !flags.includes(f));
    return this;
  }
  /** Hugepages of one size; call again for another size. Replaces an earlier call for the same size. */
  hugepages(opts: HugepageOptions): this {
    const size = opts.sizeKb ?? 2048;
    this.hp = [...this.hp.filter((h) => (h.sizeKb ?? 2048) !== size), { ...opts, sizeKb: size }];
    return this;
  }
  /** A PCI NIC; defaults: Intel 82599 (8086:10fb) on ixgbe, node 0, 64 queues, up, named after its slot. */
  nic(opts: NicOptions): this {
    const [, bus = '00', dev = '00.0'] = opts.pci.split(':');
    const [slot = '00', fn = '0'] = dev.split('.');
    const onKernel =
      opts.driver === undefined || !['igb_uio', 'uio_pci_generic', 'vfio-pci'].includes(opts.driver ?? '');
    macSeq++;
    this.nicList.push({
      vendorId: '8086',
      deviceId: '10fb',
      driver: 'ixgbe',
      driverOverride: null,
      numaNode: 0,
      ifname: onKernel ? `enp${parseInt(bus, 16)}s${parseInt(slot, 16)}f${fn}` : null,
      mac: onKernel
        ? `90:e2:ba:00:${(macSeq >> 8).toString(16).padStart(2, '0')}:${(macSeq & 0xff).toString(16).padStart(2, '0')}`
        : null,
      operstate: onKernel ? 'up' : null,
      carriesSsh: false,
      defaultRoute: false,
      active: false,
      maxRxQueues: 64,
      maxTxQueues: 64,
      ...opts,
    });
    return this;
  }
  /** The NIC the SSH session and the default route use (I350 on igb, eno1, node 0). */
  managementNic(opts: Partial<NicOptions> = {}): this {
    return this.nic({
      pci: '0000:03:00.0',
      vendorId: '8086',
      deviceId: '1521',
      driver: 'igb',
      ifname: 'eno1',
      mac: '18:66:da:aa:bb:01',
      carriesSsh: true,
      defaultRoute: true,
      active: true,
      maxRxQueues: 8,
      maxTxQueues: 8,
      ...opts,
    });
  }
  loadedModule(name: string, params: Record<string, string> = {}): this {
    this.mods.push({ name, params, refcount: 0 });
    return this;
  }
  modulesAvailable(...names: string[]): this {
    this.modsAvailable.push(...names);
    return this;
  }
  withoutModules(...names: string[]): this {
    this.modsAvailable = this.modsAvailable.filter((m) => !names.includes(m));
    this.mods = this.mods.filter((m) => !names.includes(m.name));
    return this;
  }
  command(name: string, path: string | null = `/usr/bin/${name}`): this {
    this.cmds[name] = path;
    return this;
  }
  pkg(name: string, version: string | null): this {
    this.pkgs[name] = version;
    return this;
  }
  file(path: string, content: string | null, mode = '0644'): this {
    this.fileMap[path] =
      content === null
        ? { exists: false, sha256: null, mode: null, content: null }
        : { exists: true, sha256: 'f'.repeat(64), mode, content };
    return this;
  }
  diskFree(path: string, mb: number): this {
    this.disk[path] = mb;
    return this;
  }
  output(key: string, stdout: string, code = 0): this {
    this.outs[key] = { code, stdout };
    return this;
  }
  process(name: string, pids: number[]): this {
    this.procs[name] = pids;
    return this;
  }
  service(name: string, s: { active: boolean; enabled: boolean; unitExists?: boolean }): this {
    this.svc[name] = { unitExists: true, ...s };
    return this;
  }
  nofile(n: number): this {
    this.nofileLimit = n;
    return this;
  }

  build(): Facts {
    const preset = OS_PRESETS[this.osName];
    const os: OsFacts = { ...preset.os, ...this.osOverride };
    const threads = this.smtOn ? 2 : 1;
    const numa = Array.from({ length: this.nodes }, (_, id) => {
      const cpus = Array.from({ length: this.cpusPerNode }, (_, i) => id * this.cpusPerNode + i);
      const hugepages = this.hp.map((h) => {
        const total = pick(h.perNode, id);
        return { sizeKb: h.sizeKb ?? 2048, total, free: h.free === undefined ? total : pick(h.free, id) };
      });
      const hugeKb = hugepages.reduce((s, h) => s + h.total * h.sizeKb, 0);
      const memTotalKb = this.memPerNodeMb * 1024;
      return {
        id,
        cpus,
        memTotalKb,
        memFreeKb: Math.max(0, memTotalKb - hugeKb - 2 * 1024 * 1024),
        hugepages,
      };
    });
    const hugepages = this.hp.map((h) => {
      const sizeKb = h.sizeKb ?? 2048;
      const nodes = numa.map((n) => n.hugepages.find((x) => x.sizeKb === sizeKb));
      return {
        sizeKb,
        total: nodes.reduce((s, x) => s + (x?.total ?? 0), 0),
        free: nodes.reduce((s, x) => s + (x?.free ?? 0), 0),
      };
    });
    const defaultHp = hugepages.find((h) => h.sizeKb === 2048) ?? hugepages[0];
    const release = this.kernelOverride.release ?? preset.kernel;
    return {
      hostname: this.host,
      os,
      kernel: {
        release,
        machine: 'x86_64',
        headersInstalled: true,
        cmdline: `BOOT_IMAGE=/boot/vmlinuz-${release} root=/dev/sda1 ro quiet`,
        lockdown: 'none',
        secureBoot: false,
        ipv6: true,
        iommuGroups: 48,
        ...this.kernelOverride,
      },
      cpu: {
        model: this.model,
        online: numa.flatMap((n) => n.cpus),
        flags: [...this.flags],
        threadsPerCore: threads,
        smtActive: this.smtOn,
        sockets: this.socketCount ?? this.nodes,
      },
      memory: {
        totalKb: numa.reduce((s, n) => s + n.memTotalKb, 0),
        freeKb: numa.reduce((s, n) => s + n.memFreeKb, 0),
        hugepagesTotal: defaultHp?.total ?? 0,
        hugepagesFree: defaultHp?.free ?? 0,
        hugepageSizeKb: defaultHp?.sizeKb ?? 2048,
      },
      numa,
      hugepages,
      mounts: [
        { source: '/dev/sda1', target: '/', fstype: 'ext4', options: 'rw,relatime' },
        {
          source: 'hugetlbfs',
          target: '/dev/hugepages',
          fstype: 'hugetlbfs',
          options: 'rw,relatime,pagesize=2M',
        },
      ],
      nics: this.nicList.map((n) => ({ ...n })),
      modules: this.mods.map((m) => ({ ...m, params: { ...m.params } })),
      modulesAvailable: [...new Set(this.modsAvailable)],
      limits: { nofile: this.nofileLimit },
      commands: { ...this.cmds },
      packages: { ...this.pkgs },
      files: { ...this.fileMap },
      diskFreeMb: { ...this.disk },
      services: { ...this.svc },
      outputs: { ...this.outs },
      processes: { ...this.procs },
      probeMs: 412,
    };
  }
}

export function factsBuilder(): FactsBuilder {
  return new FactsBuilder();
}

/** PCI addresses of the R630's two 82599 ports (node 0 and node 1). */
export const R630_PORTS = { dpdk0: '0000:01:00.0', dpdk1: '0000:82:00.0' } as const;

/**
 * The tutorial's PowerEdge R630, healthy: 2 × E5-2630 v4 (10 cores each, hyper-threading off, NUMA on),
 * 64 GiB per node, an I350 management port, an 82599 port on each node, 8192 free 2 MiB pages on each
 * node, the usual modules and build tools, Debian 12.
 */
export function r630(): FactsBuilder {
  return factsBuilder()
    .hostname('lb1')
    .os('debian12')
    .numaNodes(2, { cpusPerNode: 10, memPerNodeMb: 65536 })
    .smt(false)
    .hugepages({ sizeKb: 2048, perNode: 8192 })
    .managementNic()
    .nic({ pci: R630_PORTS.dpdk0, numaNode: 0, ifname: 'enp1s0f0', mac: '90:e2:ba:86:42:10' })
    .nic({ pci: R630_PORTS.dpdk1, numaNode: 1, ifname: 'enp130s0f0', mac: '90:e2:ba:86:42:20' })
    .modulesAvailable('uio', 'uio_pci_generic', 'vfio-pci', 'vhost_net', 'rte_kni')
    .command('pkg-config')
    .command('gcc')
    .command('make')
    .output('pkg-config-version', '1.8.1\n')
    .output('fs-nr-open', '1048576\n')
    .output('kernels-installed', '6.1.0-18-amd64\n')
    .diskFree('/opt', 40960)
    .file('/dev/vhost-net', '')
    .file('/var/run/dpvs.pid', null)
    .process('dpvs', [])
    .nofile(1024);
}

/** A resolved balancer for the R630: two ports with 4 queues each, hugepages managed, nofile raised. */
export function r630Host(overrides: Partial<ResolvedHost> = {}): ResolvedHost {
  return {
    name: 'lb1',
    address: '10.0.96.204',
    roles: ['balancer'],
    groups: [],
    // upstream's 1.9.10 on Debian 12 (GCC 12, OpenSSL 3) builds only with the documented fix
    // (docs/operations.md, known issue; preflight BUILD-006)
    dpvs: {
      version: '1.9.10',
      build_env: { CFLAGS: '-Wno-error=array-bounds -Wno-error=deprecated-declarations' },
    },
    dpdk: { version: '20.11.10' },
    hugepages: { size: '2M', per_node: 8192 },
    nofile: 65536,
    nics: [
      { name: 'dpdk0', match: { pci: R630_PORTS.dpdk0 }, rx: { queues: 4 }, tx: { queues: 4 } },
      { name: 'dpdk1', match: { pci: R630_PORTS.dpdk1 }, rx: { queues: 4 }, tx: { queues: 4 } },
    ],
    workers: 'auto',
    ...overrides,
  };
}

export function inventoryOf(hosts: ResolvedHost[]): LoadedInventory {
  return {
    file: '/work/inventory.yaml',
    dir: '/work',
    control: liveControl(),
    checksum: '0'.repeat(64),
    doc: { version: 1, hosts: {} },
    hosts,
    services: [],
    warnings: [],
    positionOf: () => ({ line: 1, col: 1 }),
    positionOfHostValue: () => ({ line: 1, col: 1 }),
  };
}

/** The context a planner or check sees for one host. */
export function planContext(host: ResolvedHost, facts: Facts): PlanContext {
  const inventory = inventoryOf([host]);
  return { host, inventory, facts, fleet: fleetOf(inventory, new Map([[host.name, facts]])) };
}
