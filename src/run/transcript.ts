/**
 * The run directory: one transcript per host with every command, its exit code, duration and output,
 * redacted; plus the run's plan and report. Default location: ./.dpvs-deploy/runs/<timestamp>-<command>/
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Redactor } from './redact.js';

export class RunDir {
  readonly dir: string;
  constructor(
    base: string,
    command: string,
    private readonly redactor: Redactor,
    now = new Date(),
  ) {
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    this.dir = path.resolve(base, `${stamp}-${command}-${process.pid}`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  transcriptPath(host: string): string {
    return path.join(this.dir, `${host}.log`);
  }

  log(host: string, text: string): void {
    appendFileSync(
      this.transcriptPath(host),
      this.redactor.redact(text.endsWith('\n') ? text : text + '\n'),
      {
        mode: 0o600,
      },
    );
  }

  command(
    host: string,
    command: string,
    result: { code: number | null; stdout: string; stderr: string; durationMs: number },
  ): void {
    const lines = [`$ ${command}`];
    if (result.stdout.trim()) lines.push(result.stdout.trimEnd());
    if (result.stderr.trim()) lines.push(`[stderr] ${result.stderr.trimEnd()}`);
    lines.push(`[exit ${result.code ?? 'signal'} in ${result.durationMs} ms]`);
    this.log(host, `${new Date().toISOString()} ${lines.join('\n')}`);
  }

  writeJson(name: string, value: unknown): string {
    const p = path.join(this.dir, name);
    writeFileSync(p, this.redactor.redact(JSON.stringify(value, null, 2)) + '\n', { mode: 0o600 });
    return p;
  }
}
