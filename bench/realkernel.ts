/**
 * npm run build && flock /tmp/dpvs-lab.lock node dist/bench/realkernel.js [--hosts 10,50,100] [--reps 3]
 *   [--tools plan,floor,role-play,raw] [--reps-max N] [--connect-timeout 300]
 *
 * The cost of a fleet check on hosts with a REAL kernel: N network namespaces (their own lab instance,
 * DPVS_LAB_INSTANCE=rk: namespaces ddrk-*, its own /16), each running its own sshd as PID 1 of its own
 * PID namespace, and nothing else: no fake kernel, no stand-ins, no private /etc. A host reads this
 * machine's real /proc, /sys and /etc (the facts are not a DPVS host's; the cost is real). In one run,
 * alternating the order each repetition, medians of:
 *   plan       `dpvs-deploy plan INV --forks N` (balancer inventory: every fact, every check)
 *   plan50     the same with the default --forks 50 (only when named in --tools)
 *   floor      src/transport's ssh2 connection, ONE exec of a command reading ~15 facts (bench/transport.ts)
 *   role-play  ansible-playbook, 6 tasks the way a role reads them (command/slurp/stat), forks = N,
 *              pipelining, gather_facts off
 *   raw        ansible-playbook, one `raw` task running the floor's command
 * with wall time, control-process CPU seconds and peak RSS (/usr/bin/time), and processes per host
 * counted on the host side (its PID namespace's last pid before and after the run, read by nsenter).
 * `--hold FILE` waits with the hosts up until FILE (it holds the inventory's path) is removed.
 * Writes bench/results/<date>-realkernel.md. Root only; not run by CI.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { measure, median, type Measured } from './measure.js';

process.env.DPVS_LAB_INSTANCE ||= 'rk';
const net = await import('../test/lab/net.js');
const { labProfiles } = await import('../test/lab/profiles.js');
const { labInventory } = await import('../test/lab/inventory.js');
const { readBanner, sleep, killAndWait } = await import('../test/lab/proc.js');
const { repoRoot } = await import('../test/lab/paths.js');
const { mergeRequests, probeScript } = await import('../src/facts/probe.js');
const { loadInventory } = await import('../src/inventory/load.js');
const { preflightProbe } = await import('../src/preflight/index.js');
const { tasksForRoles } = await import('../src/run/playbooks.js');

const ROOT = repoRoot();
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const SIZES = arg('--hosts', '10,50,100').split(',').map(Number);
const REPS = Number(arg('--reps', '3'));

/** ~15 facts in one exec: what the floor and Ansible's raw task read. */
const FLOOR_COMMAND = [
  'cat /proc/sys/kernel/hostname /etc/os-release /proc/cmdline /proc/meminfo /proc/mounts',
  '/sys/devices/system/cpu/online /proc/modules /proc/sys/fs/nr_open /etc/fstab',
  '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages /sys/devices/system/node/node0/cpulist',
  '/sys/devices/system/node/node0/meminfo 2>/dev/null; uname -r -m; ip -o route show; ulimit -n',
].join(' ');

interface Host {
  name: string;
  address: string;
  ns: string;
  pid: number;
  child: ChildProcess;
}

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** PID 1 of the host's PID namespace (sshd): below `ip netns exec` / `unshare`. */
function nsInit(h: Host): number {
  let pid = h.pid;
  for (let i = 0; i < 3; i++) {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd') return pid;
    pid = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  }
  throw new Error(`${h.name}: no sshd below pid ${h.pid}`);
}

function lastPid(h: Host): number {
  const init = nsInit(h);
  return Number(
    sh('nsenter', ['-t', String(init), '-p', '-m', 'cat', '/proc/sys/kernel/ns_last_pid']).trim(),
  );
}

async function upHosts(
  n: number,
  work: string,
): Promise<{ hosts: Host[]; inventory: string; sshConfig: string }> {
  const profiles = labProfiles({ balancers: n, realservers: 0 }).filter((p) => p.roles.includes('balancer'));
  const mac = (i: number): string =>
    `02:dd:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  await net.destroyNetwork();
  await net.createNetwork(profiles.map((p, i) => ({ name: p.name, mac: mac(i + 1) })));
  for (const p of profiles)
    sh('ip', ['-n', net.hostNetns(p.name), 'addr', 'add', `${p.address}/16`, 'dev', 'eth0']);
  for (const p of profiles) {
    sh('ip', ['-n', net.hostNetns(p.name), 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', net.hostNetns(p.name), 'link', 'set', 'lo', 'up']);
  }
  const key = join(work, 'id_ed25519');
  const hostKey = join(work, 'host_ed25519');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  writeFileSync(join(work, 'authorized_keys'), readFileSync(`${key}.pub`));
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const knownHosts = join(work, 'known_hosts');
  writeFileSync(knownHosts, profiles.map((p) => `${p.address} ${hostPub}\n`).join(''));
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const home = join(work, 'root');
  mkdirSync(home, { mode: 0o700 });
  const hosts: Host[] = profiles.map((p) => {
    const cfg = join(work, `sshd-${p.name}.conf`);
    writeFileSync(
      cfg,
      [
        'Port 22',
        `ListenAddress ${p.address}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${join(work, 'authorized_keys')}`,
        'StrictModes no',
        'UsePAM no',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PidFile none',
        'MaxStartups 1000:30:2000',
        'MaxSessions 100',
        'LogLevel ERROR',
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    );
    const ns = net.hostNetns(p.name);
    // a fresh server's root: an empty home over /root in the host's own mount namespace (this
    // machine's root has a .bashrc that bash runs for every SSH command, ~100 processes of pyenv)
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'unshare',
        '--pid',
        '--fork',
        '--kill-child',
        '--mount-proc',
        '/bin/sh',
        '-c',
        'mount --bind "$1" /root && exec /usr/sbin/sshd -D -f "$2"',
        'sh',
        home,
        cfg,
      ],
      { stdio: 'ignore', detached: true },
    );
    return { name: p.name, address: p.address, ns, pid: child.pid ?? 0, child };
  });
  live = hosts; // a failure below (an sshd that never answers) still takes them down
  await Promise.all(
    hosts.map(async (h) => {
      // each attempt is a connection sshd forks a child for: with a short timeout under load the
      // attempts outran the children's exits (2026-12-07, 500 hosts: 31,000 processes, load 29,000)
      for (let i = 0; i < 60; i++) {
        const b = await readBanner(h.address, 22, 20_000).catch(() => '');
        if (b.startsWith('SSH-2.0-')) return;
        await sleep(1000);
      }
      throw new Error(`${h.name}: sshd did not answer`);
    }),
  );
  const inventory = join(work, 'inventory.yaml');
  const inv = labInventory(profiles, { inventoryFile: inventory, identity: key, knownHosts });
  // N handshakes at once on this machine's cores: at 500 hosts most take longer than the default 10 s
  const ssh = inv.defaults?.ssh;
  if (ssh) ssh.connect_timeout_s = Number(arg('--connect-timeout', '300'));
  writeFileSync(inventory, stringify(inv, { lineWidth: 0 }));
  const sshConfig = join(work, 'ssh_config');
  writeFileSync(
    sshConfig,
    [
      ...profiles.map((p) => `Host ${p.name}\n  HostName ${p.address}`),
      'Host *',
      '  User root',
      `  IdentityFile ${key}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '',
    ].join('\n'),
  );
  return { hosts, inventory, sshConfig };
}

/** The host's processes from the top: `ip netns exec` (it forks), `unshare`, sshd (PID 1 of the ns). */
function chain(h: Host): number[] {
  const out: number[] = [];
  let pid = h.pid;
  for (let i = 0; i < 3 && pid > 0; i++) {
    out.push(pid);
    try {
      pid = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0] ?? 0);
    } catch {
      break;
    }
  }
  return out;
}

async function downHosts(hosts: Host[]): Promise<void> {
  // sshd first (PID 1: its namespace's processes die with it), then unshare and ip
  await killAndWait(hosts.flatMap((h) => chain(h).reverse()).filter((p) => p > 0));
  await net.destroyNetwork();
}

function writeAnsible(dir: string, hosts: Host[], sshConfig: string): void {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  writeFileSync(
    join(dir, 'ansible.cfg'),
    [
      '[defaults]',
      `inventory = ${join(dir, 'hosts.ini')}`,
      `forks = ${hosts.length}`,
      'gathering = explicit',
      'interpreter_python = /usr/bin/python3',
      'retry_files_enabled = False',
      `local_tmp = ${join(dir, 'tmp')}`,
      'timeout = 60',
      '',
      '[ssh_connection]',
      'pipelining = True',
      `ssh_args = -F ${sshConfig} -o ControlMaster=no`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'hosts.ini'), ['[balancers]', ...hosts.map((h) => h.name), ''].join('\n'));
  writeFileSync(
    join(dir, 'role.yaml'),
    `# What a role reads before it decides: six module tasks, one SSH exec each (pipelining).
- hosts: all
  gather_facts: false
  tasks:
    - { name: kernel, ansible.builtin.command: { argv: [uname, -r, -m] }, changed_when: false, register: k }
    - { name: os-release, ansible.builtin.slurp: { src: /etc/os-release }, register: os }
    - { name: meminfo, ansible.builtin.slurp: { src: /proc/meminfo }, register: mem }
    - { name: dpvs.conf, ansible.builtin.stat: { path: /etc/dpvs.conf }, register: conf }
    - { name: mounts, ansible.builtin.slurp: { src: /proc/mounts }, register: mounts }
    - { name: nofile, ansible.builtin.command: { argv: [cat, /proc/sys/fs/nr_open] }, changed_when: false, register: nr }
`,
  );
  writeFileSync(
    join(dir, 'raw.yaml'),
    `# The floor's one command, as Ansible's raw module (no Python on the host).
- hosts: all
  gather_facts: false
  tasks:
    - name: read ~15 facts in one exec
      ansible.builtin.raw: ${JSON.stringify(FLOOR_COMMAND)}
      changed_when: false
`,
  );
}

type Tool = 'plan' | 'plan50' | 'floor' | 'role-play' | 'raw';
/** plan50: `plan` with the default --forks (50) instead of N; not run unless named in --tools */
const ALL_TOOLS: Tool[] = ['plan', 'floor', 'role-play', 'raw'];
/** --tools plan,floor,raw: leave some out (role-play takes minutes per run at 50 hosts and more) */
const ANSIBLE_VERSION = ((): string | null => {
  try {
    return (
      execFileSync('ansible-playbook', ['--version'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).split('\n')[0] ?? ''
    ).trim();
  } catch {
    return null;
  }
})();
/** --tools plan,floor,raw: leave some out; without ansible-playbook (installed by hand) only plan and floor */
const TOOLS: Tool[] = [...ALL_TOOLS, 'plan50' as const].filter(
  (t) =>
    arg('--tools', ALL_TOOLS.join(',')).split(',').includes(t) &&
    (ANSIBLE_VERSION !== null || t === 'plan' || t === 'plan50' || t === 'floor'),
);

interface Sample {
  tool: Tool;
  m: Measured;
  processes: number;
}

async function runTool(tool: Tool, n: number, inv: string, ans: string): Promise<Measured> {
  const env = { ...process.env, ANSIBLE_CONFIG: join(ans, 'ansible.cfg') };
  switch (tool) {
    case 'plan':
    case 'plan50':
      return measure(
        process.execPath,
        [join(ROOT, 'bin', 'dpvs-deploy.js'), 'plan', inv, '--forks', tool === 'plan' ? String(n) : '50'],
        {
          timeoutMs: 1_800_000,
        },
      );
    case 'floor':
      return measure(process.execPath, [
        join(ROOT, 'dist', 'bench', 'transport.js'),
        inv,
        '--forks',
        String(n),
        '--command',
        FLOOR_COMMAND,
      ]);
    case 'role-play':
      return measure('ansible-playbook', [join(ans, 'role.yaml')], { env, cwd: ans, timeoutMs: 1_800_000 });
    case 'raw':
      return measure('ansible-playbook', [join(ans, 'raw.yaml')], { env, cwd: ans, timeoutMs: 1_800_000 });
  }
}

function ok(tool: Tool, m: Measured): boolean {
  // plan: 0 no changes, 2 changes, 1 preflight findings (a real machine is not a DPVS host); every
  // host must have been reached
  if (tool === 'plan' || tool === 'plan50')
    return [0, 1, 2].includes(m.code) && !/unreachable|timed out/i.test(m.stdout + m.stderr);
  return m.code === 0;
}

async function probeProcesses(h: Host, inv: string): Promise<number> {
  const loaded = await loadInventory(inv);
  const host = loaded.hosts.find((x) => x.name === h.name);
  if (!host) throw new Error(`no ${h.name}`);
  const req = mergeRequests([
    preflightProbe(host, loaded),
    ...tasksForRoles(host.roles).map((t) => t.probe?.(host, loaded) ?? {}),
  ]);
  const script = probeScript(req);
  const init = nsInit(h);
  const out = sh(
    'nsenter',
    [
      '-t',
      String(init),
      '-p',
      '-m',
      '-n',
      'sh',
      '-c',
      'a=$(cat /proc/sys/kernel/ns_last_pid); sh -s >/dev/null 2>&1; b=$(cat /proc/sys/kernel/ns_last_pid); echo $((b - a - 1))',
    ],
    script,
  );
  return Number(out.trim());
}

async function main(): Promise<void> {
  const noAnsible =
    ANSIBLE_VERSION === null
      ? 'Ansible is NOT installed on this machine (ansible-playbook not found; it is installed by hand: apt-get install ansible-core), so the role-style play and the raw task were not run and their rows are absent.'
      : '';
  if (noAnsible) process.stderr.write(noAnsible + '\n');
  const date = new Date().toISOString().slice(0, 10);
  const lines: string[] = [
    `# Real-kernel hosts: plan vs the ssh2 floor vs Ansible (${date})`,
    '',
    `bench/realkernel.ts on this machine (${(await import('node:os')).cpus().length} cores, Node ${process.version}, ${ANSIBLE_VERSION ?? 'no Ansible'}, ${sh('ssh', ['-V'], '').trim() || 'OpenSSH'}).`,
    `Each host: its own network namespace, sshd as PID 1 of its own PID namespace, this machine's real /proc, /sys, /etc. ${REPS} repetitions per size, order rotated, medians.`,
    ...(noAnsible ? [noAnsible] : []),
    '',
  ];
  for (const n of SIZES) {
    const work = mkdtempSync(join(tmpdir(), `dd-rk-${n}-`));
    const { hosts, inventory, sshConfig } = await upHosts(n, work);
    live = hosts;
    const ans = join(work, 'ansible');
    writeAnsible(ans, hosts, sshConfig);
    const samples: Sample[] = [];
    const probeProcs = await probeProcesses(hosts[0] as Host, inventory);
    // --hold FILE: with the hosts up, write the inventory's path to FILE and wait until FILE is removed
    // (measure by hand on the same hosts: a heap snapshot, another --forks), then run the contenders
    const hold = arg('--hold', '');
    if (hold) {
      writeFileSync(hold, `${inventory}\n${sshConfig}\n`);
      process.stderr.write(`n=${n}: hosts up; inventory in ${hold}; remove it to go on\n`);
      while (existsSync(hold)) await sleep(2000);
    }
    try {
      const reps = n > Number(arg('--reps-max', '1000')) ? 1 : REPS;
      for (let rep = 0; rep < reps; rep++) {
        const order = TOOLS.map((_, i) => TOOLS[(i + rep) % TOOLS.length] as Tool);
        for (const tool of order) {
          const h0 = hosts[0] as Host;
          const before = lastPid(h0);
          const m = await runTool(tool, n, inventory, ans);
          const processes = lastPid(h0) - before - 1;
          if (!ok(tool, m))
            process.stderr.write(
              `${tool} n=${n} rep=${rep}: exit ${m.code}\n${(m.stderr + m.stdout).slice(-2000)}\n`,
            );
          samples.push({ tool, m, processes });
          process.stderr.write(
            `n=${n} rep=${rep} ${tool}: ${(m.wallMs / 1000).toFixed(2)} s, exit ${m.code}\n`,
          );
        }
      }
    } finally {
      await downHosts(hosts);
      rmSync(work, { recursive: true, force: true });
    }
    const row = (t: Tool): string => {
      const s = samples.filter((x) => x.tool === t);
      const good = s.filter((x) => ok(t, x.m));
      const w = median(s.map((x) => x.m.wallMs)) / 1000;
      return `| ${n} | ${t} | ${w.toFixed(2)} | ${median(s.map((x) => x.m.userS + x.m.sysS)).toFixed(2)} | ${Math.round(median(s.map((x) => x.m.maxRssKb)) / 1024)} | ${Math.round(median(s.map((x) => x.m.treeRssKb)) / 1024)} | ${median(s.map((x) => x.processes))} | ${good.length}/${s.length} |`;
    };
    const wall = (t: Tool): number => median(samples.filter((x) => x.tool === t).map((x) => x.m.wallMs));
    const load = (await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ');
    lines.push(
      `## ${n} hosts`,
      '',
      `Load average when this size finished (1 / 5 / 15 min): ${load}.`,
      '',
      `One dpvs-deploy balancer probe on lb1 started ${probeProcs} processes (PID namespace's last pid before and after).`,
      '',
      '| hosts | contender | wall s (median) | control CPU s | peak RSS MB (largest process) | peak RSS MB (tree) | processes on lb1 per run | ok runs |',
      '|---:|---|---:|---:|---:|---:|---:|---:|',
      ...TOOLS.map(row),
      '',
      [
        TOOLS.includes('floor')
          ? `plan / floor = ${(wall('plan') / wall('floor')).toFixed(2)} (target ≤ 1.5: ${wall('plan') / wall('floor') <= 1.5 ? 'met' : 'missed'})`
          : '',
        TOOLS.includes('role-play')
          ? `role-play / plan = ${(wall('role-play') / wall('plan')).toFixed(1)} (target ≥ 20: ${wall('role-play') / wall('plan') >= 20 ? 'met' : 'missed'})`
          : 'role-play not run',
        TOOLS.includes('raw') ? `raw / plan = ${(wall('raw') / wall('plan')).toFixed(1)}` : 'raw not run',
      ]
        .filter(Boolean)
        .join('; '),
      '',
    );
    const out = resolve(ROOT, arg('--out', join('bench', 'results', `${date}-realkernel.md`)));
    writeFileSync(out, lines.join('\n'));
    process.stderr.write(`wrote ${out}\n`);
  }
}

/** The hosts up now, for a cleanup on SIGINT/SIGTERM (processes by pid, then the namespaces). */
let live: Host[] = [];
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    void downHosts(live).finally(() => process.exit(130));
  });

main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  // the hosts' processes first (a failed bring-up left 500 sshds running in deleted namespaces)
  await downHosts(live).catch(() => net.destroyNetwork().catch(() => undefined));
  process.exit(1);
});
