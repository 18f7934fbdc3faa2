/**
 * Run one command under /usr/bin/time and measure it: wall time, CPU seconds (user + system of the
 * command and every descendant it waited for), the largest single process's peak RSS (what `time`
 * reports), and the peak of the summed RSS of the whole process tree, sampled from /proc.
 * Linux only (the lab is Linux only).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface Measured {
  code: number;
  wallMs: number;
  userS: number;
  sysS: number;
  /** peak RSS of the largest single process of the run (/usr/bin/time %M), KiB */
  maxRssKb: number;
  /** peak of the summed RSS of the whole process tree (sampled every SAMPLE_MS), KiB */
  treeRssKb: number;
  stdout: string;
  stderr: string;
}

const SAMPLE_MS = 100;
const PAGE_KB = 4;

function children(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (text) out.push(...text.split(' ').map(Number));
    } catch {
      // gone
    }
  }
  return out;
}

function rssKb(pid: number): number {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    return Number(statm[1] ?? 0) * PAGE_KB;
  } catch {
    return 0;
  }
}

/** Summed RSS of pid and all its descendants (the `time` wrapper itself excluded by the caller). */
function treeRss(pid: number): number {
  let sum = 0;
  const todo = [pid];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    sum += rssKb(p);
    todo.push(...children(p));
  }
  return sum;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  timeoutMs?: number;
}

export async function measure(cmd: string, args: string[], o: RunOptions = {}): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'dd-bench-time-'));
  const timeFile = join(dir, 'time');
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], {
    cwd: o.cwd,
    env: o.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.end(o.stdin ?? '');
  let peak = 0;
  const sample = (): void => {
    if (child.pid === undefined) return;
    // the tree under /usr/bin/time, without time's own few hundred KiB
    const tree = children(child.pid).reduce((s, p) => s + treeRss(p), 0);
    if (tree > peak) peak = tree;
  };
  const timer = setInterval(sample, SAMPLE_MS);
  const killer = o.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : undefined;
  const code = await new Promise<number>((resolve) => {
    child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
  const wallMs = performance.now() - t0;
  clearInterval(timer);
  if (killer) clearTimeout(killer);
  let userS = 0;
  let sysS = 0;
  let maxRssKb = 0;
  try {
    // the last line: a killed command makes time print "Command terminated by signal" first
    const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
    const f = (lines[lines.length - 1] ?? '').split(' ').map(Number);
    userS = f[1] ?? 0;
    sysS = f[2] ?? 0;
    maxRssKb = f[3] ?? 0;
  } catch {
    // time did not write (killed)
  }
  rmSync(dir, { recursive: true, force: true });
  return {
    code,
    wallMs,
    userS,
    sysS,
    maxRssKb,
    treeRssKb: Math.max(peak, maxRssKb),
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

export function median(xs: ReadonlyArray<number>): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
