/**
 * Errors a user can act on. The CLI prints their message (never a stack trace, unless --debug) and
 * exits with `exitCode`.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** One positioned problem in an input file: `FILE:LINE:COL: PATH: message`. */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** Document path, e.g. hosts.lb1.nics[0].match.pci */
  path: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.path || '(document)'}: ${d.message}`;
}

export class InventoryError extends UserError {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'), 1);
    this.name = 'InventoryError';
  }
}

/** A command on a host failed. Carries the command, its exit code and output (execa style). */
export class CommandError extends Error {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
    message?: string,
  ) {
    super(
      message ??
        `${host}: ${headline(command, code, stdout, stderr)}` +
          (stderr.trim() ? `\n${lastLines(stderr, 15)}` : stdout.trim() ? `\n${lastLines(stdout, 15)}` : ''),
    );
    this.name = 'CommandError';
  }
}

/** The line a command prints to name why it failed (src/tasks/cause.ts writes them). */
export const CAUSE_LINE = /^cause: (.+)$/m;

/** The first `cause: ...` line of stderr, else of stdout; null when the command printed none. */
export function causeOf(stdout: string, stderr: string): string | null {
  const m = CAUSE_LINE.exec(stderr) ?? CAUSE_LINE.exec(stdout);
  return m ? (m[1] as string).trim() : null;
}

/**
 * A failed command's headline: the cause it printed, then the command; or only the command
 * ("command failed (exit N): ...") when it printed none.
 */
export function headline(command: string, code: number | null, stdout: string, stderr: string): string {
  const failed = `command failed (exit ${code ?? 'signal'}): ${commandHead(command)}`;
  const cause = causeOf(stdout, stderr);
  return cause ? `${cause} (${failed})` : failed;
}

/** A command as one short line for an error: its first line, at most 200 characters. */
export function commandHead(command: string): string {
  const lines = command.trim().split('\n');
  const first = lines[0] ?? '';
  const more = lines.length > 1 || first.length > 200;
  return first.slice(0, 200) + (more ? ' …' : '');
}

export function lastLines(text: string, n: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}
