/** The built CLI (bin/dpvs-deploy.js; `npm run build` first) run as a child process for integration suites. */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { labPaths } from '../lab/paths.js';

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

/** The lab's fixture tarball of a DPDK or DPVS version (.lab/fixtures/www/manifest.json) as a `source:`. */
export function fixtureSource(
  kind: 'dpdk' | 'dpvs',
  version: string,
  fixturesUrl: string,
): { url: string; sha256: string } {
  const m = JSON.parse(readFileSync(path.join(labPaths().www, 'manifest.json'), 'utf8')) as {
    artifacts: Array<{ name: string; kind: string; version: string; sha256: string }>;
  };
  const a = m.artifacts.find((x) => x.kind === kind && x.version === version);
  if (!a) throw new Error(`no ${kind} ${version} fixture in the lab manifest`);
  return { url: `${fixturesUrl}${a.name}`, sha256: a.sha256 };
}

/** inventories/lab.yaml copied into `dir` as `name`, with absolute paths to .lab/, after `edit`. */
export function labInventoryCopy<D>(
  dir: string,
  name: string,
  edit: (d: D) => void = () => undefined,
): string {
  const src = labPaths().defaultInventory;
  const text = readFileSync(src, 'utf8').replace(
    /(\.\.\/\.lab\/)/g,
    `${path.resolve(path.dirname(src), '..', '.lab')}/`,
  );
  const doc = parse(text) as D;
  edit(doc);
  const out = path.join(dir, name);
  writeFileSync(out, stringify(doc));
  return out;
}

/** Transcripts (host → text) of the newest run of `command` under a --run-dir. */
export function newestTranscripts(runsDir: string, command: string): Record<string, string> {
  const runs = readdirSync(runsDir)
    .filter((d) => d.includes(`-${command}-`))
    .sort();
  const dir = path.join(runsDir, runs.at(-1) as string);
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir))
    if (f.endsWith('.log')) out[f.slice(0, -4)] = readFileSync(path.join(dir, f), 'utf8');
  return out;
}
