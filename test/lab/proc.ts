/** Small process, mount and TCP helpers for the lab (Linux only: the lab needs Linux anyway). */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { execa } from 'execa';

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** True while the process exists and is not a zombie. */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export async function killAndWait(pids: number[], timeoutMs = 5000): Promise<number[]> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  let left = pids;
  while (left.length && Date.now() < deadline) {
    const states = await Promise.all(left.map(alive));
    left = left.filter((_, i) => states[i]);
    if (left.length) await sleep(10);
  }
  return left;
}

/** Mount points at or below `prefix`, deepest first (from /proc/self/mountinfo). */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === prefix || p.startsWith(prefix + '/'));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function isMountpoint(path: string): Promise<boolean> {
  return (await mountsUnder(path)).includes(path);
}

export async function unmountAll(prefix: string): Promise<void> {
  for (const m of await mountsUnder(prefix)) {
    const r = await execa('umount', [m], { reject: false });
    if (r.exitCode !== 0) await execa('umount', ['-l', m], { reject: false });
  }
}

/** Resolves with the server's first line (the SSH banner) or rejects on error/timeout. */
export function readBanner(host: string, port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        s.destroy();
        resolve(buf.slice(0, nl).trim());
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      reject(new Error('closed'));
    });
  });
}

export function tcpOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}
