/**
 * Human rendering of facts, plans and results. The renderer decides nothing: it prints what the
 * planner and the executor produced. Colour only when the output is a TTY and NO_COLOR is unset.
 */
import type { Facts } from '../facts/types.js';
import type { ResolvedHost } from '../inventory/types.js';
import { blockingChecks, type Change, type CheckResult, type HostPlan } from '../plan/change.js';
import { unifiedFileDiff } from '../plan/diff.js';
import type { HostResult } from './apply.js';

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
  const blocking = blockingChecks(p.checks);
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
        if (s.kind === 'exec') out.push(st.dim(indent(`$ ${wrapCommand(s.command, COMMAND_WIDTH)}`, 6)));
  }
  return out.join('\n');
}

/** Plan lines wrap commands at about this many characters. */
export const COMMAND_WIDTH = 110;

/**
 * A command in full, wrapped for reading: long lines break at a space outside quotes with a shell
 * line continuation (` \\`), so the wrapped text is still the same command. A line with no such
 * space stays long; nothing is ever cut.
 */
export function wrapCommand(command: string, width: number): string {
  const out: string[] = [];
  let quote: string | null = null;
  for (const line of command.split('\n')) {
    let rest = line;
    let q = quote;
    for (;;) {
      if (rest.length <= width) break;
      // the last space outside quotes at or before `width` (else the first one after it)
      let cut = -1;
      let state = q;
      const lead = rest.length - rest.trimStart().length;
      for (let i = lead; i < rest.length; i++) {
        const c = rest[i];
        if (state === null && c === '\\') {
          i++;
          continue;
        }
        if (state === null && (c === "'" || c === '"')) state = c;
        else if (state !== null && c === state) state = null;
        else if (state === '"' && c === '\\') i++;
        else if (state === null && c === ' ' && i > lead) {
          if (i <= width || cut < 0) cut = i;
          if (i > width) break;
        }
      }
      if (cut < 0) break;
      out.push(`${rest.slice(0, cut)} \\`);
      // the quote state at the cut, for the next piece
      q = quoteStateAfter(rest.slice(0, cut), q);
      rest = `  ${rest.slice(cut + 1)}`;
    }
    out.push(rest);
    quote = quoteStateAfter(rest, q);
  }
  return out.join('\n');
}

function quoteStateAfter(text: string, start: string | null): string | null {
  let state = start;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (state === null && c === '\\') i++;
    else if (state === null && (c === "'" || c === '"')) state = c;
    else if (state !== null && c === state) state = null;
    else if (state === '"' && c === '\\') i++;
  }
  return state;
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

/** How a host came out of planning; each host is in exactly one state. */
export type PlanState = 'unreachable' | 'failed' | 'blocked' | 'changes' | 'in-sync';

export function planState(p: HostPlan): PlanState {
  switch (p.status) {
    case 'unreachable':
      return 'unreachable';
    case 'stale':
    case 'error':
      return 'failed';
    case 'blocked':
      return 'blocked';
    case 'planned':
      return p.changes.length ? 'changes' : 'in-sync';
  }
}

export interface PlanTotals {
  /** every change planned, blocked hosts' included */
  changes: number;
  /** changes on hosts that can be applied (not blocked) */
  applicable: number;
  /** hosts with changes that are not blocked */
  hostsWithChanges: number;
  /** hosts planned, not blocked, with no change */
  inSync: number;
  /** hosts blocked by a preflight error */
  blocked: number;
  /** changes planned on blocked hosts (not applied) */
  heldBack: number;
  /** hosts that could not be connected to or probed */
  unreachable: number;
  /** hosts reached but not planned (a planner's error) */
  failed: number;
  /** unreachable + failed */
  errors: number;
  /** unmanaged objects found (reported, not changed) */
  drift: number;
  /** every host was planned and none is blocked */
  complete: boolean;
}

export function planTotals(plans: ReadonlyArray<HostPlan>): PlanTotals {
  const n = (s: PlanState) => plans.filter((p) => planState(p) === s).length;
  const changesOn = (pred: (p: HostPlan) => boolean) =>
    plans.filter(pred).reduce((k, p) => k + p.changes.length, 0);
  const blocked = n('blocked');
  const unreachable = n('unreachable');
  const failed = n('failed');
  return {
    drift: plans.reduce((k, p) => k + (p.drift?.length ?? 0), 0),
    changes: changesOn(() => true),
    applicable: changesOn((p) => planState(p) === 'changes'),
    hostsWithChanges: n('changes'),
    inSync: n('in-sync'),
    blocked,
    heldBack: changesOn((p) => planState(p) === 'blocked'),
    unreachable,
    failed,
    errors: unreachable + failed,
    complete: blocked + unreachable + failed === 0,
  };
}

/**
 * `Plan: ...` in one line. "No changes." (green) only when every host was planned and none has a
 * change; otherwise each kind of host is counted apart and an incomplete plan says so, in red.
 */
export function renderPlanSummary(plans: ReadonlyArray<HostPlan>, st: Style): string {
  const t = planTotals(plans);
  const parts = [
    t.applicable
      ? st.yellow(`${t.applicable} change(s) on ${t.hostsWithChanges} host(s)`)
      : t.complete
        ? st.green('No changes.')
        : st.red('no change can be applied'),
    `${t.inSync} host(s) in sync`,
  ];
  if (t.drift) parts.push(st.yellow(`${t.drift} unmanaged object(s) left alone`));
  if (t.blocked)
    parts.push(
      st.red(
        `${t.blocked} host(s) blocked by preflight${t.heldBack ? ` (${t.heldBack} change(s) held back)` : ''}`,
      ),
    );
  if (t.unreachable) parts.push(st.red(`${t.unreachable} host(s) unreachable`));
  if (t.failed) parts.push(st.red(`${t.failed} host(s) could not be planned`));
  return `${t.complete ? 'Plan' : st.red('Plan incomplete')}: ${parts.join(', ')}.`;
}

/** A host's result is a failure the operator must act on (stderr), not a result to read (stdout). */
export function isFailure(r: Pick<HostResult, 'status'>): boolean {
  return (
    r.status === 'failed' || r.status === 'unreachable' || r.status === 'blocked' || r.status === 'stale'
  );
}

/** One host's line of the results table (a failure with the last lines of its output under it). */
export function renderResultLine(r: HostResult, width: number, st: Style): string {
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
}

export function resultsWidth(results: ReadonlyArray<HostResult>): number {
  return Math.max(4, ...results.map((r) => r.host.length));
}

export function renderResultsSummary(results: ReadonlyArray<HostResult>): string {
  const count = (s: string) => results.filter((r) => r.status === s).length;
  const bad = results.filter(isFailure).length;
  return `Summary: ${results.length} host(s): ${count('ok')} ok, ${count('changed')} changed, ${bad} failed (${count('unreachable')} unreachable, ${count('blocked')} blocked), ${count('skipped')} skipped.`;
}

export function renderResults(results: ReadonlyArray<HostResult>, st: Style): string {
  const width = resultsWidth(results);
  return [...results.map((r) => renderResultLine(r, width, st)), renderResultsSummary(results)].join('\n');
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
