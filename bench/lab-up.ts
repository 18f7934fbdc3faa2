/**
 * npm run bench:lab — time `up` and `down` of the lab for 5, 50 and 100 hosts (plus one client) and
 * check that `down` leaves `ip netns list`, the mount table and the process table as they were.
 * Prints a markdown table. Needs root (it is the lab).
 */
import { readFile, readdir } from 'node:fs/promises';
import { execa } from 'execa';
import { down, up } from '../test/lab/lab.js';
import type { LabShape } from '../test/lab/profiles.js';

interface Snapshot {
  netns: string;
  mounts: string;
  procs: Set<string>;
}

async function snapshot(): Promise<Snapshot> {
  const netns = (await execa('ip', ['netns', 'list'], { reject: false })).stdout;
  const mounts = (await execa('mount', [])).stdout;
  const procs = new Set<string>();
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (/^(sshd|unshare|python3|ip)$/.test(comm.trim())) procs.add(`${pid} ${comm.trim()}`);
  }
  return { netns, mounts, procs };
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
    const d = await down();
    const after = await snapshot();
    // Only processes of the lab's kinds that appeared during the run and are still there count.
    const leftProcs = [...after.procs].filter((p) => !before.procs.has(p));
    const newMounts = diffLines(before.mounts, after.mounts);
    const sameNetns = before.netns === after.netns;
    const ok = sameNetns && newMounts.length === 0 && leftProcs.length === 0;
    clean &&= ok;
    rows.push(
      `| ${n} | ${(u.ms / 1000).toFixed(2)} s | ${(d.ms / 1000).toFixed(2)} s | ${sameNetns ? 'unchanged' : 'CHANGED'} | ${newMounts.length ? 'CHANGED: ' + newMounts.join('; ') : 'unchanged'} | ${leftProcs.length ? 'LEFT: ' + leftProcs.join(', ') : 'unchanged'} |`,
    );
  }
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  console.log(`Lab up/down (load average at the end: ${load})\n`);
  console.log('| hosts | up | down | ip netns list | mount | processes |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  if (!clean) process.exitCode = 1;
}

main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  await down().catch(() => undefined);
  process.exit(1);
});
