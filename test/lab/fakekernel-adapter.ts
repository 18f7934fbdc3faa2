/**
 * The lab's only link to the fake kernel (test/lab/fakekernel/, written separately). When that module
 * is present it is used; otherwise a plain-file stand-in writes a minimal read-only-semantics tree
 * (no FUSE, so sysfs writes such as driver bind have no effect) and `real` is false, which the tests
 * use to skip what needs kernel write semantics.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { LabHostProfile } from './profile-types.js';

export interface HostMount {
  source: string;
  target: string;
  kind: 'dir' | 'file';
}

export interface FakeKernelHandle {
  pid: number;
  stop(): Promise<void>;
}

export interface FakeKernel {
  /** true when test/lab/fakekernel/ provides it (FUSE write semantics) */
  real: boolean;
  writeHostTree(hostStateDir: string, profile: LabHostProfile): Promise<void>;
  startFakeKernel(stateRoot: string, mountpoint: string): Promise<FakeKernelHandle>;
  hostMounts(profile: LabHostProfile): HostMount[];
  installHostBin(hostUsrLocalUpper: string, profile: LabHostProfile): Promise<void>;
}

function isFakeKernelModule(m: unknown): m is Omit<FakeKernel, 'real'> {
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
    const m: unknown = await import(modulePath);
    if (!isFakeKernelModule(m)) throw new Error(`${modulePath} does not implement the fake kernel contract`);
    cached = {
      real: true,
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
  writeHostTree: stubWriteHostTree,
  startFakeKernel: stubStart,
  hostMounts: stubHostMounts,
  installHostBin: async () => {},
};
