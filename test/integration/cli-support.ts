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

/** The lab's own CLI (dist/test/lab/cli.js: up, down, status, ...) as a child process. */
export function labCli(args: string[], timeoutMs = 900_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.resolve('dist/test/lab/cli.js'), ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : 255) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
        }),
    );
  });
}

/** The part of a run report (--report-json) the suites read. */
export interface ReportDoc {
  hosts: Array<{ host: string; status: string; error?: string }>;
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
  // the paths in it are relative to it (../.lab/ssh/... in inventories/lab.yaml, ssh/... in another
  // instance's .lab-<name>/inventory.yaml): absolute, so the copy elsewhere finds them
  const text = readFileSync(src, 'utf8').replace(
    /^(\s*(?:identity_file|known_hosts|file): )(?![/'"])(\S+)$/gm,
    (_m, key: string, p: string) => `${key}${path.resolve(path.dirname(src), p)}`,
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

type HostDoc = Record<string, unknown>;
/** An inventory document as the lab suites edit it. */
export interface LabDoc {
  defaults?: Record<string, unknown>;
  hosts: Record<string, HostDoc>;
  rollout?: Record<string, unknown>;
}

/**
 * The lab's inventory with absolute key paths, the fixture sources of DPDK 20.11.10 / DPVS 1.9.10 on
 * every balancer and dpvs pools that fit the lab's hugepages; `edit` adjusts it.
 */
export function writeLabInventory(
  from: string,
  out: string,
  fixturesUrl: string,
  edit: (d: LabDoc) => void,
): string {
  const p = labPaths();
  const doc = parse(readFileSync(from, 'utf8')) as LabDoc;
  const ssh = ((doc.defaults ??= {}).ssh ??= {}) as Record<string, unknown>;
  ssh.identity_file = p.identity;
  ssh.known_hosts = p.knownHosts;
  const dpdk = fixtureSource('dpdk', '20.11.10', fixturesUrl);
  const dpvs = fixtureSource('dpvs', '1.9.10', fixturesUrl);
  for (const h of Object.values(doc.hosts)) {
    if (!(h.roles as string[]).includes('balancer')) continue;
    h.dpdk = { version: '20.11.10', driver: 'uio_pci_generic', source: dpdk };
    // 65535 mbufs fit the lab's 512 x 2 MB pages per node
    h.dpvs = { version: '1.9.10', source: dpvs, pktpool_size: 65535, start_timeout_s: 60 };
    h.hugepages = { size: '2M', per_node: 512 };
    h.workers = 'auto';
  }
  edit(doc);
  writeFileSync(out, stringify(doc));
  return out;
}
