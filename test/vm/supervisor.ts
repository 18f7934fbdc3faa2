#!/usr/bin/env node
/**
 * The guest's power supply and firmware: boots the guest from what its own bootloader configuration
 * says, and boots it again when it reboots.
 *
 *   node dist/test/vm/supervisor.js CONFIG.json     (started detached by vm.ts `up`)
 *
 * Each boot: read /boot/grub/grub.cfg, the kernel and the initrd from the guest's disk (diskboot.ts),
 * start QEMU (-no-reboot, the same overlay and forwarded SSH port every time) and wait for it to end.
 * The guest's kernel says why it ended on the serial console (linux kernel/reboot.c, pr_fmt "reboot: "):
 * `reboot: Restarting system` → boot again, with the command line grub.cfg holds NOW;
 * `reboot: Power down`, a panic (panic=-1 resets without that line), a kill or the time limit → stop.
 * Every boot is recorded in boots.jsonl (the entry, the command line; then how it ended).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bootFromDisk } from './diskboot.js';
import type { VmPaths } from './paths.js';
import { qemuArgs, wrapperArgv } from './qemu.js';

/** The run's files it works with (as VmPaths names and documents them), the SSH port and its time limit. */
export type SupervisorConfig = Pick<
  VmPaths,
  'run' | 'overlay' | 'pidFile' | 'serialLog' | 'qemuLog' | 'monitor' | 'bootLog' | 'stopFile'
> & {
  sshPort: number;
  /** the whole run's time limit (seconds) */
  timeoutS: number;
};

export type BootEnd = 'reboot' | 'poweroff' | 'other';

export interface BootRecord {
  n: number;
  startedAt: string;
  endedAt?: string;
  /** the grub.cfg entry booted */
  entry?: string;
  kernel?: string;
  cmdline?: string;
  end?: BootEnd;
  exitCode?: number | null;
  error?: string;
}

/** How a boot ended, from what the guest's kernel printed on the serial console during it. */
export function bootEnd(serial: string): BootEnd {
  if (/reboot: Restarting system/.test(serial)) return 'reboot';
  if (/reboot: Power down/.test(serial)) return 'poweroff';
  return 'other';
}

/**
 * The boots of this run so far (boots.jsonl: a line when a boot starts, another when it ends), oldest
 * first; the last one is the running boot while the guest is up.
 */
export function readBoots(bootLog: string): BootRecord[] {
  if (!existsSync(bootLog)) return [];
  const byN = new Map<number, BootRecord>();
  for (const l of readFileSync(bootLog, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    const r = JSON.parse(l) as BootRecord;
    byN.set(r.n, { ...byN.get(r.n), ...r });
  }
  return [...byN.values()].sort((a, b) => a.n - b.n);
}

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function runQemu(c: SupervisorConfig, boot: Awaited<ReturnType<typeof bootFromDisk>>, timeoutS: number) {
  const w = wrapperArgv(
    qemuArgs({
      kernel: boot.kernel,
      initrd: boot.initrd,
      append: boot.cmdline,
      overlay: c.overlay,
      pidFile: c.pidFile,
      serialLog: c.serialLog,
      monitor: c.monitor,
      sshPort: c.sshPort,
    }),
    timeoutS,
  );
  const fd = openSync(c.qemuLog, 'a');
  try {
    const child = spawn(w.cmd, w.args, { stdio: ['ignore', fd, fd] });
    return new Promise<number | null>((resolvePromise) => {
      child.on('error', () => resolvePromise(null));
      child.on('exit', (code) => resolvePromise(code));
    });
  } finally {
    closeSync(fd);
  }
}

export async function supervise(c: SupervisorConfig): Promise<number> {
  const deadline = Date.now() + c.timeoutS * 1000;
  const log = (r: BootRecord): void => appendFileSync(c.bootLog, `${JSON.stringify(r)}\n`);
  for (let n = 1; ; n++) {
    const startedAt = new Date().toISOString();
    if (existsSync(c.stopFile)) return 0;
    const left = Math.floor((deadline - Date.now()) / 1000);
    if (left < 10) {
      log({ n, startedAt, error: `the run's time limit (${c.timeoutS} s) is reached` });
      return 1;
    }
    let boot: Awaited<ReturnType<typeof bootFromDisk>>;
    try {
      boot = await bootFromDisk(c.overlay, join(c.run, 'boot'));
    } catch (e) {
      log({ n, startedAt, error: `cannot boot from the guest's disk: ${(e as Error).message}` });
      return 1;
    }
    const from = size(c.serialLog);
    const started: BootRecord = {
      n,
      startedAt,
      entry: boot.entry.title,
      kernel: boot.entry.kernel,
      cmdline: boot.cmdline,
    };
    log(started);
    await rm(c.pidFile, { force: true });
    const exitCode = await runQemu(c, boot, left);
    let serial = '';
    try {
      serial = readFileSync(c.serialLog).subarray(from).toString('utf8');
    } catch {
      /* no serial output at all: 'other' */
    }
    const end = bootEnd(serial);
    log({ ...started, endedAt: new Date().toISOString(), end, exitCode });
    if (end !== 'reboot') return 0;
  }
}

const cfgArg = process.argv[2];
if (cfgArg && /supervisor\.js$/.test(process.argv[1] ?? '')) {
  const c = JSON.parse(readFileSync(cfgArg, 'utf8')) as SupervisorConfig;
  supervise(c).then(
    (code) => process.exit(code),
    (e: unknown) => {
      appendFileSync(
        c.bootLog,
        `${JSON.stringify({ n: 0, startedAt: new Date().toISOString(), error: String(e) })}\n`,
      );
      process.exit(1);
    },
  );
}
