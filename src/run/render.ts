/**
 * Human rendering of facts, plans and results. The renderer decides nothing: it prints what the
 * planner and the executor produced. Colour only when the output is a TTY and NO_COLOR is unset.
 */
import type { Facts } from '../facts/types.js';
import type { ResolvedHost } from '../inventory/types.js';
import type { Change, CheckResult, HostPlan } from '../plan/change.js';
import { unifiedFileDiff } from '../plan/diff.js';
import type { HostResult } from './engine.js';

export interface Style {
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  cyan(s: string): string;
}

export function makeStyle(color: boolean): Style {
  const w = (code: number) => (s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { bold: w(1), red: w(31), green: w(32), yellow: w(33), dim: w(2), cyan: w(36) };
}

export function colorWanted(stream: { isTTY?: boolean }): boolean {
  return !!stream.isTTY && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb';
}

const SYMBOL: Record<Change['action'], string> = { create: '+', update: '~', delete: '-', run: '>' };

function changeDiff(c: Change): string | null {
  if (c.diff) return c.diff;
  const write = c.steps.find((s) => s.kind === 'write');
  if (write && write.kind === 'write' && c.after !== undefined)
    return unifiedFileDiff(write.path, c.action === 'create' && !c.before ? null : (c.before ?? ''), c.after);
  return null;
}

export function renderCheck(c: CheckResult, host: string, st: Style): string {
  const tag = c.waived
    ? st.dim('WAIVED ')
    : c.severity === 'error'
      ? st.red('ERROR  ')
      : st.yellow('WARN   ');
  const lines = [
    `${tag}${st.bold(c.id)} ${host}: ${c.title}`,
    `         found:    ${c.found}`,
    `         expected: ${c.expected}`,
    `         fix:      ${c.fix}`,
  ];
  if (c.waived) lines.push(`         waived:   ${c.waived}`);
  return lines.join('\n');
}

export interface PlanRenderOptions {
  diffs: boolean;
  style: Style;
}

export function renderHostPlan(p: HostPlan, host: ResolvedHost | undefined, o: PlanRenderOptions): string {
  const st = o.style;
  const head = `${st.bold(p.host)}${host ? st.dim(` (${host.address})`) : ''}`;
  if (p.error) return `${head}: ${st.red('cannot plan')}: ${p.error}`;
  const out: string[] = [];
  const blocking = p.checks.filter((c) => c.severity === 'error' && !c.waived);
  const noteworthy = p.checks.filter((c) => c.severity === 'warning' || c.waived || c.severity === 'error');
  out.push(
    `${head}: ${p.changes.length ? st.yellow(`${p.changes.length} change(s)`) : st.green('no changes')}` +
      (blocking.length ? st.red(`, blocked by ${blocking.length} preflight error(s)`) : ''),
  );
  for (const c of noteworthy) out.push(indent(renderCheck(c, p.host, st), 2));
  for (const d of p.drift ?? []) out.push(`  ${st.yellow('?')} ${d}`);
  for (const c of p.changes) {
    const flags = [c.disruptive ? st.red('disruptive') : '', c.reversible ? st.dim('reversible') : '']
      .filter(Boolean)
      .join(' ');
    out.push(`  ${SYMBOL[c.action]} ${st.cyan(c.task.padEnd(14))} ${c.summary}${flags ? `  ${flags}` : ''}`);
    const d = o.diffs ? changeDiff(c) : null;
    if (d) out.push(indent(colorDiff(d, st), 6));
    else if (o.diffs)
      for (const s of c.steps)
        if (s.kind === 'exec')
          out.push(st.dim(`      $ ${s.command.length > 300 ? s.command.slice(0, 300) + '…' : s.command}`));
  }
  return out.join('\n');
}

function colorDiff(d: string, st: Style): string {
  return d
    .split('\n')
    .map((l) =>
      l.startsWith('+') && !l.startsWith('+++')
        ? st.green(l)
        : l.startsWith('-') && !l.startsWith('---')
          ? st.red(l)
          : l,
    )
    .join('\n');
}

function indent(s: string, n: number): string {
  const pad = ' '.repeat(n);
  return s
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

export function planTotals(plans: ReadonlyArray<HostPlan>): {
  changes: number;
  hostsWithChanges: number;
  errors: number;
  blocked: number;
  /** unmanaged objects found (reported, not changed) */
  drift: number;
} {
  return {
    drift: plans.reduce((n, p) => n + (p.drift?.length ?? 0), 0),
    changes: plans.reduce((n, p) => n + p.changes.length, 0),
    hostsWithChanges: plans.filter((p) => p.changes.length > 0).length,
    errors: plans.filter((p) => p.error).length,
    blocked: plans.filter((p) => p.checks.some((c) => c.severity === 'error' && !c.waived)).length,
  };
}

export function renderPlanSummary(plans: ReadonlyArray<HostPlan>, st: Style): string {
  const t = planTotals(plans);
  const parts = [
    t.changes
      ? st.yellow(`${t.changes} change(s) on ${t.hostsWithChanges} host(s)`)
      : st.green('No changes.'),
    `${plans.length - t.hostsWithChanges - t.errors} host(s) in sync`,
  ];
  if (t.drift) parts.push(st.yellow(`${t.drift} unmanaged object(s) left alone`));
  if (t.blocked) parts.push(st.red(`${t.blocked} host(s) blocked by preflight`));
  if (t.errors) parts.push(st.red(`${t.errors} host(s) could not be planned`));
  return `Plan: ${parts.join(', ')}.`;
}

export function renderResults(results: ReadonlyArray<HostResult>, st: Style): string {
  const width = Math.max(4, ...results.map((r) => r.host.length));
  const lines = results.map((r) => {
    const status =
      r.status === 'ok'
        ? st.green('ok')
        : r.status === 'changed'
          ? st.yellow('changed')
          : r.status === 'skipped'
            ? st.dim('skipped')
            : st.red(r.status);
    const [head, ...rest] = r.error ? r.error.trimEnd().split('\n') : [];
    const first = head ? `  ${head}` : '';
    // a failure's own words (the command's last output lines) under its host, not only in the transcript
    const why =
      r.status === 'failed'
        ? rest
            .slice(-15)
            .map((l) => `\n      ${st.dim(l)}`)
            .join('')
        : '';
    return `  ${r.host.padEnd(width)}  ${status.padEnd(10)} changes=${r.changed}${first}${why}`;
  });
  const count = (s: string) => results.filter((r) => r.status === s).length;
  const bad = results.filter((r) => ['failed', 'unreachable', 'blocked'].includes(r.status)).length;
  lines.push(
    `Summary: ${results.length} host(s): ${count('ok')} ok, ${count('changed')} changed, ${bad} failed (${count('unreachable')} unreachable, ${count('blocked')} blocked), ${count('skipped')} skipped.`,
  );
  return lines.join('\n');
}

export function renderStats(
  results: ReadonlyArray<{ host: string; connections: number; execs: number }>,
): string {
  const lines = results.map(
    (r) => `  ${r.host}: ${r.connections} SSH connection(s), ${r.execs} exec round trip(s)`,
  );
  const maxC = Math.max(0, ...results.map((r) => r.connections));
  const maxE = Math.max(0, ...results.map((r) => r.execs));
  return [`Stats (per host):`, ...lines, `  max per host: ${maxC} connection(s), ${maxE} exec(s)`].join('\n');
}

function kb(n: number): string {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} GiB` : `${Math.round(n / 1024)} MiB`;
}

export function renderFacts(host: ResolvedHost, f: Facts, st: Style): string {
  const o: string[] = [];
  o.push(
    `${st.bold(host.name)} ${st.dim(`(${host.address})`)} hostname=${f.hostname} os=${f.os.prettyName} kernel=${f.kernel.release} (${f.kernel.machine}) headers=${f.kernel.headersInstalled ? 'yes' : 'no'}`,
  );
  o.push(
    `  cpu: ${f.cpu.model || '?'}; ${f.cpu.online.length} online, ${f.cpu.sockets} socket(s), ${f.cpu.threadsPerCore} thread(s)/core, SMT ${f.cpu.smtActive ? st.yellow('active') : 'off'}; sse4_2 ${f.cpu.flags.includes('sse4_2') ? 'yes' : st.red('no')}`,
  );
  o.push(
    `  memory: ${kb(f.memory.totalKb)} total, ${kb(f.memory.freeKb)} free; iommu groups ${f.kernel.iommuGroups}; lockdown ${f.kernel.lockdown}`,
  );
  o.push('  NUMA  CPUs                    memory (free)            hugepages (total/free per size)');
  for (const n of f.numa) {
    const hp = n.hugepages.map((h) => `${h.sizeKb >= 1048576 ? '1G' : '2M'} ${h.total}/${h.free}`).join(', ');
    o.push(
      `  ${String(n.id).padEnd(5)} ${compressCpus(n.cpus).padEnd(23)} ${`${kb(n.memTotalKb)} (${kb(n.memFreeKb)})`.padEnd(24)} ${hp}`,
    );
  }
  const mounts = f.mounts.map(
    (m) => `${m.target} (${m.options.split(',').find((x) => x.startsWith('pagesize')) ?? 'default'})`,
  );
  o.push(`  hugetlbfs: ${mounts.length ? mounts.join(', ') : 'none mounted'}`);
  o.push(
    '  NICs  PCI           id         driver            node  if          MAC                link   notes',
  );
  for (const n of f.nics) {
    const notes = [
      n.carriesSsh ? st.yellow('carries SSH') : '',
      n.defaultRoute ? 'default route' : '',
      n.driverOverride ? `override=${n.driverOverride}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    o.push(
      `        ${n.pci}  ${`${n.vendorId}:${n.deviceId}`.padEnd(10)} ${(n.driver ?? '(none)').padEnd(17)} ${String(n.numaNode).padEnd(5)} ${(n.ifname ?? '-').padEnd(11)} ${(n.mac ?? '-').padEnd(18)} ${(n.operstate ?? '-').padEnd(6)} ${notes}`,
    );
  }
  return o.join('\n');
}

export function compressCpus(cpus: ReadonlyArray<number>): string {
  const s = [...cpus].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && (s[j + 1] as number) === (s[j] as number) + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
