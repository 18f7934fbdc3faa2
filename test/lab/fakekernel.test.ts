/**
 * The fake kernel without namespaces: one FUSE daemon on a tmpfs, two host trees (lb1: 2 nodes,
 * IOMMU; rs1: 1 node, no IOMMU), kernel write semantics checked with raw file operations, the real
 * lspci pointed at the fake tree, and the real dpdk-devbind.py in a private mount namespace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hostMounts,
  MOUNT_SYMLINK_HELPER,
  startFakeKernel,
  writeHostTree,
  type FakeKernelHandle,
} from './fakekernel/index.js';
import { isMounted } from './fakekernel/daemon.js';
import { labProfiles } from './profiles.js';
import type { LabHostProfile } from './profile-types.js';

const profiles = labProfiles();
const lb1 = profiles.find((p) => p.name === 'lb1') as LabHostProfile;
const rs1 = profiles.find((p) => p.name === 'rs1') as LabHostProfile;
/** rs2 without an IPv6 stack, as preflight.test.ts's lab shape has it */
const rs2 = labProfiles({ balancers: 2, realservers: 2, overrides: { rs2: { ipv6: false } } }).find(
  (p) => p.name === 'rs2',
) as LabHostProfile;

let base = '';
let mnt = '';
let fk: FakeKernelHandle | undefined;

const host = (p: LabHostProfile, rel: string): string => join(mnt, p.name, rel);
const read = (p: LabHostProfile, rel: string): string => readFileSync(host(p, rel), 'utf8');
const pci = (p: LabHostProfile, rel: string): string => host(p, `sys/bus/pci/${rel}`);

/** Writes like `echo -n value > file`; returns the errno code on failure, or 'ok'. */
function write(path: string, value: string): string {
  try {
    writeFileSync(path, value, { flag: 'a' });
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'error';
  }
}

function driverOf(p: LabHostProfile, bdf: string): string | null {
  const link = pci(p, `devices/${bdf}/driver`);
  return existsSync(link) ? (readlinkSync(link).split('/').pop() ?? null) : null;
}

function meminfo(p: LabHostProfile): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of read(p, 'proc/meminfo').split('\n')) {
    const m = /^(\S+):\s+(\d+)/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}

beforeAll(async () => {
  base = mkdtempSync('/dev/shm/fk-test-');
  mnt = join(base, 'mnt');
  await Promise.all([lb1, rs1, rs2].map((p) => writeHostTree(join(base, 'state', p.name), p)));
  fk = await startFakeKernel(join(base, 'state'), mnt);
});

afterAll(async () => {
  await fk?.stop();
  if (base && !isMounted(mnt)) rmSync(base, { recursive: true, force: true });
});

describe('fake kernel tree', () => {
  it('boots each NIC on its kernel driver with its interface, and lists the hosts', () => {
    expect(readdirSync(mnt).sort()).toEqual(['lb1', 'rs1', 'rs2']);
    for (const nic of lb1.nics) {
      expect(driverOf(lb1, nic.pci)).toBe(nic.driver);
      expect(readdirSync(pci(lb1, `devices/${nic.pci}/net`))).toEqual([nic.ifname]);
      expect(read(lb1, `sys/bus/pci/devices/${nic.pci}/net/${nic.ifname}/address`).trim()).toBe(nic.mac);
      expect(readlinkSync(pci(lb1, `drivers/${nic.driver}/${nic.pci}`))).toBe(
        `../../../../devices/pci0000:00/${nic.pci}`,
      );
      expect(read(lb1, `sys/bus/pci/devices/${nic.pci}/numa_node`).trim()).toBe(String(nic.numaNode));
    }
    expect(lstatSync(pci(lb1, 'devices/0000:00:10.0')).isSymbolicLink()).toBe(true);
    expect(existsSync(pci(rs1, 'devices/0000:00:10.0/iommu_group'))).toBe(false);
    expect(readlinkSync(pci(lb1, 'devices/0000:00:10.0/iommu_group'))).toMatch(
      /^\.\.\/\.\.\/\.\.\/kernel\/iommu_groups\/\d+$/,
    );
  });

  it('shows the NICs to the real lspci with names, drivers and NUMA nodes', () => {
    const out = execFileSync('lspci', ['-A', 'linux-sysfs', '-O', `sysfs.path=${pci(lb1, '')}`, '-Dvmmnnk'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const blocks = out.trim().split('\n\n');
    expect(blocks).toHaveLength(lb1.nics.length);
    const b10 = blocks.find((b) => b.includes('Slot:\t0000:00:10.1')) ?? '';
    expect(b10).toContain('Device:\t82599ES 10-Gigabit SFI/SFP+ Network Connection [10fb]');
    expect(b10).toContain('Class:\tEthernet controller [0200]');
    expect(b10).toContain('Driver:\tixgbe');
    expect(b10).toContain('NUMANode:\t1');
    expect(blocks.find((b) => b.includes('0000:00:11.0'))).toContain('MT27800 Family [ConnectX-5] [1017]');
  });

  it('describes CPUs and NUMA nodes from the profile', () => {
    expect(read(lb1, 'sys/devices/system/node/online').trim()).toBe('0-1');
    expect(read(lb1, 'sys/devices/system/node/node1/cpulist').trim()).toBe('4-7,12-15');
    expect(read(lb1, 'sys/devices/system/cpu/online').trim()).toBe('0-15');
    expect(read(lb1, 'sys/devices/system/cpu/cpu13/topology/thread_siblings_list').trim()).toBe('5,13');
    expect(read(lb1, 'sys/devices/system/cpu/cpu13/topology/physical_package_id').trim()).toBe('1');
    const cpuinfo = read(lb1, 'proc/cpuinfo');
    expect(cpuinfo.match(/^processor\t: /gm)).toHaveLength(16);
    expect(cpuinfo).toMatch(/^flags\t\t: .*\bavx2\b/m);
    expect(read(rs1, 'sys/devices/system/cpu/online').trim()).toBe('0-7');
    expect(read(rs1, 'sys/kernel/security/lockdown').trim()).toBe('[none] integrity confidentiality');
  });
});

describe('driver binding semantics', () => {
  const bdf = '0000:00:10.0';

  it('refuses a bind while bound (EBUSY), unknown devices and drivers (ENODEV/ENOENT)', () => {
    expect(write(pci(lb1, 'drivers/ixgbe/bind'), bdf)).toBe('EBUSY');
    expect(write(pci(lb1, 'drivers/ixgbe/unbind'), '0000:00:1f.0')).toBe('ENODEV');
    expect(write(pci(lb1, 'drivers/i40e/unbind'), bdf)).toBe('ENODEV');
    expect(existsSync(pci(lb1, 'drivers/vfio-pci'))).toBe(false);
    expect(write(pci(lb1, 'devices/0000:00:10.0/vendor'), '0x1234')).toBe('EACCES');
  });

  it('moves a NIC to vfio-pci by driver_override and back, taking net/<if> away and back', () => {
    for (const m of ['vfio', 'vfio_iommu_type1', 'vfio_pci'])
      expect(write(host(lb1, 'ctl'), `load ${m}\n`)).toBe('ok');
    expect(readdirSync(pci(lb1, 'drivers'))).toContain('vfio-pci');
    expect(readlinkSync(pci(lb1, 'drivers/vfio-pci/module'))).toBe('../../../../module/vfio_pci');
    expect(write(pci(lb1, 'drivers/vfio-pci/bind'), bdf)).toBe('EBUSY');
    expect(write(pci(lb1, 'drivers/ixgbe/unbind'), `${bdf}\n`)).toBe('ok');
    expect(driverOf(lb1, bdf)).toBeNull();
    expect(existsSync(pci(lb1, `devices/${bdf}/net`))).toBe(false);
    expect(existsSync(pci(lb1, `drivers/ixgbe/${bdf}`))).toBe(false);
    // no id match and no override: the kernel refuses
    expect(write(pci(lb1, 'drivers/vfio-pci/bind'), bdf)).toBe('ENODEV');
    writeFileSync(pci(lb1, `devices/${bdf}/driver_override`), 'vfio-pci');
    expect(read(lb1, `sys/bus/pci/devices/${bdf}/driver_override`)).toBe('vfio-pci\n');
    expect(write(pci(lb1, 'drivers/ixgbe/bind'), bdf)).toBe('ENODEV'); // override names another driver
    expect(write(pci(lb1, 'drivers/vfio-pci/bind'), bdf)).toBe('ok');
    expect(driverOf(lb1, bdf)).toBe('vfio-pci');
    expect(readdirSync(pci(lb1, 'drivers/vfio-pci'))).toContain(bdf);
    writeFileSync(pci(lb1, `devices/${bdf}/driver_override`), '\0');
    expect(read(lb1, `sys/bus/pci/devices/${bdf}/driver_override`)).toBe('(null)\n');
    expect(write(pci(lb1, 'drivers/vfio-pci/unbind'), bdf)).toBe('ok');
    expect(write(pci(lb1, 'drivers_probe'), bdf)).toBe('ok'); // probes back to ixgbe
    expect(driverOf(lb1, bdf)).toBe('ixgbe');
    expect(readdirSync(pci(lb1, `devices/${bdf}/net`))).toEqual(['ens16f0']);
  });

  it('new_id probes matching unbound devices; remove_id of an unknown id is ENODEV', () => {
    for (const m of ['uio', 'uio_pci_generic']) expect(write(host(rs1, 'ctl'), `load ${m}`)).toBe('ok');
    expect(write(pci(rs1, 'drivers/ixgbe/unbind'), bdf)).toBe('ok');
    expect(write(pci(rs1, 'drivers/uio_pci_generic/new_id'), '8086 10fb')).toBe('ok');
    expect(driverOf(rs1, bdf)).toBe('uio_pci_generic');
    expect(write(pci(rs1, 'drivers/uio_pci_generic/new_id'), '8086 10fb')).toBe('EEXIST');
    expect(write(pci(rs1, 'drivers/uio_pci_generic/remove_id'), '8086 10fb')).toBe('ok');
    expect(write(pci(rs1, 'drivers/uio_pci_generic/remove_id'), '8086 10fb')).toBe('ENODEV');
    expect(driverOf(rs1, bdf)).toBe('uio_pci_generic'); // removing the id does not unbind
    // unloading the driver module unbinds its devices; uio is held by uio_pci_generic
    expect(write(host(rs1, 'ctl'), 'unload uio')).toBe('EBUSY');
    expect(write(host(rs1, 'ctl'), 'unload uio_pci_generic')).toBe('ok');
    expect(driverOf(rs1, bdf)).toBeNull();
    expect(existsSync(pci(rs1, 'drivers/uio_pci_generic'))).toBe(false);
    expect(write(pci(rs1, 'drivers_probe'), bdf)).toBe('ok');
    expect(driverOf(rs1, bdf)).toBe('ixgbe');
  });

  it('refuses vfio-pci without an IOMMU (EINVAL)', () => {
    for (const m of ['vfio', 'vfio_iommu_type1', 'vfio_pci'])
      expect(write(host(rs1, 'ctl'), `load ${m}`)).toBe('ok');
    expect(write(pci(rs1, 'drivers/ixgbe/unbind'), bdf)).toBe('ok');
    writeFileSync(pci(rs1, `devices/${bdf}/driver_override`), 'vfio-pci\n');
    expect(write(pci(rs1, 'drivers/vfio-pci/bind'), bdf)).toBe('EINVAL');
    expect(driverOf(rs1, bdf)).toBeNull();
    writeFileSync(pci(rs1, `devices/${bdf}/driver_override`), '\n');
    expect(write(pci(rs1, 'drivers/ixgbe/bind'), bdf)).toBe('ok');
  });
});

describe('modules', () => {
  it('keeps /proc/modules, /sys/module and holders consistent', () => {
    const mods = read(lb1, 'proc/modules');
    expect(mods).toMatch(/^vfio 45056 2 vfio_iommu_type1,vfio_pci, Live 0x0+$/m);
    expect(mods).toMatch(/^ixgbe \d+ 0 - Live/m);
    expect(mods).not.toMatch(/^virtio_pci /m); // built in
    expect(existsSync(host(lb1, 'sys/module/virtio_pci'))).toBe(true);
    expect(read(lb1, 'sys/module/vfio/refcnt').trim()).toBe('2');
    expect(readdirSync(host(lb1, 'sys/module/vfio/holders')).sort()).toEqual([
      'vfio_iommu_type1',
      'vfio_pci',
    ]);
    expect(write(host(lb1, 'ctl'), 'unload vfio')).toBe('EBUSY');
    expect(write(host(lb1, 'ctl'), 'load vfio')).toBe('EEXIST');
    expect(write(host(lb1, 'ctl'), 'load igb_uio')).toBe('ENOENT'); // needs uio (unknown symbol)
    expect(write(host(lb1, 'ctl'), 'load rte_kni carrier=on')).toBe('ok');
    expect(read(lb1, 'sys/module/rte_kni/parameters/carrier').trim()).toBe('on');
    expect(read(lb1, 'proc/modules')).toMatch(/^rte_kni \d+ 0 - Live 0x0+ \(OE\)$/m);
    expect(write(host(lb1, 'ctl'), 'unload rte_kni')).toBe('ok');
    expect(existsSync(host(lb1, 'sys/module/rte_kni'))).toBe(false);
  });

  it('leaves the IPv6 entries out of the procnet of a host without IPv6', () => {
    const v6 = /^(if_inet6|ipv6_route|tcp6|udp6|raw6|snmp6|sockstat6|rt6_stats|ip6_.*)$/;
    const without = readdirSync(host(rs2, 'procnet'));
    expect(without).toContain('dev');
    expect(without.filter((n) => v6.test(n))).toEqual([]);
    expect(existsSync(host(rs2, 'procnet/if_inet6'))).toBe(false);
    expect(() => readlinkSync(host(rs2, 'procnet/if_inet6'))).toThrow();
    // the machine's own entries, IPv6 ones too when it has IPv6, on a host with IPv6
    const real = readdirSync('/proc/self/net');
    expect(readdirSync(host(rs1, 'procnet')).filter((n) => v6.test(n))).toEqual(
      real.filter((n) => v6.test(n)),
    );
  });

  it('makes toa_stats appear in the host procnet while toa is loaded', () => {
    expect(readdirSync(host(lb1, 'procnet'))).not.toContain('toa_stats');
    expect(readlinkSync(host(lb1, 'procnet/dev'))).toBe('/proc/1/net/dev');
    expect(write(host(lb1, 'ctl'), 'load toa')).toBe('ok');
    expect(readdirSync(host(lb1, 'procnet'))).toContain('toa_stats');
    expect(read(lb1, 'procnet/toa_stats')).toMatch(/^syn_recv_sock_toa\s*:\s*0/m);
    expect(write(host(lb1, 'ctl'), 'unload toa')).toBe('ok');
    expect(existsSync(host(lb1, 'procnet/toa_stats'))).toBe(false);
  });
});

describe('hugepages', () => {
  const nodeHp = (n: number, f = 'nr_hugepages'): string =>
    `sys/devices/system/node/node${n}/hugepages/hugepages-2048kB/${f}`;

  it('updates node, global and meminfo counters together', () => {
    expect(write(host(lb1, nodeHp(0)), '300')).toBe('ok');
    expect(write(host(lb1, nodeHp(1)), '100')).toBe('ok');
    expect(read(lb1, 'sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages').trim()).toBe('400');
    expect(read(lb1, 'proc/sys/vm/nr_hugepages').trim()).toBe('400');
    expect(read(lb1, nodeHp(1, 'free_hugepages')).trim()).toBe('100');
    const mi = meminfo(lb1);
    expect(mi.HugePages_Total).toBe(400);
    expect(mi.HugePages_Free).toBe(400);
    expect(mi.Hugepagesize).toBe(2048);
    expect(mi.Hugetlb).toBe(400 * 2048);
    expect(mi.MemTotal).toBe(2 * lb1.memPerNodeMb * 1024);
    expect(read(lb1, 'sys/devices/system/node/node0/meminfo')).toMatch(/^Node 0 HugePages_Total:\s+300$/m);
    // a 1 GB page on node 1 is counted in Hugetlb but not in HugePages_Total (2 MB is the default size)
    expect(
      write(host(lb1, 'sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages'), '1'),
    ).toBe('ok');
    expect(meminfo(lb1).Hugetlb).toBe(400 * 2048 + 1048576);
    expect(meminfo(lb1).HugePages_Total).toBe(400);
    expect(
      write(host(lb1, 'sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages'), '0'),
    ).toBe('ok');
  });

  it('distributes a global write over the nodes and gives fewer pages than asked when memory is short', () => {
    expect(write(host(lb1, 'proc/sys/vm/nr_hugepages'), '0')).toBe('ok');
    expect(write(host(lb1, 'proc/sys/vm/nr_hugepages'), '1001')).toBe('ok');
    expect([read(lb1, nodeHp(0)).trim(), read(lb1, nodeHp(1)).trim()]).toEqual(['501', '500']);
    const perNodeMax = ((lb1.memPerNodeMb - 512) * 1024) / 2048;
    expect(write(host(lb1, nodeHp(0)), String(perNodeMax + 1000))).toBe('ok');
    expect(Number(read(lb1, nodeHp(0)))).toBe(perNodeMax);
    expect(write(host(lb1, 'sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages'), '0')).toBe('ok');
    expect(meminfo(lb1).HugePages_Total).toBe(0);
    expect(write(host(lb1, 'proc/sys/vm/nr_hugepages'), 'lots')).toBe('EINVAL');
  });
});

describe('host mounts', () => {
  it('covers the hugepage counters only for simulated hosts', () => {
    const targets = (p: LabHostProfile): string[] => hostMounts(p).map((m) => m.target);
    expect(targets(lb1)).toEqual(
      expect.arrayContaining(['/sys/kernel/mm/hugepages', '/proc/sys/vm/nr_hugepages', '/proc/meminfo']),
    );
    const real = targets({ ...lb1, hugepages: 'real' });
    for (const t of ['/sys/kernel/mm/hugepages', '/proc/sys/vm/nr_hugepages', '/proc/meminfo'])
      expect(real).not.toContain(t);
    for (const m of hostMounts(lb1))
      expect(existsSync(join(mnt, 'lb1', m.source)) || m.kind === 'symlink').toBe(true);
  });
});

/** Runs a bash script in a private mount namespace with lb1's fake tree bound as hostMounts says. */
function inPrivateMounts(script: string): { status: number | null; stdout: string; stderr: string } {
  const mounts = hostMounts(lb1)
    .filter((m) => m.target.startsWith('/sys/') && m.kind === 'dir')
    .map((m) => `mount --bind ${JSON.stringify(join(mnt, 'lb1', m.source))} ${JSON.stringify(m.target)}`)
    .join('\n');
  const full = `set -e\nmount -o remount,bind,ro /sys\n${mounts}\nset +e\n${script}`;
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', full], {
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('real dpdk-devbind.py against the fake tree (private mount namespace)', () => {
  it('binds to vfio-pci and back to ixgbe', () => {
    const there = inPrivateMounts(
      'dpdk-devbind.py -b vfio-pci 0000:00:10.1 && dpdk-devbind.py --status-dev net',
    );
    expect(there.status, there.stderr).toBe(0);
    const dpdkSection = there.stdout.split('Network devices using kernel driver')[0] ?? '';
    expect(dpdkSection).toMatch(
      /0000:00:10\.1 '82599ES 10-Gigabit SFI\/SFP\+ Network Connection 10fb' drv=vfio-pci/,
    );
    expect(there.stdout).toMatch(/0000:00:03\.0 'Virtio network device 1000' if=eth0 drv=virtio-pci/);
    expect(driverOf(lb1, '0000:00:10.1')).toBe('vfio-pci');
    const back = inPrivateMounts('dpdk-devbind.py -b ixgbe 0000:00:10.1 && dpdk-devbind.py --status-dev net');
    expect(back.status, back.stderr).toBe(0);
    expect(back.stdout).toMatch(
      /0000:00:10\.1 '82599ES 10-Gigabit SFI\/SFP\+ Network Connection 10fb' if=ens16f1 drv=ixgbe/,
    );
    expect(driverOf(lb1, '0000:00:10.1')).toBe('ixgbe');
    expect(read(lb1, 'sys/bus/pci/devices/0000:00:10.1/driver_override')).toBe('(null)\n');
  });
});

describe('mount-symlink.py', () => {
  it('turns /proc/net of a private /proc into the host procnet (toa_stats visible, netns entries resolve)', () => {
    expect(write(host(lb1, 'ctl'), 'load toa')).toBe('ok');
    // as the orchestrator does: a private /run, lb1's dir at /run/fakekernel/kernel, then the symlink mount
    const full = [
      'set -e',
      'mount -t tmpfs tmpfs /run',
      'mkdir -p /run/fakekernel/kernel',
      `mount --bind ${join(mnt, 'lb1')} /run/fakekernel/kernel`,
      `/usr/bin/python3 ${MOUNT_SYMLINK_HELPER} ${join(mnt, 'lb1', 'procnet-link')} /proc/net`,
      'readlink /proc/net',
      'head -1 /proc/net/toa_stats >/dev/null && echo toa-ok',
      'grep -q Inter- /proc/net/dev && echo dev-ok',
    ].join('\n');
    const r = spawnSync(
      'unshare',
      ['--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', 'bash', '-c', full],
      {
        encoding: 'utf8',
      },
    );
    expect(write(host(lb1, 'ctl'), 'unload toa')).toBe('ok');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('/run/fakekernel/kernel/procnet');
    expect(r.stdout).toContain('toa-ok');
    expect(r.stdout).toContain('dev-ok');
  });
});
