/**
 * The probe: every fact module's snippet in ONE script, run with ONE exec per host, parsed into one
 * typed Facts document. No fact is read twice.
 */
import type { Transport } from '../transport/types.js';
import { CommandError } from '../errors.js';
import { cpuFacts } from './cpu.js';
import { memoryFacts } from './memory.js';
import { nicFacts } from './nics.js';
import { requestedFacts } from './requested.js';
import type { FactModule } from './section.js';
import { systemFacts } from './system.js';
import type { Facts, ProbeRequest } from './types.js';

const MARK = '@@dpvs-deploy-section@@';

export function mergeRequests(requests: ReadonlyArray<ProbeRequest>): Required<ProbeRequest> {
  const uniq = (xs: Array<string | undefined>): string[] =>
    [...new Set(xs.filter((x): x is string => !!x))].sort();
  const all = <K extends keyof ProbeRequest>(k: K) =>
    requests.flatMap((r) => (r[k] as string[] | undefined) ?? []);
  const outputs: Record<string, string> = {};
  for (const r of requests) Object.assign(outputs, r.outputs ?? {});
  return {
    files: uniq(all('files')),
    commands: uniq(all('commands')),
    packages: uniq(all('packages')),
    modules: uniq(all('modules')),
    diskPaths: uniq(all('diskPaths')),
    services: uniq(all('services')),
    processes: uniq(all('processes')),
    outputs,
  };
}

const modules: ReadonlyArray<FactModule<unknown>> = [
  systemFacts,
  cpuFacts,
  memoryFacts,
  nicFacts,
  requestedFacts,
];

/** The probe script for a merged request. Read-only: it changes nothing on the host. */
export function probeScript(request: Required<ProbeRequest>): string {
  const body = modules.map((m) => `echo '${MARK} ${m.name}'\n( ${m.snippet(request)}\n) 2>/dev/null`);
  return [
    'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH',
    't0=$(date +%s%N 2>/dev/null || echo 0)',
    ...body,
    `echo '${MARK} end'`,
    't1=$(date +%s%N 2>/dev/null || echo 0)',
    'echo "probe_ns $((t1 - t0))"',
  ].join('\n');
}

export function parseProbeOutput(stdout: string): Facts {
  const sections = new Map<string, string>();
  const parts = stdout.split(`${MARK} `);
  for (const part of parts.slice(1)) {
    const nl = part.indexOf('\n');
    const name = nl < 0 ? part.trim() : part.slice(0, nl).trim();
    sections.set(name, nl < 0 ? '' : part.slice(nl + 1));
  }
  for (const m of modules)
    if (!sections.has(m.name))
      throw new Error(`probe output lacks the ${m.name} section (was the probe cut short?)`);
  const ns = /probe_ns (\d+)/.exec(sections.get('end') ?? '');
  const sys = systemFacts.parse(sections.get('system') ?? '');
  return {
    ...sys,
    cpu: cpuFacts.parse(sections.get('cpu') ?? ''),
    ...memoryFacts.parse(sections.get('memory') ?? ''),
    nics: nicFacts.parse(sections.get('nics') ?? ''),
    ...requestedFacts.parse(sections.get('requested') ?? ''),
    probeMs: ns ? Math.round(Number(ns[1]) / 1e6) : 0,
  };
}

/**
 * Facts after a re-probe of part of the request (one task's, after that task ran): the fixed sections
 * (system, cpu, memory, nics, /proc/modules, nofile) are all fresh; of the requested ones, the items
 * this request named are fresh and every other item keeps its earlier value. A module the request did
 * not name keeps its earlier parameters while /proc/modules still lists it, and a built-in one (no
 * /proc/modules line) stays as it was.
 */
export function overlayFacts(previous: Facts, fresh: Facts, request: Required<ProbeRequest>): Facts {
  const asked = new Set(request.modules.map((m) => m.replace(/-/g, '_')));
  const seen = new Set(fresh.modules.map((m) => m.name));
  const before = new Map(previous.modules.map((m) => [m.name, m]));
  const modules = [
    ...fresh.modules.map((m) => {
      const old = before.get(m.name);
      return !asked.has(m.name) && old && Object.keys(m.params).length === 0 && !m.builtin
        ? { ...m, params: old.params }
        : m;
    }),
    ...previous.modules.filter((m) => m.builtin && !asked.has(m.name) && !seen.has(m.name)),
  ];
  return {
    ...fresh,
    modules,
    modulesAvailable: [
      ...new Set([
        ...previous.modulesAvailable.filter((m) => !request.modules.includes(m)),
        ...fresh.modulesAvailable,
      ]),
    ],
    commands: { ...previous.commands, ...fresh.commands },
    packages: { ...previous.packages, ...fresh.packages },
    files: { ...previous.files, ...fresh.files },
    diskFreeMb: { ...previous.diskFreeMb, ...fresh.diskFreeMb },
    services: { ...previous.services, ...fresh.services },
    outputs: { ...previous.outputs, ...fresh.outputs },
    processes: { ...previous.processes, ...fresh.processes },
  };
}

/** Gather facts from one host: one exec. */
export async function probeHost(
  transport: Transport,
  request: Required<ProbeRequest>,
  timeoutMs = 300_000,
): Promise<Facts> {
  const script = probeScript(request);
  const r = await transport.exec('sh -s', { stdin: script, timeoutMs });
  if (r.code !== 0 || !r.stdout.includes(`${MARK} end`))
    throw new CommandError(
      transport.name,
      'probe (sh -s)',
      r.code,
      r.stdout,
      r.stderr,
      `${transport.name}: fact probe failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`,
    );
  return parseProbeOutput(r.stdout);
}
