/**
 * Reads the guest's bootloader configuration, kernel and initrd from its disk (the qcow2 overlay) while
 * the guest is not running: qemu-storage-daemon exports the overlay read-only as a raw file over FUSE
 * (no loop device, no nbd, no mount of the guest's filesystem), debugfs reads the ext4 filesystem in it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { grubDefaultEntry, grubKernelCmdline, type BootEntry } from './bootcfg.js';

const execFileP = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const GRUB_CFG = '/boot/grub/grub.cfg';

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}

/** Runs `fn` with the overlay's disk as a read-only raw file (a FUSE export under `work`). */
export async function withDiskAsRaw<T>(
  overlay: string,
  work: string,
  fn: (raw: string) => Promise<T>,
): Promise<T> {
  await mkdir(work, { recursive: true });
  const raw = join(work, 'disk.raw');
  const pidFile = join(work, 'qsd.pid');
  await rm(pidFile, { force: true });
  await writeFile(raw, '');
  await execFileP('qemu-storage-daemon', [
    ...['--blockdev', `driver=file,node-name=f,filename=${overlay},read-only=on`],
    ...['--blockdev', 'driver=qcow2,node-name=q,file=f,read-only=on'],
    ...['--export', `type=fuse,id=e,node-name=q,mountpoint=${raw},writable=off`],
    ...['--daemonize', '--pidfile', pidFile],
  ]);
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  try {
    return await fn(raw);
  } finally {
    if (Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`)) {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm.startsWith('qemu-storage')) process.kill(pid, 'SIGTERM');
    }
    for (let i = 0; i < 100 && mounted(raw); i++) await sleep(50);
    await rm(raw, { force: true });
  }
}

/** A file of the ext4 filesystem in `raw`, read with debugfs (no mount). */
export async function debugfsCat(raw: string, path: string): Promise<string> {
  const r = await execFileP('debugfs', ['-R', `cat ${path}`, raw], { maxBuffer: 16 * 1024 * 1024 });
  if (r.stdout === '' && /not found|File not found/i.test(r.stderr))
    throw new Error(`${path} is not on the guest's disk (debugfs: ${r.stderr.trim()})`);
  return r.stdout;
}

export async function debugfsDump(raw: string, path: string, out: string): Promise<void> {
  await rm(out, { force: true });
  const r = await execFileP('debugfs', ['-R', `dump ${path} ${out}`, raw]);
  if (!existsSync(out)) throw new Error(`${path} is not on the guest's disk (debugfs: ${r.stderr.trim()})`);
}

export interface DiskBoot {
  entry: BootEntry;
  /** the command line GRUB would give the kernel for this entry */
  cmdline: string;
  /** kernel and initrd copied from the guest's disk */
  kernel: string;
  /** null when the entry has no initrd line */
  initrd: string | null;
  grubCfg: string;
}

/**
 * What the guest's bootloader would boot now: its grub.cfg's default entry, with the kernel and the
 * initrd(s) it names copied out of the disk into `work` (several initrds are concatenated, as GRUB
 * loads them back to back).
 */
export async function bootFromDisk(overlay: string, work: string): Promise<DiskBoot> {
  return withDiskAsRaw(overlay, join(work, 'export'), async (raw) => {
    const grubCfg = await debugfsCat(raw, GRUB_CFG);
    const entry = grubDefaultEntry(grubCfg);
    const kernel = join(work, 'vmlinuz');
    const initrd = join(work, 'initrd.img');
    await debugfsDump(raw, entry.kernel, kernel);
    await rm(initrd, { force: true });
    const parts: Buffer[] = [];
    for (const [i, f] of entry.initrd.entries()) {
      const part = join(work, `initrd.${i}`);
      await debugfsDump(raw, f, part);
      parts.push(await readFile(part));
      await rm(part, { force: true });
    }
    if (parts.length) await writeFile(initrd, Buffer.concat(parts));
    return {
      entry,
      cmdline: grubKernelCmdline(entry),
      kernel,
      initrd: parts.length ? initrd : null,
      grubCfg,
    };
  });
}
