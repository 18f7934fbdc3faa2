/**
 * sudo wrapping for non-root logins. The command always runs as `sh -c <quoted command>` under sudo:
 *   - no password (NOPASSWD, or root):   sudo -n -- sh -c '...'
 *   - with sudo_password:                 sudo -k -S -p '' -- sh -c '...'
 * With a password, `-k` makes sudo ignore cached credentials so it always reads exactly one line (the
 * password) from stdin before the command's own input; `-p ''` prints no prompt. The password goes only
 * to stdin: never into the command line, never into transcripts.
 */
import { quote } from './quote.js';

export type SudoMode = 'none' | 'nopasswd' | 'password';

/** The command line actually sent for `command` under `mode`. */
export function wrapCommand(command: string, mode: SudoMode): string {
  if (mode === 'none') return command;
  if (mode === 'nopasswd') return `sudo -n -- sh -c ${quote(command)}`;
  return `sudo -k -S -p '' -- sh -c ${quote(command)}`;
}

/** Bytes sent on stdin: the password line first (password mode), then the command's own input. */
export function stdinFor(
  mode: SudoMode,
  password: string | undefined,
  input: string | Buffer | undefined,
): Buffer[] {
  const parts: Buffer[] = [];
  if (mode === 'password' && password !== undefined) parts.push(Buffer.from(password + '\n'));
  if (input !== undefined) parts.push(typeof input === 'string' ? Buffer.from(input) : input);
  return parts;
}

/** The probe run once per connection when a password is configured: succeeds only without a password. */
export const SUDO_PROBE = 'sudo -k -n true';

/**
 * When sudo itself (not the command) failed, a message telling the user what to do; undefined otherwise.
 * Only exit statuses sudo uses for its own failures are considered (1; 127 when sudo is missing).
 */
export function sudoFailure(code: number | null, stderr: string, user: string): string | undefined {
  if (code === 127 && /(^|\s)sudo: (command )?not found|sudo: not found/m.test(stderr)) {
    return 'sudo is not installed on the host; install it or log in as root (ssh.user: root, ssh.sudo: false)';
  }
  if (code !== 1) return undefined;
  if (/^sudo: (a password is required|a terminal is required|no tty present)/m.test(stderr)) {
    return (
      `sudo needs a password for user ${user}: configure NOPASSWD for ${user} in sudoers ` +
      `(e.g. "${user} ALL=(ALL) NOPASSWD: ALL") or set ssh.sudo_password in the inventory`
    );
  }
  if (/^sudo: .*incorrect password attempt|^Sorry, try again\./m.test(stderr)) {
    return `sudo rejected the configured sudo_password for user ${user}`;
  }
  if (/^sudo: .*(is not in the sudoers file|is not allowed to execute|may not run sudo)/m.test(stderr)) {
    return `user ${user} may not run commands as root with sudo; grant it in sudoers or use another ssh.user`;
  }
  if (/^sudo: .*(account validation failure|unable to|PAM)/m.test(stderr)) {
    return `sudo failed for user ${user}: ${stderr.trim().split('\n')[0] ?? ''}`;
  }
  return undefined;
}

/**
 * Make a command stop by itself on the host shortly after the client gives up on it: OpenSSH refuses
 * the SSH "signal" request for root logins ("session signalling requires privilege separation"), and
 * closing the channel does not stop a running command. GNU `timeout` kills the command's whole process
 * group (TERM, then KILL after 2 s). Hosts without `timeout` run the command unchanged.
 */
export function timeboxCommand(command: string, timeoutMs: number): string {
  const secs = Math.ceil(timeoutMs / 1000) + 1;
  const q = quote(command);
  return `if command -v timeout >/dev/null 2>&1; then exec timeout -k 2 ${secs} sh -c ${q}; else exec sh -c ${q}; fi`;
}
