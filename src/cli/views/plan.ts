/**
 * The plan view: each host's changes (with diffs and full commands, wrapped, never cut), its preflight
 * findings, and the one-line summary. It prints what the planner produced and decides nothing.
 */
import type { ResolvedHost } from '../../inventory/types.js';
import { blockingChecks, type Change, type CheckResult, type HostPlan } from '../../plan/change.js';
import { unifiedFileDiff } from '../../plan/diff.js';
import { planTotals } from '../../plan/totals.js';
import type { Style } from './style.js';

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
