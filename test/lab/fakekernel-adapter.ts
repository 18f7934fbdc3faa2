/**
 * The lab's only link to the fake kernel (test/lab/fakekernel/, written separately). When that module
 * is present it is used; otherwise a plain-file stand-in writes a minimal read-only-semantics tree
 * (no FUSE, so sysfs writes such as driver bind have no effect) and `real` is false, which the tests
 * use to skip what needs kernel write semantics.
 */
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { LabHostProfile } from './profile-types.js';

export interface HostMount {
  source: string;
  target: string;
  /** 'symlink': the source symlink itself is mounted over the target symlink (symlinkHelper does it) */
  kind: 'dir' | 'file' | 'symlink';
}

export interface FakeKernelHandle {
  pid: number;
  stop(): Promise<void>;
}

export interface FakeKernel {
  /** true when test/lab/fakekernel/ provides it (FUSE write semantics) */
  real: boolean;
  /** `python3 <symlinkHelper> SOURCE TARGET` mounts a symlink over a symlink (kind 'symlink') */
  symlinkHelper: string | null;
  writeHostTree(hostStateDir: string, profile: LabHostProfile): Promise<void>;
  startFakeKernel(stateRoot: string, mountpoint: string): Promise<FakeKernelHandle>;
  hostMounts(profile: LabHostProfile): HostMount[];
  /** with hostUsrUpper, a profile with kernelHeaders also gets /usr/lib/modules/<kernel>/build */
  installHostBin(hostUsrLocalUpper: string, profile: LabHostProfile, hostUsrUpper?: string): Promise<void>;
}

function isFakeKernelModule(
  m: unknown,
): m is Omit<FakeKernel, 'real' | 'symlinkHelper'> & { MOUNT_SYMLINK_HELPER?: unknown } {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return ['writeHostTree', 'startFakeKernel', 'hostMounts', 'installHostBin'].every(
    (k) => typeof r[k] === 'function',
  );
}

let cached: FakeKernel | undefined;

export async function loadFakeKernel(): Promise<FakeKernel> {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/ has index.js; under vitest the source index.ts is imported directly.
  const modulePath = ['index.js', 'index.ts']
    .map((f) => join(here, 'fakekernel', f))
    .find((f) => existsSync(f));
  if (modulePath !== undefined && process.env.LAB_FAKEKERNEL !== 'stub') {
    await linkAssetsIntoDist(here);
    const m: unknown = await import(modulePath);
    if (!isFakeKernelModule(m)) throw new Error(`${modulePath} does not implement the fake kernel contract`);
    // The helper script is not compiled into dist/: fall back to the source tree's copy.
    const helpers = [
      m.MOUNT_SYMLINK_HELPER,
      join(here, '..', '..', '..', 'test', 'lab', 'fakekernel', 'mount-symlink.py'),
    ];
    const symlinkHelper = helpers.find((h): h is string => typeof h === 'string' && existsSync(h)) ?? null;
    cached = {
      real: true,
      symlinkHelper,
      writeHostTree: m.writeHostTree,
      startFakeKernel: m.startFakeKernel,
      hostMounts: m.hostMounts,
      installHostBin: m.installHostBin,
    };
  } else {
    cached = stubFakeKernel;
  }
  return cached;
}

/**
 * tsc copies no .py or shell files into dist/, but the fake kernel finds its daemon script and the
 * hostbin tools next to its compiled module: when running from dist/, symlink them from the source.
 */
async function linkAssetsIntoDist(here: string): Promise<void> {
  const distLab = here;
  const srcLab = join(here, '..', '..', '..', 'test', 'lab');
  if (!here.split(sep).includes('dist') || !existsSync(srcLab)) return;
  const links: Array<[string, string]> = [[join(srcLab, 'hostbin'), join(distLab, 'hostbin')]];
  for (const f of await readdir(join(srcLab, 'fakekernel')).catch(() => [] as string[])) {
    if (!f.endsWith('.ts')) links.push([join(srcLab, 'fakekernel', f), join(distLab, 'fakekernel', f)]);
  }
  for (const [src, dst] of links) {
    if (existsSync(src) && !existsSync(dst)) await symlink(src, dst).catch(() => undefined);
  }
}

// ---------- the plain-file stand-in ----------

async function put(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

function cpuList(profile: LabHostProfile, node: number): string {
  const first = node * profile.cpusPerNode;
  return `${first}-${first + profile.cpusPerNode - 1}`;
}

async function stubWriteHostTree(dir: string, p: LabHostProfile): Promise<void> {
  const nodes = Array.from({ length: p.numaNodes }, (_, i) => i);
  const last = p.numaNodes - 1;
  const writes: Array<Promise<void>> = [
    put(join(dir, 'sys/devices/system/node/online'), last === 0 ? '0\n' : `0-${last}\n`),
    put(join(dir, 'sys/devices/system/node/possible'), last === 0 ? '0\n' : `0-${last}\n`),
    put(join(dir, 'sys/module/.keep'), ''),
    put(
      join(dir, 'proc/meminfo'),
      `MemTotal:       ${p.memPerNodeMb * 1024 * p.numaNodes} kB\nHugePages_Total:       0\nHugePages_Free:        0\nHugepagesize:       2048 kB\n`,
    ),
  ];
  if (p.hugepages === 'simulated') {
    writes.push(put(join(dir, 'sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages'), '0\n'));
  }
  for (const n of nodes) {
    const nd = join(dir, 'sys/devices/system/node', `node${n}`);
    writes.push(put(join(nd, 'cpulist'), `${cpuList(p, n)}\n`));
    writes.push(put(join(nd, 'hugepages/hugepages-2048kB/nr_hugepages'), '0\n'));
  }
  for (const nic of p.nics) {
    const d = join(dir, 'sys/bus/pci/devices', nic.pci);
    writes.push(put(join(d, 'vendor'), `0x${nic.vendor}\n`));
    writes.push(put(join(d, 'device'), `0x${nic.device}\n`));
    writes.push(put(join(d, 'numa_node'), `${nic.numaNode}\n`));
    writes.push(put(join(d, 'net', nic.ifname, 'address'), `${nic.mac}\n`));
  }
  await Promise.all(writes);
}

async function stubStart(stateRoot: string, mountpoint: string): Promise<FakeKernelHandle> {
  await mkdir(mountpoint, { recursive: true });
  await execa('mount', ['--bind', '-o', 'ro', stateRoot, mountpoint]);
  return {
    pid: 0,
    async stop() {
      await execa('umount', ['-l', mountpoint], { reject: false });
    },
  };
}

function stubHostMounts(p: LabHostProfile): HostMount[] {
  const m: HostMount[] = [
    { source: 'sys/bus/pci', target: '/sys/bus/pci', kind: 'dir' },
    { source: 'sys/devices/system/node', target: '/sys/devices/system/node', kind: 'dir' },
    { source: 'sys/module', target: '/sys/module', kind: 'dir' },
    { source: 'proc/meminfo', target: '/proc/meminfo', kind: 'file' },
  ];
  if (p.hugepages === 'simulated') {
    m.push({ source: 'sys/kernel/mm/hugepages', target: '/sys/kernel/mm/hugepages', kind: 'dir' });
  }
  return m;
}

const stubFakeKernel: FakeKernel = {
  real: false,
  symlinkHelper: null,
  writeHostTree: stubWriteHostTree,
  startFakeKernel: stubStart,
  hostMounts: stubHostMounts,
  installHostBin: async () => {},
};
