/**
 * The probe: every fact module's snippet in ONE script, run with ONE exec per host, parsed into one
 * typed Facts document. No fact is read twice.
 */
import { randomBytes } from 'node:crypto';
import type { Transport } from '../transport/types.js';
import { CommandError } from '../errors.js';
import { cpuFacts } from './cpu.js';
import { memoryFacts } from './memory.js';
import { nicFacts } from './nics.js';
import { requestedFacts } from './requested.js';
import type { BlobPart, FactModule, ParseContext } from './section.js';
import { systemFacts } from './system.js';
import type { Exec, Facts, Listing, ProbeRequest } from './types.js';

const MARK = '@@dpvs-deploy-section@@';

export function mergeRequests(requests: ReadonlyArray<ProbeRequest>): Required<ProbeRequest> {
  const uniq = (xs: Array<string | undefined>): string[] =>
    [...new Set(xs.filter((x): x is string => !!x))].sort();
  const all = <K extends keyof ProbeRequest>(k: K) =>
    requests.flatMap((r) => (r[k] as string[] | undefined) ?? []);
  const execs: Record<string, string[] | Exec> = {};
  const hashes: Record<string, string[]> = {};
  const listings: Record<string, Listing> = {};
  const texts: Record<string, string> = {};
  for (const r of requests) {
    Object.assign(texts, r.texts ?? {});
    Object.assign(listings, r.listings ?? {});
    Object.assign(execs, r.execs ?? {});
    Object.assign(hashes, r.hashes ?? {});
  }
  const files = uniq(all('files'));
  const asFile = new Set(files);
  return {
    files,
    digests: uniq(all('digests')).filter((p) => !asFile.has(p)),
    present: uniq(all('present')),
    commands: uniq(all('commands')),
    packages: uniq(all('packages')),
    modules: uniq(all('modules')),
    diskPaths: uniq(all('diskPaths')),
    services: uniq(all('services')),
    processes: uniq(all('processes')),
    execs,
    hashes,
    listings,
    texts,
  };
}

const modules: ReadonlyArray<FactModule<unknown>> = [
  systemFacts,
  cpuFacts,
  memoryFacts,
  nicFacts,
  requestedFacts,
];

/** The shell function a module's snippet runs in: its `set --` stays its own. */
function fn(m: FactModule<unknown>): string {
  return `f_${m.name}`;
}

/**
 * The probe script for a merged request. Read-only: it changes nothing on the host. Every module's
 * snippet runs in this one shell; then ONE grep reads every small file any module named, and ONE
 * base64 encodes every file content and command output (framed by a random nonce, so no content can
 * pose as a frame). The start and end times come from /proc/uptime (no `date` process).
 */
export function probeScript(
  request: Required<ProbeRequest>,
  nonce = randomBytes(16).toString('hex'),
): string {
  const reads = modules.flatMap((m) => m.reads?.(request) ?? []);
  const blob = modules
    .map((m) => m.blob?.(request) ?? '')
    .join('\n')
    .trim();
  return [
    'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH',
    't0=; read -r t0 _ < /proc/uptime',
    `N=${nonce}`,
    // the request, so that the output alone can be parsed (bench, saved outputs); no process
    `echo '${MARK} request'`,
    `echo '${Buffer.from(JSON.stringify(request)).toString('base64')}'`,
    'cd /',
    ...modules.map((m) => `${fn(m)}() {\n:\n${m.snippet(request).trim()}\n}`),
    ...modules.map((m) => `echo '${MARK} ${m.name}'\n${fn(m)} 2>/dev/null </dev/null`),
    `echo '${MARK} reads'`,
    `grep -aHs --null '' -- ${reads.join(' ')} </dev/null`,
    `echo '${MARK} blob'`,
    'echo "$N"',
    ...(blob ? [`{\n${blob}\n} 2>/dev/null </dev/null | base64`] : []),
    `echo '${MARK} end'`,
    't1=; read -r t1 _ < /proc/uptime',
    'echo "probe_up $t0 $t1"',
  ].join('\n');
}

/** The shared read: "PATH\0LINE" per line of every file, into path -> lines. */
function parseReads(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const z = line.indexOf('\0');
    if (z < 0) continue;
    const p = line.slice(0, z);
    const lines = out.get(p);
    if (lines) lines.push(line.slice(z + 1));
    else out.set(p, [line.slice(z + 1)]);
  }
  return out;
}

/** The blob: its nonce line, then base64 of "N begin KEY\n" BYTES "\nN end CODE\n" parts. */
function parseBlob(text: string): Map<string, BlobPart> {
  const nl = text.indexOf('\n');
  const nonce = (nl < 0 ? text : text.slice(0, nl)).trim();
  const out = new Map<string, BlobPart>();
  if (!/^[0-9a-f]{16,}$/.test(nonce)) return out;
  const buf = Buffer.from(nl < 0 ? '' : text.slice(nl + 1).replace(/\s+/g, ''), 'base64');
  const begin = Buffer.from(`${nonce} begin `);
  const end = Buffer.from(`\n${nonce} end `);
  let pos = 0;
  for (;;) {
    const b = buf.indexOf(begin, pos);
    if (b < 0) break;
    const keyEnd = buf.indexOf('\n', b + begin.length);
    if (keyEnd < 0) break;
    const key = buf.subarray(b + begin.length, keyEnd).toString('utf8');
    const e = buf.indexOf(end, keyEnd + 1);
    if (e < 0) break;
    const codeEnd = buf.indexOf('\n', e + end.length);
    const code = Number.parseInt(
      buf.subarray(e + end.length, codeEnd < 0 ? undefined : codeEnd).toString(),
      10,
    );
    out.set(key, { bytes: buf.subarray(keyEnd + 1, e), code: Number.isFinite(code) ? code : 0 });
    pos = codeEnd < 0 ? buf.length : codeEnd + 1;
  }
  return out;
}

function embeddedRequest(text: string | undefined): Required<ProbeRequest> {
  try {
    return mergeRequests([JSON.parse(Buffer.from(text ?? '', 'base64').toString('utf8')) as ProbeRequest]);
  } catch {
    return mergeRequests([]);
  }
}

export function parseProbeOutput(stdout: string, request?: Required<ProbeRequest>): Facts {
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
  const ctx: ParseContext = {
    request: request ?? embeddedRequest(sections.get('request')),
    release: '',
    reads: parseReads(sections.get('reads') ?? ''),
    blob: parseBlob(sections.get('blob') ?? ''),
  };
  const run = <T>(m: FactModule<T>): T => {
    const v = m.parse(sections.get(m.name) ?? '', ctx);
    return m.schema ? m.schema.parse(v) : v;
  };
  const system = run(systemFacts);
  ctx.release = system.kernel.release;
  const up = /probe_up ([0-9.]+) ([0-9.]+)/.exec(sections.get('end') ?? '');
  return {
    ...system,
    cpu: run(cpuFacts),
    ...run(memoryFacts),
    nics: run(nicFacts),
    ...run(requestedFacts),
    probeMs: up ? Math.max(0, Math.round((Number(up[2]) - Number(up[1])) * 1000)) : 0,
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
  return parseProbeOutput(r.stdout, request);
}
