/** The results view of apply and rollback: a line per host (failures with their output), the summary, stats. */
import type { HostResult } from '../../run/apply.js';
import type { Style } from './style.js';

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
