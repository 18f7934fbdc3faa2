/**
 * The npm package as a user gets it: `npm pack` of a clean copy of the checkout (what a fresh clone
 * holds: tracked and not-ignored files, no dist/), then `npm install -g --prefix <tmp> <tgz> --omit=dev`
 * and the installed `<tmp>/bin/dpvs-deploy`. Needs npm and the registry (or npm's cache: --prefer-offline)
 * for the runtime dependencies; no root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloneCheckout, REPO_ROOT } from '../support/checkout.js';

const repo = REPO_ROOT;
const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string })
  .version;

let work = '';
let tarball = '';
let packed: string[] = [];
let bin = '';

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function installed(args: string[], cwd = repo) {
  // A clean environment: nothing from this checkout's node_modules on the path.
  return spawnSync(bin, args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: work, NO_COLOR: '1' },
  });
}

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'dpvs-deploy-pack-'));
  // npm pack only (its prepare builds with the dev dependencies: this checkout's, as after `npm ci`)
  const clone = cloneCheckout(path.join(work, 'clone'), { linkNodeModules: true });
  const out = npm(['pack', '--json', '--pack-destination', work], clone);
  const info = JSON.parse(out.slice(out.search(/^\[/m))) as Array<{
    filename: string;
    files: { path: string }[];
  }>;
  tarball = path.join(work, info[0]!.filename);
  packed = info[0]!.files.map((f) => f.path);
  const prefix = path.join(work, 'prefix');
  npm(['install', '--global', '--prefix', prefix, '--omit=dev', '--prefer-offline', tarball], work);
  bin = path.join(prefix, 'bin', 'dpvs-deploy');
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('holds the compiled CLI, its playbooks and schemas, and no tests or sources', () => {
    expect(path.basename(tarball)).toBe(`dpvs-deploy-${version}.tgz`);
    expect(packed).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'bin/dpvs-deploy.js',
        'dist/src/cli/main.js',
        'dist/src/paths.js',
        'playbooks/balancer.yaml',
        'playbooks/realserver.yaml',
        'playbooks/client.yaml',
        'schemas/inventory.schema.json',
        'schemas/plan.schema.json',
      ]),
    );
    const stray = packed.filter(
      (f) =>
        /(^|\/)test\//.test(f) ||
        /\.test\.[jt]s$/.test(f) ||
        f.endsWith('.ts') ||
        f.endsWith('.map') ||
        f.startsWith('dist/bench/') ||
        f.startsWith('dist/scripts/') ||
        f.startsWith('src/'),
    );
    expect(stray).toEqual([]);
  });
});

describe('the installed dpvs-deploy (npm install -g --omit=dev)', () => {
  it('has only the runtime dependencies installed', () => {
    const mods = readdirSync(
      path.join(path.dirname(path.dirname(bin)), 'lib', 'node_modules', 'dpvs-deploy', 'node_modules'),
    );
    for (const dev of ['vitest', 'typescript', 'eslint', 'prettier']) expect(mods).not.toContain(dev);
    expect(mods).toEqual(expect.arrayContaining(['ssh2', 'zod', 'yaml', 'commander']));
  });

  it('prints the version from package.json', () => {
    const r = installed(['--version']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('validates the example inventories', () => {
    const examples = readdirSync(path.join(repo, 'inventories', 'examples'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => path.join('inventories', 'examples', f));
    expect(examples.length).toBeGreaterThan(0);
    for (const f of examples) {
      const r = installed(['validate', f]);
      expect({ f, status: r.status, stderr: r.stderr }).toEqual({ f, status: 0, stderr: '' });
      expect(r.stdout).toMatch(/^OK: \d+ hosts? /);
    }
  });

  it('prints the inventory schema, the same as schemas/inventory.schema.json', () => {
    const r = installed(['schema'], work);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(path.join(repo, 'schemas', 'inventory.schema.json'), 'utf8'));
  });

  it('rejects an invalid inventory with file:line:col and exit 1', () => {
    const r = installed(['validate', 'test/fixtures/bad-inventories/duplicate-address.yaml']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/duplicate-address\.yaml:\d+:\d+: /);
  });
});
