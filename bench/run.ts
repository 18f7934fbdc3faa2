/**
 * npm run bench -- [--hosts 10,50,100] [--reps 3] [--apply-max 10] [--probe-max 10] [--out DIR]
 *
 * For each N: a fresh lab of N balancers (sshd at LogLevel VERBOSE), one full apply (the second table:
 * wall, builds, time per task), then, alternating the order each repetition:
 *   dpvs-deploy  `plan INV --stats` (all facts, all checks; no-op after the apply, exit 0)
 *   ansible      ansible-playbook, forks = N, pipelining, no fact gathering: the same probe script
 *   openssh      the floor: one `ssh -F .lab/ssh/ssh_config HOST sh -s` per host, all in parallel
 * with wall time, CPU seconds and peak RSS (/usr/bin/time), the process tree's peak RSS, and SSH
 * connections and exec round trips per host counted from the hosts' sshd logs. Then one run of
 * bench/phases.ts (where our time goes). Prints markdown, writes bench/results/<date>.md and .json.
 *
 * Root only (it is the lab). The lab is shared: run it under the lab lock, e.g.
 *   npm run build && flock /tmp/dd-lab.lock npm run bench
 * It leaves the lab down.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildFixtures } from '../test/lab/fixtures/build.js';
import { down, up } from '../test/lab/lab.js';
import { labPaths } from '../test/lab/paths.js';
import { measure, median, type Measured } from './measure.js';
import type { Phases } from './phases.js';
import { countSince, mark, summarize } from './sshd-log.js';
import { writeAnsible, writeBenchInventory, writeFloor, writeProbeScripts } from './targets.js';

type Tool = 'dpvs-deploy' | 'ansible' | 'openssh';
const TOOLS: Tool[] = ['dpvs-deploy', 'ansible', 'openssh'];
/** probe: the real thing (dpvs-deploy plan; the probe script for the others); true: `true` over SSH */
type Workload = 'probe' | 'true';

interface Sample {
  workload: Workload;
  tool: Tool;
  rep: number;
  code: number;
  ok: boolean;
  wallMs: number;
  cpuS: number;
  maxRssKb: number;
  treeRssKb: number;
  maxConnections: number;
  maxExecs: number;
  meanConnections: number;
  meanExecs: number;
  maxSubsystems: number;
  /** dpvs-deploy's own --stats line (client side), for comparison with the server's count */
  clientStats?: string;
  /** dpvs-deploy plan's "Plan: ..." line */
  planLine?: string;
}

interface ToolSummary {
  workload: Workload;
  tool: Tool;
  runs: number;
  failed: number;
  wallMs: number;
  wallMinMs: number;
  wallMaxMs: number;
  cpuS: number;
  maxRssKb: number;
  treeRssKb: number;
  maxConnections: number;
  maxExecs: number;
}

interface TaskTime {
  task: string;
  hostsChanged: number;
  hostsFailed: number;
  medianMs: number;
  maxMs: number;
  sumMs: number;
}

interface ApplyResult {
  code: number;
  wallMs: number;
  cpuS: number;
  maxRssKb: number;
  hostsOk: number;
  hostsChanged: number;
  hostsFailed: number;
  dpdkBuilds: number;
  dpdkReceived: number;
  dpvsBuilds: number;
  dpvsReceived: number;
  buildTargets: number;
  maxConnections: number;
  maxExecs: number;
  tasks: TaskTime[];
  errors: string[];
}

interface SizeResult {
  hosts: number;
  labUpMs: number;
  applied: boolean;
  apply: ApplyResult | null;
  /** exit code of the first plan after the apply (0 = no changes) and its summary line */
  noopCheck: { code: number; summary: string } | null;
  samples: Sample[];
  summary: ToolSummary[];
  phases: Phases | null;
}

interface Args {
  hosts: number[];
  reps: number;
  /** full apply (and so a no-op plan) only for sizes up to this */
  applyMax: number;
  /** run the probe workload only for sizes up to this (the trivial one always) */
  probeMax: number;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { hosts: [], reps: 3, applyMax: 10, probeMax: 10, out: resolve('bench/results') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = (): string => {
      const n = argv[++i];
      if (n === undefined) throw new Error(`${v} needs a value`);
      return n;
    };
    if (v === '--hosts') a.hosts.push(...next().split(',').map(Number));
    else if (v === '--reps') a.reps = Number(next());
    else if (v === '--apply-max') a.applyMax = Number(next());
    else if (v === '--probe-max') a.probeMax = Number(next());
    else if (v === '--out') a.out = resolve(next());
    else throw new Error(`unknown argument ${v}`);
  }
  if (a.hosts.length === 0) a.hosts = [10, 50, 100];
  if (a.hosts.some((n) => !Number.isInteger(n) || n < 1 || n > 250) || !(a.reps >= 1))
    throw new Error('--hosts takes whole numbers 1..250, --reps at least 1');
  return a;
}

const log = (s: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

function ensureAnsible(): string {
  const version = (): string =>
    execFileSync('ansible-playbook', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  try {
    return version();
  } catch {
    log('ansible-playbook missing: apt-get install -y ansible-core');
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'ansible-core'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return version();
  }
}

const BIN = resolve('bin/dpvs-deploy.js');

function dpvsDeploy(args: string[], timeoutMs: number): Promise<Measured> {
  return measure(process.execPath, [BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    timeoutMs,
  });
}

function newestRun(runs: string, command: string): string | null {
  if (!existsSync(runs)) return null;
  const d = readdirSync(runs)
    .filter((n) => n.includes(`-${command}-`))
    .sort();
  const last = d[d.length - 1];
  return last ? join(runs, last) : null;
}

interface ReportDoc {
  hosts: Array<{
    host: string;
    status: string;
    error?: string;
    tasks: Array<{ task: string; status: string; durationMs: number }>;
  }>;
}
interface PlanDoc {
  hosts: Array<{ host: string; changes: Array<{ task: string; summary: string; after?: unknown }> }>;
}

function applyResult(
  targets: number,
  m: Measured,
  reportFile: string,
  runDir: string | null,
  counts: ReturnType<typeof summarize>,
): ApplyResult {
  const report = existsSync(reportFile)
    ? (JSON.parse(readFileSync(reportFile, 'utf8')) as ReportDoc)
    : { hosts: [] };
  const plan =
    runDir && existsSync(join(runDir, 'plan.json'))
      ? (JSON.parse(readFileSync(join(runDir, 'plan.json'), 'utf8')) as PlanDoc)
      : { hosts: [] };
  const changes = plan.hosts.flatMap((h) => h.changes);
  const count = (re: RegExp): number => changes.filter((c) => re.test(c.summary)).length;
  const byTask = new Map<string, Array<{ status: string; durationMs: number }>>();
  for (const h of report.hosts)
    for (const t of h.tasks) {
      const l = byTask.get(t.task) ?? [];
      l.push(t);
      byTask.set(t.task, l);
    }
  const tasks: TaskTime[] = [...byTask].map(([task, l]) => ({
    task,
    hostsChanged: l.filter((t) => t.status === 'changed').length,
    hostsFailed: l.filter((t) => t.status === 'failed').length,
    medianMs: median(l.map((t) => t.durationMs)),
    maxMs: Math.max(...l.map((t) => t.durationMs)),
    sumMs: l.reduce((s, t) => s + t.durationMs, 0),
  }));
  const bad = report.hosts.filter((h) => !['ok', 'changed'].includes(h.status));
  return {
    code: m.code,
    wallMs: m.wallMs,
    cpuS: m.userS + m.sysS,
    maxRssKb: m.maxRssKb,
    hostsOk: report.hosts.filter((h) => h.status === 'ok').length,
    hostsChanged: report.hosts.filter((h) => h.status === 'changed').length,
    hostsFailed: bad.length,
    dpdkBuilds: count(/^build DPDK \S+: (?!cannot)/),
    dpdkReceived: count(/^receive the DPDK /),
    dpvsBuilds: count(/^build DPVS /),
    dpvsReceived: count(/^install DPVS .* built on /),
    buildTargets: targets,
    maxConnections: counts.maxConnections,
    maxExecs: counts.maxExecs,
    tasks,
    errors: bad.slice(0, 5).map((h) => `${h.host} ${h.status}: ${(h.error ?? '').split('\n')[0] ?? ''}`),
  };
}

interface Ctx {
  inv: string;
  runs: string;
  ansibleDir: string;
  floor: string;
  floorTrue: string;
  n: number;
  hostsDir: string;
  hosts: string[];
}

async function runTool(workload: Workload, tool: Tool, rep: number, ctx: Ctx): Promise<Sample> {
  const marks = mark(ctx.hostsDir, ctx.hosts);
  let m: Measured;
  let ok: boolean;
  let clientStats: string | undefined;
  let planLine: string | undefined;
  const timeoutMs = 900_000;
  if (tool === 'dpvs-deploy' && workload === 'probe') {
    m = await dpvsDeploy(
      ['plan', ctx.inv, '--stats', '--forks', String(ctx.n), '--run-dir', ctx.runs],
      timeoutMs,
    );
    // 0 no changes, 2 changes pending (a lab that was not applied): both ran every probe and check
    ok = m.code === 0 || m.code === 2;
    clientStats = /max per host: .*/.exec(m.stdout)?.[0];
    planLine = /^Plan: .*$/m.exec(m.stdout)?.[0];
  } else if (tool === 'dpvs-deploy') {
    m = await measure(
      process.execPath,
      [resolve('dist/bench/transport.js'), ctx.inv, '--forks', String(ctx.n)],
      {
        timeoutMs,
      },
    );
    ok = m.code === 0;
  } else if (tool === 'ansible') {
    const play = workload === 'probe' ? 'probe.yaml' : 'true.yaml';
    m = await measure('ansible-playbook', [join(ctx.ansibleDir, play)], {
      cwd: ctx.ansibleDir,
      env: { ...process.env, ANSIBLE_CONFIG: join(ctx.ansibleDir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' },
      timeoutMs,
    });
    ok = m.code === 0 && !/failed=[1-9]|unreachable=[1-9]/.test(m.stdout);
  } else {
    m = await measure('bash', [workload === 'probe' ? ctx.floor : ctx.floorTrue], { timeoutMs });
    ok = m.code === 0;
  }
  const s = await finish(workload, tool, rep, ctx, marks, m, ok, clientStats);
  return planLine ? { ...s, planLine } : s;
}

async function finish(
  workload: Workload,
  tool: Tool,
  rep: number,
  ctx: Ctx,
  marks: ReturnType<typeof mark>,
  m: Measured,
  ok: boolean,
  clientStats: string | undefined,
): Promise<Sample> {
  // sshd writes its last lines (disconnects) just after the client is gone
  await new Promise((r) => setTimeout(r, 300));
  const s = summarize(countSince(ctx.hostsDir, marks));
  if (!ok)
    log(
      `${tool} (${workload}) rep ${rep}: exit ${m.code}\n${(m.stdout + m.stderr).split('\n').slice(-15).join('\n')}`,
    );
  return {
    workload,
    tool,
    rep,
    code: m.code,
    ok,
    wallMs: m.wallMs,
    cpuS: m.userS + m.sysS,
    maxRssKb: m.maxRssKb,
    treeRssKb: m.treeRssKb,
    ...s,
    ...(clientStats ? { clientStats } : {}),
  };
}

function summarizeTool(workload: Workload, tool: Tool, samples: Sample[]): ToolSummary {
  const s = samples.filter((x) => x.tool === tool && x.workload === workload);
  const w = s.map((x) => x.wallMs);
  return {
    workload,
    tool,
    runs: s.length,
    failed: s.filter((x) => !x.ok).length,
    wallMs: median(w),
    wallMinMs: Math.min(...w),
    wallMaxMs: Math.max(...w),
    cpuS: median(s.map((x) => x.cpuS)),
    maxRssKb: Math.max(...s.map((x) => x.maxRssKb)),
    treeRssKb: Math.max(...s.map((x) => x.treeRssKb)),
    maxConnections: Math.max(...s.map((x) => x.maxConnections)),
    maxExecs: Math.max(...s.map((x) => x.maxExecs)),
  };
}

async function benchSize(n: number, a: Args): Promise<SizeResult> {
  const paths = labPaths();
  log(`--- ${n} balancers: fresh lab`);
  process.env.LAB_SSHD_LOGLEVEL = 'VERBOSE';
  await down();
  const u = await up({ shape: { balancers: n, realservers: 0 }, log });
  await buildFixtures(paths.www);
  const work = mkdtempSync(join(tmpdir(), `dd-bench-${n}-`));
  const inv = join(work, 'inventory.yaml');
  const runs = join(work, 'runs');
  writeBenchInventory(inv, u.profiles, paths);
  const hosts = await writeProbeScripts(inv, join(work, 'probes'));
  const ansibleDir = join(work, 'ansible');
  writeAnsible(ansibleDir, hosts, paths);
  const floor = writeFloor(join(work, 'floor'), hosts, paths, true);
  const floorTrue = writeFloor(join(work, 'floor'), hosts, paths, false);
  log(`work directory ${work}`);

  let apply: ApplyResult | null = null;
  let noopCheck: SizeResult['noopCheck'] = null;
  if (n <= a.applyMax) {
    log(`full apply on ${n} fresh balancers`);
    const marks = mark(paths.hosts, hosts);
    const report = join(work, 'apply-report.json');
    const am = await dpvsDeploy(
      ['apply', inv, '--yes', '--no-diff', '--forks', String(n), '--report-json', report, '--run-dir', runs],
      3_600_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    // identical build targets: same OS and kernel (the lab's balancers cycle through two variants)
    const targets = new Set(
      u.profiles.filter((p) => p.roles.includes('balancer')).map((p) => `${p.os} ${p.kernel}`),
    );
    apply = applyResult(
      targets.size,
      am,
      report,
      newestRun(runs, 'apply'),
      summarize(countSince(paths.hosts, marks)),
    );
    log(`apply: exit ${am.code} in ${(am.wallMs / 1000).toFixed(1)} s`);
    if (am.code !== 0) log((am.stdout + am.stderr).split('\n').slice(-25).join('\n'));
  }

  const samples: Sample[] = [];
  const ctx: Ctx = { inv, runs, ansibleDir, floor, floorTrue, n, hostsDir: paths.hosts, hosts };
  const workloads: Workload[] = n <= a.probeMax ? ['true', 'probe'] : ['true'];
  for (let rep = 0; rep < a.reps; rep++) {
    const order = TOOLS.map((_, i) => TOOLS[(i + rep) % TOOLS.length] as Tool);
    for (const workload of workloads)
      for (const tool of order) {
        const s = await runTool(workload, tool, rep, ctx);
        log(
          `${n} hosts, rep ${rep + 1}/${a.reps}, ${workload}, ${tool}: ${(s.wallMs / 1000).toFixed(2)} s, exit ${s.code}, ${s.maxConnections} conn/${s.maxExecs} exec per host`,
        );
        samples.push(s);
      }
  }

  const firstPlan = samples.find((x) => x.workload === 'probe' && x.tool === 'dpvs-deploy');
  if (apply && firstPlan) noopCheck = { code: firstPlan.code, summary: firstPlan.planLine ?? '' };

  let phases: Phases | null = null;
  if (workloads.includes('probe')) {
    const pm = await measure(
      process.execPath,
      [resolve('dist/bench/phases.js'), inv, '--forks', String(n), '--dump-facts', join(work, 'facts.json')],
      {
        timeoutMs: 900_000,
      },
    );
    try {
      phases = JSON.parse(pm.stdout.trim().split('\n').slice(-1)[0] ?? '') as Phases;
    } catch {
      log(`phases failed: ${pm.stderr}`);
    }
  }
  const summary = workloads.flatMap((w) => TOOLS.map((t) => summarizeTool(w, t, samples)));
  return { hosts: n, labUpMs: u.ms, applied: apply !== null, apply, noopCheck, samples, summary, phases };
}

const s1 = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mb = (kb: number): string => `${Math.round(kb / 1024)} MB`;

function markdown(results: SizeResult[], meta: Record<string, string>): string {
  const out: string[] = [];
  out.push(`# dpvs-deploy benchmark, ${meta.date}`, '');
  out.push(
    `Machine: ${meta.cpu}, ${meta.cores} cores; ${meta.node}; ${meta.ansible}; ${meta.ssh}. Lab balancers (test/lab), ` +
      `${meta.reps} repetitions per tool, alternating order, medians. Generated by \`npm run bench${meta.args ? ' -- ' + meta.args : ''}\` (bench/run.ts).`,
    '',
  );
  const label: Record<Workload, Record<Tool, string>> = {
    probe: {
      'dpvs-deploy': 'dpvs-deploy plan',
      ansible: 'ansible-playbook (probe script)',
      openssh: 'OpenSSH floor (probe script)',
    },
    true: {
      'dpvs-deploy': 'dpvs-deploy transport (`true`)',
      ansible: 'ansible-playbook (`true`)',
      openssh: 'OpenSSH floor (`true`)',
    },
  };
  const sections: Array<[Workload, string]> = [
    ['probe', '## Plan (all facts, all checks) vs Ansible vs the OpenSSH floor, same probe script'],
    ['true', '## SSH and orchestration alone: one `true` per host'],
  ];
  for (const [wl, title] of sections) {
    const rs = results.filter((r) => r.summary.some((t) => t.workload === wl));
    if (rs.length === 0) continue;
    out.push(title, '');
    out.push(
      '| hosts | tool | wall (median) | min – max | CPU s | peak RSS (largest process) | peak RSS (whole tree) | SSH conn / host | exec / host | failed runs |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of rs)
      for (const t of r.summary.filter((x) => x.workload === wl))
        out.push(
          `| ${r.hosts} | ${label[wl][t.tool]} | ${s1(t.wallMs)} | ${s1(t.wallMinMs)} – ${s1(t.wallMaxMs)} | ${t.cpuS.toFixed(2)} | ${mb(t.maxRssKb)} | ${mb(t.treeRssKb)} | ${t.maxConnections} | ${t.maxExecs} | ${t.failed}/${t.runs} |`,
        );
    out.push('');
    out.push(
      '| hosts | Ansible ÷ dpvs-deploy (target ≥ 5×) | dpvs-deploy ÷ OpenSSH floor (target ≤ 1.5×) |' +
        (wl === 'probe' ? ' state of the hosts |' : ''),
    );
    out.push('|---:|---:|---:|' + (wl === 'probe' ? '---|' : ''));
    for (const r of rs) {
      const w = (t: Tool): number => r.summary.find((x) => x.tool === t && x.workload === wl)?.wallMs ?? NaN;
      const codes = [
        ...new Set(r.samples.filter((x) => x.workload === wl && x.tool === 'dpvs-deploy').map((x) => x.code)),
      ];
      const state = r.noopCheck
        ? `applied; plan after apply: exit ${r.noopCheck.code} (${r.noopCheck.summary})`
        : `fresh (not applied): plan exit ${codes.join(', ')} (changes pending)`;
      out.push(
        `| ${r.hosts} | ${(w('ansible') / w('dpvs-deploy')).toFixed(2)}× | ${(w('dpvs-deploy') / w('openssh')).toFixed(2)}× |` +
          (wl === 'probe' ? ` ${state} |` : ''),
      );
    }
    out.push('');
  }
  if (results.some((r) => r.phases)) {
    out.push('## Where a plan spends its time (bench/phases.ts, one run)', '');
    out.push(
      '| hosts | load inventory | connect (all hosts) | connect median / host | probe round trip median | probe on host median | parse | plan | render | our CPU in connect+probe | total |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of results) {
      const p = r.phases;
      if (!p) continue;
      const ms = (x: number): string => `${Math.round(x)} ms`;
      out.push(
        `| ${r.hosts} | ${ms(p.loadMs)} | ${ms(p.connectWallMs)} | ${ms(p.connectMedianMs)} | ${ms(p.probeRoundTripMedianMs)} | ${ms(p.probeOnHostMedianMs)} | ${ms(p.parseMs)} | ${ms(p.planMs)} | ${ms(p.renderMs)} | ${ms(p.networkCpuMs)} | ${ms(p.totalMs)} |`,
      );
    }
    out.push('');
  }
  if (results.some((r) => r.apply))
    out.push(
      '## Full apply on a fresh lab',
      '',
      '| hosts | wall | CPU s (control) | peak RSS | hosts changed / failed | DPDK builds / copies | DPVS builds / copies | distinct targets (OS, kernel) | SSH conn / host | exec / host |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
  for (const r of results) {
    const x = r.apply;
    if (!x) continue;
    out.push(
      `| ${r.hosts} | ${s1(x.wallMs)} | ${x.cpuS.toFixed(2)} | ${mb(x.maxRssKb)} | ${x.hostsChanged} / ${x.hostsFailed} | ${x.dpdkBuilds} / ${x.dpdkReceived} | ${x.dpvsBuilds} / ${x.dpvsReceived} | ${x.buildTargets} | ${x.maxConnections} | ${x.maxExecs} |`,
    );
  }
  for (const r of results) {
    const x = r.apply;
    if (!x) continue;
    out.push('', `Time per task, ${r.hosts} hosts (from the apply report; hosts run in parallel):`, '');
    out.push('| task | hosts changed | failed | median per host | max per host | sum over hosts |');
    out.push('|---|---:|---:|---:|---:|---:|');
    for (const t of x.tasks)
      out.push(
        `| ${t.task} | ${t.hostsChanged} | ${t.hostsFailed} | ${s1(t.medianMs)} | ${s1(t.maxMs)} | ${s1(t.sumMs)} |`,
      );
    if (x.errors.length) out.push('', 'Failed hosts (first 5):', '', ...x.errors.map((e) => `- ${e}`));
  }
  out.push('');
  return out.join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the bench needs root (it brings up the lab)');
  const a = parseArgs(process.argv.slice(2));
  const ansible = ensureAnsible();
  const started = new Date();
  const meta = {
    date: started.toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    cpu: cpus()[0]?.model ?? 'unknown CPU',
    cores: String(cpus().length),
    node: `Node ${process.version}`,
    ansible,
    ssh: spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim().split(',')[0] ?? 'OpenSSH',
    reps: String(a.reps),
    args: process.argv.slice(2).join(' '),
  };
  const isDefault = process.argv.length === 2;
  const date = started.toISOString().slice(0, 10);
  const base = join(a.out, isDefault ? date : `${date}-n${a.hosts.join('-')}`);
  mkdirSync(a.out, { recursive: true });
  const results: SizeResult[] = [];
  const write = (): string => {
    const md = markdown(results, meta);
    writeFileSync(`${base}.md`, md);
    writeFileSync(`${base}.json`, JSON.stringify({ meta, results }, null, 2) + '\n');
    return md;
  };
  try {
    for (const n of a.hosts) {
      results.push(await benchSize(n, a));
      write(); // after each size: a later failure keeps what was measured
    }
  } finally {
    log('lab down');
    await down();
  }
  process.stdout.write(write());
  log(`wrote ${base}.md and ${base}.json`);
}

main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  await down().catch(() => undefined);
  process.exit(1);
});
