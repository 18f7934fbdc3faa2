/**
 * Global setup of the VM suite: builds the image (cached) and boots ONE guest for every test file;
 * powers it off afterwards. Where QEMU or debootstrap is missing, or this is not root, the suite is
 * skipped LOUDLY (the reason is written to .vm/run/unavailable and every test skips with it).
 */
import { asRoot } from '../support/root.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { vmPaths } from './paths.js';
import { down, up } from './vm.js';

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const HOST_HUGEPAGES = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';

export default async function setup(): Promise<() => Promise<void>> {
  const p = vmPaths();
  const log = (l: string): void => console.error(`[vm] ${l}`);
  rmSync(join(p.run, 'unavailable'), { force: true });
  // qemu-storage-daemon (qemu-system-common) and debugfs (e2fsprogs) read the guest's grub.cfg, kernel
  // and initrd from its disk at every boot (diskboot.ts), through FUSE (/dev/fuse).
  const missing = [
    'qemu-system-x86_64',
    'qemu-img',
    'qemu-storage-daemon',
    'debootstrap',
    'mkfs.ext4',
    'debugfs',
    'unshare',
    'ssh',
  ].filter((c) => !have(c));
  if (!existsSync('/dev/fuse')) missing.push('/dev/fuse');
  const reason =
    process.env.VM_NO_BOOT === '1'
      ? 'VM_NO_BOOT=1: guest not booted (launcher tests only)'
      : !asRoot
        ? 'the VM tier needs root (debootstrap, mount namespace for the /dev/kvm mask)'
        : missing.length
          ? `missing ${missing.join(', ')} (apt-get install qemu-system-x86 qemu-utils debootstrap)`
          : null;
  if (reason) {
    const bar = '!'.repeat(78);
    console.error(`\n${bar}\n!! VM TIER SKIPPED: ${reason}\n${bar}\n`);
    mkdirSync(p.run, { recursive: true });
    writeFileSync(join(p.run, 'unavailable'), reason);
    return async () => {};
  }
  const baseline = readFileSync(HOST_HUGEPAGES, 'utf8').trim();
  const t0 = Date.now();
  const r = await up(p, log);
  log(
    `guest ${r.reused ? 'reused' : 'booted'} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${r.state.pid})`,
  );
  writeFileSync(join(p.run, 'host-baseline.json'), JSON.stringify({ nrHugepages2M: baseline }));
  return async () => {
    if (process.env.VM_KEEP === '1') return log('VM_KEEP=1: the guest stays up (npm run vm -- down)');
    const d = await down(p, log);
    log(`guest ${d.clean ? 'powered off' : 'killed'}`);
  };
}
