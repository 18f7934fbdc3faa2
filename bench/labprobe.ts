/**
 * npm run build && node dist/bench/labprobe.js [--reps 9]   (root; DPVS_LAB_INSTANCE, default `lp`)
 *
 * What one balancer probe costs on a lab host against the same probe on this machine's real kernel
 * (issue #23: a lab probe ≤ 3× the real one). The probe script is the one dpvs-deploy sends to the lab
 * inventory's lb1 (every fact, every preflight check, every task's request). In one run, rotating the
 * order each repetition, medians of:
 *   real     `sh -s` on this machine, in a new PID namespace (this machine's /proc, /sys, /etc and tools)
 *   lab      `sh -s` inside lb1 (nsenter: its mount, PID, network, UTS namespaces), stand-ins as the lab
 *            installs them (the launcher hands read-only calls to the host's stand-in daemon)
 *   lab-py   the same, with PATH pointing at the Python stand-ins themselves (one interpreter per call:
 *            the lab before test/lab/fakekernel/standin-client.c)
 * CPU is the shell's and every child's (/usr/bin/time) plus what the lab's long-running processes spent
 * during the run: the fake kernel (FUSE, all hosts' /sys and /proc reads) and lb1's stand-in daemon.
 * No SSH: the probe's own cost. Processes: the PID namespace's last pid before and after.
 */
import { readFileSync } from 'node:fs';

import { measure, median } from './measure.js';

process.env.DPVS_LAB_INSTANCE ||= 'lp';
const { up, down } = await import('../test/lab/lab.js');
const { labPaths } = await import('../test/lab/paths.js');
const { labInventory, inventoryYaml, writeInventory } = await import('../test/lab/inventory.js');
const { mergeRequests, probeScript } = await import('../src/facts/probe.js');
const { loadInventory } = await import('../src/inventory/load.js');
const { preflightProbe } = await import('../src/preflight/index.js');
const { tasksForRoles } = await import('../src/run/playbooks.js');

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const REPS = Number(arg('--reps', '9'));
const KEEP = process.argv.includes('--keep');

const TICK = 100; // USER_HZ
function cpuTicks(pid: number): number {
  if (pid <= 0) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
};

const COUNT = (inner: string): string =>
  `a=$(cat /proc/sys/kernel/ns_last_pid); ${inner} >/dev/null 2>&1; b=$(cat /proc/sys/kernel/ns_last_pid); echo $((b - a - 1))`;
const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

type Kind = 'real' | 'lab' | 'lab-py';
interface Sample {
  kind: Kind;
  wallMs: number;
  cpuS: number;
  fuseS: number;
  labdS: number;
  processes: number;
}

async function main(): Promise<void> {
  const u = await up({});
  const lb1 = u.state.hosts.find((h) => h.name === 'lb1');
  if (!lb1) throw new Error('no lb1 in the lab');
  const sshd = childrenOf(lb1.pid)[0] ?? 0;
  const labd = childrenOf(sshd).find((p) => comm(p).includes('labd.py')) ?? 0;
  const fk = u.state.fakeKernel?.pid ?? 0;
  const paths = labPaths();
  const invFile = paths.instanceInventory;
  await writeInventory(
    invFile,
    inventoryYaml(
      labInventory(u.profiles, {
        inventoryFile: invFile,
        identity: paths.identity,
        knownHosts: paths.knownHosts,
        fixtures: paths.www,
      }),
      'bench/labprobe.ts',
    ),
  );
  const inv = await loadInventory(invFile);
  const host = inv.hosts.find((h) => h.name === 'lb1');
  if (!host) throw new Error(`no lb1 in ${invFile}`);
  const script = probeScript(
    mergeRequests([
      preflightProbe(host, inv),
      ...tasksForRoles(host.roles).map((t) => t.probe?.(host, inv) ?? {}),
    ]),
  );
  const samples: Sample[] = [];
  const kinds: Kind[] = ['real', 'lab', 'lab-py'];
  for (let rep = 0; rep < REPS; rep++) {
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[(i + rep) % kinds.length] as Kind;
      const [cmd, args] =
        kind === 'real'
          ? [
              'unshare',
              [
                '--pid',
                '--fork',
                '--mount-proc',
                'env',
                '-i',
                `PATH=/usr/sbin:/usr/bin:/sbin:/bin`,
                'HOME=/root',
              ],
            ]
          : ['nsenter', ['-t', String(sshd), '-a', 'env', '-i', `PATH=${HOST_PATH}`, 'HOME=/root']];
      const f0 = cpuTicks(fk);
      const d0 = cpuTicks(labd);
      // the probe sets PATH itself (its first line): lab-py puts the Python stand-ins first
      const stdin =
        kind === 'lab-py'
          ? script.replace(
              'PATH=/usr/local/sbin:',
              'PATH=/usr/local/lib/lab/py/sbin:/usr/local/lib/lab/py/bin:/usr/local/sbin:',
            )
          : script;
      if (kind === 'lab-py' && stdin === script) throw new Error('the probe no longer sets PATH as expected');
      const m = await measure(cmd, [...args, 'sh', '-c', COUNT('sh -s')], { stdin });
      if (m.code !== 0) throw new Error(`${kind}: exit ${m.code}: ${m.stderr}`);
      const fuseS = kind === 'real' ? 0 : (cpuTicks(fk) - f0) / TICK;
      const labdS = kind === 'real' ? 0 : (cpuTicks(labd) - d0) / TICK;
      samples.push({
        kind,
        wallMs: m.wallMs,
        cpuS: m.userS + m.sysS + fuseS + labdS,
        fuseS,
        labdS,
        processes: Number(m.stdout.trim()),
      });
    }
  }
  const med = (k: Kind, f: (s: Sample) => number): number =>
    median(samples.filter((s) => s.kind === k).map(f));
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' / ');
  const out = [
    `One balancer probe (lb1's), ${REPS} runs each, order rotated, medians; load average at the end ${load}.`,
    '',
    '| where | wall ms | CPU s (all) | of which fake kernel (FUSE) | of which stand-in daemon | processes | CPU ÷ real | wall ÷ real |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...kinds.map((k) => {
      const cpu = med(k, (s) => s.cpuS);
      const wall = med(k, (s) => s.wallMs);
      return `| ${k} | ${wall.toFixed(0)} | ${cpu.toFixed(3)} | ${med(k, (s) => s.fuseS).toFixed(3)} | ${med(k, (s) => s.labdS).toFixed(3)} | ${med(k, (s) => s.processes)} | ${(cpu / med('real', (s) => s.cpuS)).toFixed(2)}× | ${(wall / med('real', (s) => s.wallMs)).toFixed(2)}× |`;
    }),
    '',
    labd === 0 ? 'lb1 has no stand-in daemon (the launcher did not build): lab = lab-py.' : '',
  ];
  console.log(out.join('\n'));
  if (!KEEP) await down();
}

main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  if (!KEEP) await down().catch(() => undefined);
  process.exit(1);
});
