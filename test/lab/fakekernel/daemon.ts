/**
 * startFakeKernel: one FUSE daemon (fakekernel.py under Debian's /usr/bin/python3, which has
 * python3-fusepy) serving <mountpoint>/<host>/... from <stateRoot>/<host>/...
 * Teardown follows the lab's measured recipe: umount, SIGKILL by PID, wait until gone or a zombie.
 */
import { spawn, spawnSync } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { repoRoot } from '../paths.js';

export const SYSTEM_PYTHON = '/usr/bin/python3';
/** Resolved in the source tree, so it also works when this module runs from dist/. */
export const DAEMON_SCRIPT = join(repoRoot(), 'test', 'lab', 'fakekernel', 'fakekernel.py');
const READY_TIMEOUT_MS = 15_000;

export interface FakeKernelHandle {
  pid: number;
  stop(): Promise<void>;
}

/** Decodes the octal escapes (\040 etc.) of /proc/self/mountinfo fields. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function isMounted(mountpoint: string): boolean {
  const abs = resolve(mountpoint);
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => unescapeMount(line.split(' ')[4] ?? '') === abs);
}

function umount(mountpoint: string): void {
  if (!isMounted(mountpoint)) return;
  const r = spawnSync('umount', [mountpoint], { stdio: 'ignore' });
  if (r.status !== 0 && isMounted(mountpoint)) spawnSync('umount', ['-l', mountpoint], { stdio: 'ignore' });
}

/** True when the process is gone or a zombie (a killed daemon may wait for its reaper). */
function goneOrZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startFakeKernel(stateRoot: string, mountpoint: string): Promise<FakeKernelHandle> {
  await mkdir(stateRoot, { recursive: true });
  await mkdir(mountpoint, { recursive: true });
  umount(mountpoint); // a stale mount from a crashed run ("Transport endpoint is not connected")
  const logFd = openSync(join(stateRoot, '.fakekernel.log'), 'a');
  const child = spawn(SYSTEM_PYTHON, ['-W', 'ignore', DAEMON_SCRIPT, stateRoot, mountpoint], {
    stdio: ['ignore', 'pipe', logFd],
  });
  closeSync(logFd);
  const pid = child.pid;
  const stdout = child.stdout;
  if (pid === undefined || stdout === null) throw new Error(`fakekernel: cannot start ${SYSTEM_PYTHON}`);

  const stop = async (): Promise<void> => {
    umount(mountpoint);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    for (let i = 0; i < 500 && !goneOrZombie(pid); i++) await sleep(10);
  };

  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('fakekernel: not ready after 15 s')), READY_TIMEOUT_MS);
      let out = '';
      stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          res();
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        let log = '';
        try {
          log = readFileSync(join(stateRoot, '.fakekernel.log'), 'utf8').slice(-2000);
        } catch {
          // no log
        }
        rej(new Error(`fakekernel exited (code ${code}) before mounting ${mountpoint}\n${log}`));
      });
    });
    for (let i = 0; i < 200 && !isMounted(mountpoint); i++) await sleep(10);
    if (!isMounted(mountpoint)) throw new Error(`fakekernel: ${mountpoint} is not mounted`);
  } catch (err) {
    await stop();
    throw err;
  }
  stdout.destroy(); // the daemon prints nothing after "ready"
  child.unref();
  return { pid, stop };
}
