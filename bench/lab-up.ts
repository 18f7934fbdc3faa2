/**
 * npm run bench:lab — time `up` and `down` of the lab for 5, 50 and 100 hosts (plus one client) and
 * check that `down` leaves `ip netns list`, the mount table and the process table as they were.
 * Prints a markdown table. Needs root (it is the lab).
 */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { down, up } from '../test/lab/lab.js';
import type { LabShape } from '../test/lab/profiles.js';
import { labNamespaces, netnsPids } from '../test/lab/net.js';
import { alive } from '../test/lab/proc.js';

interface Snapshot {
  netns: string;
  mounts: string;
}

async function snapshot(): Promise<Snapshot> {
  const netns = (await execa('ip', ['netns', 'list'], { reject: false })).stdout;
  const mounts = (await execa('mount', [])).stdout;
  return { netns, mounts };
}

/**
 * Every process of the lab while it is up (all processes in its namespaces, and the fake kernel
 * daemon), by pid and start time, so that a recycled pid is not mistaken for a survivor.
 */
async function labProcesses(fakeKernelPid: number): Promise<string[]> {
  const pids = [...(await netnsPids(await labNamespaces())).values()].flat();
  if (fakeKernelPid > 0) pids.push(fakeKernelPid);
  return Promise.all(pids.map(async (pid) => `${pid}:${await startTime(pid)}`));
}

async function startTime(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

async function survivors(procs: string[]): Promise<string[]> {
  const left: string[] = [];
  for (const p of procs) {
    const pid = Number(p.split(':')[0]);
    if ((await alive(pid)) && `${pid}:${await startTime(pid)}` === p) left.push(p);
  }
  return left;
}

function diffLines(a: string, b: string): string[] {
  const before = new Set(a.split('\n'));
  return b.split('\n').filter((l) => l && !before.has(l));
}

const SIZES: Array<[number, LabShape]> = [
  [5, { balancers: 2, realservers: 2 }],
  [50, { balancers: 25, realservers: 24 }],
  [100, { balancers: 50, realservers: 49 }],
];

async function main(): Promise<void> {
  await down();
  const rows: string[] = [];
  let clean = true;
  for (const [n, shape] of SIZES) {
    const before = await snapshot();
    const u = await up({ shape });
    const procs = await labProcesses(u.state.fakeKernel?.pid ?? 0);
    const d = await down();
    const after = await snapshot();
    const leftProcs = await survivors(procs);
    const newMounts = diffLines(before.mounts, after.mounts);
    const sameNetns = before.netns === after.netns;
    const ok = sameNetns && newMounts.length === 0 && leftProcs.length === 0;
    clean &&= ok;
    rows.push(
      `| ${n} | ${(u.ms / 1000).toFixed(2)} s | ${(d.ms / 1000).toFixed(2)} s | ${sameNetns ? 'unchanged' : 'CHANGED'} | ${newMounts.length ? 'CHANGED: ' + newMounts.join('; ') : 'unchanged'} | ${leftProcs.length ? 'LEFT: ' + leftProcs.join(', ') : `none of ${procs.length} left`} |`,
    );
  }
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  console.log(`Lab up/down (load average at the end: ${load})\n`);
  console.log('| hosts | up | down | ip netns list | mount | lab processes after down |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  if (!clean) process.exitCode = 1;
}

main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  await down().catch(() => undefined);
  process.exit(1);
});
