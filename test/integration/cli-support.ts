/** The built CLI (bin/dpvs-deploy.js; `npm run build` first) run as a child process for integration suites. */
import { execFile } from 'node:child_process';
import path from 'node:path';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const CLI_BIN = path.resolve('bin/dpvs-deploy.js');

/** Runs the CLI with NO_COLOR; resolves with its exit code (255 when it could not run) and output. */
export function runCli(args: string[], timeoutMs = 1_500_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_BIN, ...args],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 255) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}
