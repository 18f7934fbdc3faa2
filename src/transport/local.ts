/**
 * The local transport: the control machine itself (Linux or macOS). Commands run through `sh -c` with
 * execa; put writes atomically with ./atomic-write.ts. No sudo: the engine runs as the user it is.
 */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { atomicWriteFile } from './atomic-write.js';
import { putEvent, putLabel, type TranscriptEvent } from './transcript.js';
import {
  type ExecOptions,
  type ExecResult,
  type PutOptions,
  type Transport,
  TransportError,
  type TransportStats,
} from './types.js';

export interface LocalTransportOptions {
  name?: string;
  commandTimeoutMs?: number;
  onTranscript?: (e: TranscriptEvent) => void;
}

export class LocalTransport implements Transport {
  readonly name: string;
  private readonly counters: TransportStats = { connections: 0, execs: 0, uploads: 0 };

  constructor(private readonly o: LocalTransportOptions = {}) {
    this.name = o.name ?? 'localhost';
  }

  get stats(): TransportStats {
    return { ...this.counters };
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.counters.execs++;
    const start = Date.now();
    const timeoutMs = options.timeoutMs ?? this.o.commandTimeoutMs;
    // Own process group, so a timeout kills the whole command tree (a child holding the output pipes
    // would otherwise keep us waiting until it finishes).
    const child = execa('sh', ['-c', command], {
      reject: false,
      stripFinalNewline: false,
      detached: true,
      input: options.stdin ?? '',
    });
    let timedOut = false;
    const timer =
      timeoutMs !== undefined && timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            try {
              if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, timeoutMs)
        : undefined;
    if (options.onOutput) {
      const cb = options.onOutput;
      child.stdout?.on('data', (d: Buffer) => cb('stdout', d.toString()));
      child.stderr?.on('data', (d: Buffer) => cb('stderr', d.toString()));
    }
    const r = await child;
    if (timer) clearTimeout(timer);
    const durationMs = Date.now() - start;
    const stdout = String(r.stdout ?? '');
    const stderr = String(r.stderr ?? '');
    const record = (e: Partial<TranscriptEvent>): void =>
      this.o.onTranscript?.({
        host: this.name,
        kind: 'exec',
        command,
        sudo: false,
        stdout,
        stderr,
        code: null,
        durationMs,
        ...e,
      });
    if (timedOut) {
      const e = new TransportError(
        this.name,
        'timeout',
        `command timed out after ${((timeoutMs ?? 0) / 1000).toFixed(1)} s and was stopped: ${command}`,
      );
      record({ error: e.message });
      throw e;
    }
    if (r.exitCode === undefined && r.signal === undefined) {
      throw new TransportError(this.name, 'disconnected', `cannot run sh: ${r.message}`);
    }
    const code = r.exitCode ?? null;
    const result: ExecResult = { stdout, stderr, code, durationMs };
    if (r.signal) result.signal = r.signal;
    record({ code, ...(r.signal ? { signal: r.signal } : {}) });
    return result;
  }

  async put(path: string, content: string | Buffer, options: PutOptions): Promise<void> {
    this.counters.uploads++;
    const start = Date.now();
    const label = putLabel(path, Buffer.byteLength(content), options.mode, options.owner);
    try {
      await atomicWriteFile(path, content, {
        mode: options.mode,
        keepPrevious: options.keepPrevious !== false,
        ...(options.owner !== undefined
          ? {
              beforeRename: async (temp: string): Promise<void> => {
                await execa('chown', ['--', options.owner as string, temp]);
              },
            }
          : {}),
      });
    } catch (e) {
      const msg = `${label} failed: ${(e as Error).message}`;
      this.o.onTranscript?.({ host: this.name, ...putEvent(label, start, msg) });
      throw new TransportError(this.name, 'sftp', msg);
    }
    this.o.onTranscript?.({ host: this.name, ...putEvent(label, start) });
  }

  async get(path: string): Promise<Buffer> {
    try {
      return await readFile(path);
    } catch (e) {
      throw new TransportError(this.name, 'sftp', `get ${path} failed: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    // Nothing to close.
  }
}
