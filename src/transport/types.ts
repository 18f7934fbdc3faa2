/**
 * The transport contract: how the engine talks to one host. Implementations: ssh.ts (ssh2, one
 * connection per host for the whole run, parallel channels on it) and local.ts (execa, control machine);
 * closed.ts is what is left of one released after its probe (plan, verify, facts).
 *
 * Every command is a POSIX sh string built with `sh` / `quote` from ./quote.ts; nothing from the
 * inventory is interpolated raw.
 */
export interface ExecOptions {
  /** Kill the command and reject with a TimeoutError after this long. */
  timeoutMs?: number;
  /** Bytes written to the command's stdin, then stdin is closed. */
  stdin?: string | Buffer;
  /** Called with output as it arrives (for transcripts of long builds). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: string) => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when killed by a signal. */
  code: number | null;
  signal?: string;
  durationMs: number;
}

export interface PutOptions {
  /** File mode, e.g. 0o644. Always set explicitly. */
  mode: number;
  /** owner[:group] applied after the write. */
  owner?: string;
  /** Keep the previous file as PATH.dpvs-deploy.bak (default true). */
  keepPrevious?: boolean;
}

export interface TransportStats {
  connections: number;
  execs: number;
  uploads: number;
}

export interface Transport {
  /** Inventory name of the host. */
  readonly name: string;
  /** Run a shell command (through sudo when configured). Resolves with a non-zero code; rejects only on transport failure or timeout. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Write a file atomically: temp file in the same directory, fsync, chmod/chown, rename; previous kept. */
  put(remotePath: string, content: string | Buffer, options: PutOptions): Promise<void>;
  /** Read a whole remote file. */
  get(remotePath: string): Promise<Buffer>;
  close(): Promise<void>;
  readonly stats: TransportStats;
}

/** Transport-level failures, each with a message that says what to do. */
export type TransportErrorKind =
  | 'unreachable'
  | 'refused'
  | 'timeout'
  | 'auth'
  | 'host-key-mismatch'
  | 'host-key-unknown'
  | 'sudo'
  | 'disconnected'
  | 'sftp';

export class TransportError extends Error {
  constructor(
    readonly host: string,
    readonly kind: TransportErrorKind,
    message: string,
  ) {
    super(`${host}: ${message}`);
    this.name = 'TransportError';
  }
}
