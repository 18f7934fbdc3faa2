/**
 * The SSH transport: one ssh2 connection per host for the whole run, parallel exec channels on it.
 *
 * - Channels are limited to `maxSessions` (default 10, OpenSSH's MaxSessions default); more wait in a
 *   queue. If the server refuses a channel ("administratively prohibited": its MaxSessions is lower), the
 *   limit drops to what is open and the command is queued again.
 * - sudo (see ./sudo.ts): commands run as `sudo -n -- sh -c ...`, or with a password fed on stdin.
 * - put: without sudo, SFTP to a temp file in the target's directory, fsync, chmod, (chown), keep the
 *   previous file, posix-rename. With sudo, the content streams through one exec (./remote-put.ts).
 * - close(): ends every connection (jump hosts too) and destroys their sockets.
 */
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { quote } from './quote.js';
import { destroyClient } from './ssh-client.js';
import { BACKUP_SUFFIX, remotePutScript, remoteTempName } from './remote-put.js';
import { SUDO_PROBE, type SudoMode, sudoFailure, stdinFor, timeboxCommand, wrapCommand } from './sudo.js';
import { putEvent, putLabel, type TranscriptEvent } from './transcript.js';
import { commandHead } from '../errors.js';
import {
  type ExecOptions,
  type ExecResult,
  type PutOptions,
  type Transport,
  TransportError,
  type TransportStats,
} from './types.js';

export interface SshTransportOptions {
  /** Inventory name. */
  name: string;
  /** The login user on the target (for messages). */
  user: string;
  /** The connected, authenticated client for the target. */
  client: Client;
  /** Jump-host clients under it (closed after the target), outermost first. */
  jumpClients?: Client[];
  /** TCP/SSH connections opened so far (target + jump hosts). */
  connections: number;
  sudo: boolean;
  sudoPassword?: string;
  commandTimeoutMs?: number;
  maxSessions?: number;
  onTranscript?: (e: TranscriptEvent) => void;
}

interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  code: number | null;
  signal?: string;
  durationMs: number;
}

/**
 * Channel-open failure reasons a session limit shows up as: OpenSSH answers "open failed" with
 * SSH2_OPEN_CONNECT_FAILED (2) when MaxSessions is reached; others use ADMINISTRATIVELY_PROHIBITED (1).
 */
const SESSION_REFUSED_REASONS: ReadonlyArray<unknown> = [1, 2];

/**
 * Session slots on the connection. The limit starts at `max`; a refused channel lowers it to what is
 * open (the server's MaxSessions is lower, or a closing session was not freed yet), and it grows back by
 * one on a later release when nothing was refused for a while.
 */
class Slots {
  private active = 0;
  private limit: number;
  private lastRefusal = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly max: number) {
    this.limit = max;
  }
  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    if (this.limit < this.max && Date.now() - this.lastRefusal > 2000) this.limit++;
    this.active--;
    while (this.active < this.limit) {
      const next = this.waiters.shift();
      if (!next) break;
      this.active++;
      next();
    }
  }
  /** The server refused a channel (call after releasing the refused slot). */
  refused(): void {
    this.lastRefusal = Date.now();
    this.limit = Math.max(1, this.active);
  }
  get inUse(): number {
    return this.active;
  }
}

/** An exec channel and its exit status, recorded from the moment the channel opened. */
interface ExitStatus {
  seen: boolean;
  code: number | null;
  signal?: string;
}
interface OpenedExec {
  ch: ClientChannel;
  exit: ExitStatus;
}

export class SshTransport implements Transport {
  readonly name: string;
  private readonly client: Client;
  private readonly jumpClients: Client[];
  private readonly counters: TransportStats;
  private readonly slots: Slots;
  private sudoMode: SudoMode | undefined;
  private sudoModePending: Promise<SudoMode> | undefined;
  private closed = false;
  private closedReason: string | undefined;
  private readonly pending = new Set<(e: Error) => void>();

  constructor(private readonly o: SshTransportOptions) {
    this.name = o.name;
    this.client = o.client;
    this.jumpClients = o.jumpClients ?? [];
    this.counters = { connections: o.connections, execs: 0, uploads: 0 };
    this.slots = new Slots(Math.max(1, o.maxSessions ?? 10));
    this.sudoMode = o.sudo ? (o.sudoPassword === undefined ? 'nopasswd' : undefined) : 'none';
    const onGone = (why: string) => () => this.markClosed(why);
    this.client.on('close', onGone('the SSH connection closed'));
    this.client.on('error', (e: Error) => this.markClosed(`the SSH connection failed: ${e.message}`));
    for (const j of this.jumpClients) j.on('close', onGone('the jump host connection closed'));
  }

  get stats(): TransportStats {
    return { ...this.counters };
  }

  private markClosed(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closedReason = why;
    const err = new TransportError(
      this.name,
      'disconnected',
      `${why} while commands were running; re-run to retry`,
    );
    for (const reject of [...this.pending]) reject(err);
    this.pending.clear();
  }

  private redact(s: string): string {
    const pw = this.o.sudoPassword;
    return pw ? s.split(pw).join('********') : s;
  }

  private emit(e: Omit<TranscriptEvent, 'host'>): void {
    if (!this.o.onTranscript) return;
    this.o.onTranscript({
      ...e,
      host: this.name,
      command: this.redact(e.command),
      stdout: this.redact(e.stdout),
      stderr: this.redact(e.stderr),
    });
  }

  /** Decide, once, whether sudo needs the configured password (a NOPASSWD rule or root does not). */
  private async resolveSudoMode(): Promise<SudoMode> {
    if (this.sudoMode !== undefined) return this.sudoMode;
    this.sudoModePending ??= this.channel(SUDO_PROBE, [], { timeoutMs: 30_000 }, SUDO_PROBE).then((r) => {
      this.emit({
        kind: 'exec',
        command: SUDO_PROBE,
        sudo: false,
        stdout: r.stdout.toString(),
        stderr: r.stderr.toString(),
        code: r.code,
        durationMs: r.durationMs,
      });
      const mode: SudoMode = r.code === 0 ? 'nopasswd' : 'password';
      this.sudoMode = mode;
      return mode;
    });
    return this.sudoModePending;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.execRaw(command, options, 'exec');
    return {
      stdout: r.stdout.toString('utf8'),
      stderr: r.stderr.toString('utf8'),
      code: r.code,
      ...(r.signal !== undefined ? { signal: r.signal } : {}),
      durationMs: r.durationMs,
    };
  }

  /** Run `command` (through sudo when configured); reject on sudo failure, timeout or disconnect. */
  private async execRaw(
    command: string,
    options: ExecOptions,
    kind: TranscriptEvent['kind'],
    label = command,
  ): Promise<RawResult> {
    const mode = await this.resolveSudoMode();
    const timeoutMs = options.timeoutMs ?? this.o.commandTimeoutMs;
    const wire = wrapCommand(
      timeoutMs !== undefined && timeoutMs > 0 ? timeboxCommand(command, timeoutMs) : command,
      mode,
    );
    const stdin = stdinFor(mode, this.o.sudoPassword, options.stdin);
    let r: RawResult;
    try {
      r = await this.channel(wire, stdin, options, label);
    } catch (e) {
      if (e instanceof TransportError && e.kind === 'timeout') {
        this.emit({
          kind,
          command: label,
          sudo: mode !== 'none',
          stdout: '',
          stderr: '',
          code: null,
          durationMs: 0,
          error: e.message,
        });
      }
      throw e;
    }
    const stdout = r.stdout.toString('utf8');
    const stderr = r.stderr.toString('utf8');
    this.emit({
      kind,
      command: label,
      sudo: mode !== 'none',
      stdout: kind === 'get' ? `(${r.stdout.length} bytes)` : stdout,
      stderr,
      code: r.code,
      ...(r.signal !== undefined ? { signal: r.signal } : {}),
      durationMs: r.durationMs,
    });
    if (mode !== 'none') {
      const why = sudoFailure(r.code, stderr, this.o.user);
      if (why) throw new TransportError(this.name, 'sudo', why);
    }
    return r;
  }

  /** Open one exec channel (waiting for a free session slot) and collect its output. */
  private async channel(
    wire: string,
    stdin: Buffer[],
    options: ExecOptions,
    label: string,
  ): Promise<RawResult> {
    for (;;) {
      this.assertOpen();
      await this.slots.acquire();
      let opened: OpenedExec;
      const start = Date.now();
      const timeoutMs = options.timeoutMs ?? this.o.commandTimeoutMs;
      try {
        opened = await this.openExec(wire, timeoutMs, label);
      } catch (e) {
        this.slots.release();
        if (e instanceof TransportError) throw e;
        const reason = (e as { reason?: unknown }).reason;
        if (SESSION_REFUSED_REASONS.includes(reason) && this.slots.inUse > 0) {
          this.slots.refused();
          continue;
        }
        this.assertOpen();
        throw new TransportError(this.name, 'disconnected', `cannot open a channel: ${(e as Error).message}`);
      }
      this.counters.execs++;
      // the time the host took to open the session counts against the command's limit
      const left =
        timeoutMs !== undefined && timeoutMs > 0 ? Math.max(1, timeoutMs - (Date.now() - start)) : timeoutMs;
      try {
        return await this.collect(opened, stdin, { ...options, timeoutMs: left }, label, timeoutMs);
      } finally {
        this.slots.release();
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new TransportError(
        this.name,
        'disconnected',
        `${this.closedReason ?? 'the connection is closed'}`,
      );
    }
  }

  /**
   * Opens an exec channel. The exit status is recorded from inside ssh2's callback: a fast command's
   * status and close can arrive in the same read, before an awaiting caller could attach a listener.
   */
  private openExec(wire: string, timeoutMs?: number, label = wire): Promise<OpenedExec> {
    return new Promise((resolve, reject) => {
      let done = false;
      const gone = (e: Error): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        reject(e);
      };
      this.pending.add(gone);
      // A host that stops answering (link cut, hung sshd) must not hold a command past its limit
      // before it has even started: the session request is bounded by the same time limit.
      const timer =
        timeoutMs !== undefined && timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(gone);
              gone(
                new TransportError(
                  this.name,
                  'timeout',
                  `command timed out after ${(timeoutMs / 1000).toFixed(1)} s: the host did not open a session for it (no answer from the host): ${commandHead(label)}`,
                ),
              );
            }, timeoutMs)
          : undefined;
      this.client.exec(wire, (err, ch) => {
        this.pending.delete(gone);
        if (done) {
          // answered after the limit: that session is not ours any more
          if (!err) ch.close();
          return;
        }
        done = true;
        if (timer) clearTimeout(timer);
        if (err) return reject(err);
        const exit: ExitStatus = { seen: false, code: null };
        ch.on('exit', (c: number | null, sig?: string) => {
          exit.seen = true;
          if (typeof c === 'number') exit.code = c;
          else if (sig) exit.signal = sig;
        });
        resolve({ ch, exit });
      });
    });
  }

  private collect(
    { ch, exit }: OpenedExec,
    stdin: Buffer[],
    options: ExecOptions,
    label: string,
    /** the command's whole limit, for the message (options.timeoutMs is what is left of it) */
    limitMs?: number,
  ): Promise<RawResult> {
    const start = Date.now();
    const timeoutMs = options.timeoutMs ?? this.o.commandTimeoutMs;
    const shownMs = limitMs ?? timeoutMs ?? 0;
    return new Promise<RawResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const decOut = new StringDecoder('utf8');
      const decErr = new StringDecoder('utf8');
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (e?: Error): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        this.pending.delete(onGone);
        if (e) reject(e);
        else {
          const r: RawResult = {
            stdout: Buffer.concat(out),
            stderr: Buffer.concat(err),
            code: exit.code,
            durationMs: Date.now() - start,
          };
          if (exit.signal !== undefined) r.signal = exit.signal;
          resolve(r);
        }
      };
      const onGone = (e: Error): void => finish(e);
      this.pending.add(onGone);
      ch.on('data', (d: Buffer) => {
        out.push(d);
        if (options.onOutput) options.onOutput('stdout', this.redact(decOut.write(d)));
      });
      ch.stderr.on('data', (d: Buffer) => {
        err.push(d);
        if (options.onOutput) options.onOutput('stderr', this.redact(decErr.write(d)));
      });
      ch.on('close', () => {
        if (!exit.seen && this.closed) {
          finish(
            new TransportError(
              this.name,
              'disconnected',
              `${this.closedReason ?? 'connection lost'} during: ${label}`,
            ),
          );
        } else finish();
      });
      ch.on('error', (e: Error) =>
        finish(new TransportError(this.name, 'disconnected', `channel error during ${label}: ${e.message}`)),
      );
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          signalChannel(ch, 'KILL');
          ch.close();
          finish(
            new TransportError(
              this.name,
              'timeout',
              `command timed out after ${(shownMs / 1000).toFixed(1)} s and was stopped: ${commandHead(label)}`,
            ),
          );
        }, timeoutMs);
      }
      this.writeStdin(ch, stdin);
    });
  }

  private writeStdin(ch: ClientChannel, parts: Buffer[]): void {
    const [first, ...rest] = parts;
    if (first === undefined) {
      ch.end();
      return;
    }
    const ok = ch.write(first);
    if (rest.length === 0) ch.end();
    else if (ok) this.writeStdin(ch, rest);
    else ch.once('drain', () => this.writeStdin(ch, rest));
  }

  async put(remotePath: string, content: string | Buffer, options: PutOptions): Promise<void> {
    this.counters.uploads++;
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const keepPrevious = options.keepPrevious !== false;
    const temp = remoteTempName(remotePath, randomBytes(6).toString('hex'));
    const label = putLabel(remotePath, data.length, options.mode, options.owner);
    const mode = await this.resolveSudoMode();
    if (mode !== 'none') {
      const script = remotePutScript({
        target: remotePath,
        temp,
        mode: options.mode,
        keepPrevious,
        ...(options.owner ? { owner: options.owner } : {}),
      });
      const r = await this.execRaw(script, { stdin: data }, 'put', label);
      if (r.code !== 0)
        throw new TransportError(
          this.name,
          'sftp',
          `${label} failed: ${r.stderr.toString().trim() || `exit ${r.code}`}`,
        );
      return;
    }
    const start = Date.now();
    await this.withSftp(async (sftp) => {
      try {
        await sftpWrite(sftp, temp, data, options.mode);
        if (options.owner !== undefined) {
          const r = await this.execRaw(`chown -- ${quote(options.owner)} ${quote(temp)}`, {}, 'exec');
          if (r.code !== 0) throw new Error(`chown ${options.owner}: ${r.stderr.toString().trim()}`);
        }
        if (keepPrevious && (await sftpIsFile(sftp, remotePath))) {
          await sftpUnlink(sftp, remotePath + BACKUP_SUFFIX).catch(() => undefined);
          await new Promise<void>((res, rej) =>
            sftp.ext_openssh_hardlink(remotePath, remotePath + BACKUP_SUFFIX, (e) => (e ? rej(e) : res())),
          ).catch(async () => {
            const r = await this.execRaw(
              `cp -p -- ${quote(remotePath)} ${quote(remotePath + BACKUP_SUFFIX)}`,
              {},
              'exec',
            );
            if (r.code !== 0) throw new Error(`keeping the previous file: ${r.stderr.toString().trim()}`);
          });
        }
        await new Promise<void>((res, rej) =>
          sftp.ext_openssh_rename(temp, remotePath, (e) => (e ? rej(e) : res())),
        );
      } catch (e) {
        await sftpUnlink(sftp, temp).catch(() => undefined);
        const msg = `${label} failed: ${sftpMessage(e, remotePath)}`;
        this.emit(putEvent(label, start, msg));
        throw e instanceof TransportError ? e : new TransportError(this.name, 'sftp', msg);
      }
    });
    this.emit(putEvent(label, start));
  }

  async get(remotePath: string): Promise<Buffer> {
    const mode = await this.resolveSudoMode();
    if (mode !== 'none') {
      const r = await this.execRaw(`cat -- ${quote(remotePath)}`, {}, 'get', `get ${remotePath}`);
      if (r.code !== 0)
        throw new TransportError(
          this.name,
          'sftp',
          `get ${remotePath} failed: ${r.stderr.toString().trim()}`,
        );
      return r.stdout;
    }
    return this.withSftp(
      (sftp) =>
        new Promise<Buffer>((res, rej) =>
          sftp.readFile(remotePath, (e: Error | null | undefined, buf: Buffer) =>
            e
              ? rej(
                  new TransportError(
                    this.name,
                    'sftp',
                    `get ${remotePath} failed: ${sftpMessage(e, remotePath)}`,
                  ),
                )
              : res(buf),
          ),
        ),
    );
  }

  /** Open an SFTP session on a session slot, run `fn`, close it. */
  private async withSftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    this.assertOpen();
    await this.slots.acquire();
    try {
      const sftp = await new Promise<SFTPWrapper>((res, rej) => {
        const gone = (e: Error): void => rej(e);
        this.pending.add(gone);
        this.client.sftp((e, s) => {
          this.pending.delete(gone);
          if (e)
            rej(
              new TransportError(
                this.name,
                'sftp',
                `cannot start SFTP (is the sftp subsystem enabled?): ${e.message}`,
              ),
            );
          else res(s);
        });
      });
      try {
        return await fn(sftp);
      } finally {
        sftp.end();
      }
    } finally {
      this.slots.release();
    }
  }

  async close(): Promise<void> {
    const all = [this.client, ...[...this.jumpClients].reverse()];
    this.closed = true;
    this.closedReason ??= 'the transport was closed';
    for (const c of all) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 300);
        c.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        try {
          c.end();
        } catch {
          resolve();
        }
      });
      destroyClient(c);
    }
  }
}

/**
 * Send a signal request on a session channel. ssh2's Channel.signal() does nothing once our side of
 * the channel is ended (stdin closed), which is always the case here, so the protocol call is made
 * directly (best effort: the server may refuse, e.g. for forced commands).
 */
function signalChannel(ch: ClientChannel, sig: string): void {
  const c = ch as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (id: number, s: string) => void } };
  };
  try {
    const id = c.outgoing?.id;
    const signal = c._client?._protocol?.signal;
    const state = c.outgoing?.state;
    if (id !== undefined && (state === 'open' || state === 'eof') && signal)
      signal.call(c._client?._protocol, id, sig);
    else ch.signal(sig);
  } catch {
    // best effort
  }
}

function sftpMessage(e: unknown, path: string): string {
  const code = (e as { code?: unknown }).code;
  if (code === 2) return `no such file or directory (${path} or its directory)`;
  if (code === 3) return `permission denied (${path})`;
  return (e as Error).message;
}

function sftpWrite(sftp: SFTPWrapper, path: string, data: Buffer, mode: number): Promise<void> {
  const chunk = 32 * 1024;
  const maxInFlight = 16;
  return new Promise((resolve, reject) => {
    sftp.open(path, 'wx', { mode }, (err, handle) => {
      if (err) return reject(err);
      let next = 0;
      let inFlight = 0;
      let failed: Error | undefined;
      const closeWith = (e?: Error): void => sftp.close(handle, () => (e ? reject(e) : resolve()));
      const finishWrites = (): void => {
        // fsync is best effort (the extension may be missing); chmod always (umask applies on open).
        const chmod = (): void => sftp.fchmod(handle, mode, (e) => closeWith(e ?? undefined));
        try {
          sftp.ext_openssh_fsync(handle, () => chmod());
        } catch {
          chmod();
        }
      };
      const pump = (): void => {
        while (!failed && inFlight < maxInFlight && next < data.length) {
          const off = next;
          const len = Math.min(chunk, data.length - off);
          next += len;
          inFlight++;
          sftp.write(handle, data, off, len, off, (e) => {
            inFlight--;
            if (e && !failed) failed = e;
            if (failed) {
              if (inFlight === 0) closeWith(failed);
              return;
            }
            if (next >= data.length && inFlight === 0) finishWrites();
            else pump();
          });
        }
      };
      if (data.length === 0) finishWrites();
      else pump();
    });
  });
}

function sftpIsFile(sftp: SFTPWrapper, path: string): Promise<boolean> {
  return new Promise((resolve) => sftp.lstat(path, (e, st) => resolve(!e && st.isFile())));
}

function sftpUnlink(sftp: SFTPWrapper, path: string): Promise<void> {
  return new Promise((resolve, reject) => sftp.unlink(path, (e) => (e ? reject(e) : resolve())));
}
