/**
 * The operators' documents cannot rot: every ```sh block of docs/getting-started.md runs, in order,
 * against the lab, and must end with the exit code and output its `<!-- expect: ... -->` comment
 * promises. Then the CI examples' dpvs-deploy command sequence runs against the lab with the lab
 * inventory in place of inventories/staging.yaml, with the exit codes the pipelines accept.
 *
 * Run under the lab lock: flock /tmp/dd-lab.lock npx vitest run test/integration/docs.test.ts
 * (the test itself takes no lock; the runner holds it). Needs `npm run build` (bin/dpvs-deploy.js).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskRegistry } from '../../src/tasks/registry.js';
import { buildFixtures } from '../lab/fixtures/build.js';
import { ensureLab, stopLab } from '../lab/harness.js';
import { labPaths } from '../lab/paths.js';
import { cloneCheckout, globalPrefixEnv } from '../support/checkout.js';
import { type CiJob, docBlocks, dpvsCommands, githubJobs, gitlabJobs, type DocBlock } from './docs-parse.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const built = existsSync(path.join(REPO, 'dist', 'src', 'cli', 'main.js'));
const BLOCK_TIMEOUT = 30 * 60_000;

/** Tasks a block needs that the balancer or realserver playbook does not run yet (registry + playbook). */
function missingTasks(names: string[]): string[] {
  const playbooks = ['balancer', 'realserver'].flatMap((r) => {
    const doc = parse(readFileSync(path.join(REPO, 'playbooks', `${r}.yaml`), 'utf8')) as {
      tasks?: string[];
    };
    return doc.tasks ?? [];
  });
  return names.filter((n) => !taskRegistry.has(n) || !playbooks.includes(n));
}

interface Ran {
  code: number;
  output: string;
}

let work = '';

/**
 * A scratch directory laid out like a checkout: inventories/ (copied), .lab -> the lab; and a fresh
 * clone of the checkout (checkout/) where the install block runs. No dpvs-deploy on PATH until the
 * docs' own install block has put it there.
 */
function makeWorkDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dd-docs-'));
  cpSync(path.join(REPO, 'inventories'), path.join(dir, 'inventories'), { recursive: true });
  symlinkSync(path.join(REPO, '.lab'), path.join(dir, '.lab'));
  cloneCheckout(path.join(dir, 'checkout'));
  return dir;
}

/** `npm install -g` goes to work/prefix (npm_config_prefix), whose bin/ is first on PATH. */
function env(): NodeJS.ProcessEnv {
  return { ...globalPrefixEnv(path.join(work, 'prefix')), NO_COLOR: '1' };
}

function runShell(script: string, cwd: string): Ran {
  const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script], {
    cwd,
    encoding: 'utf8',
    timeout: BLOCK_TIMEOUT,
    maxBuffer: 256 * 1024 * 1024,
    env: env(),
  });
  return { code: r.status ?? 255, output: `${r.stdout}${r.stderr}` };
}

/** Runs `dpvs-deploy` the way the pipelines do: by name, from PATH (where their install step put it). */
function runDpvs(argv: string[], cwd: string, environment: NodeJS.ProcessEnv): Ran {
  const r = spawnSync('dpvs-deploy', argv, {
    cwd,
    encoding: 'utf8',
    timeout: BLOCK_TIMEOUT,
    maxBuffer: 256 * 1024 * 1024,
    env: environment,
  });
  return { code: r.status ?? 255, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

/** A pipeline's install commands: its first job's `npm ...` lines, in order. */
function installLines(jobs: CiJob[]): string[] {
  return (jobs[0]?.scripts ?? [])
    .flatMap((s) => s.split('\n'))
    .map((l) => l.trim())
    .filter((l) => /^npm\s/.test(l));
}

const blocks: DocBlock[] = docBlocks(readFileSync(path.join(REPO, 'docs', 'getting-started.md'), 'utf8'));

describe.skipIf(!built)('docs and CI examples against the lab (needs npm run build)', () => {
  beforeAll(async () => {
    await ensureLab();
    // the inventories push the lab's DPDK/DPVS fixture tarballs: built here (cached by their sources),
    // not left to an earlier `npm run lab -- up`
    await buildFixtures(labPaths().www);
    work = makeWorkDir();
  }, 600_000);
  afterAll(async () => {
    if (work) rmSync(work, { recursive: true, force: true });
    await stopLab();
  });

  describe('docs/getting-started.md', () => {
    it('has sh blocks with expectations', () => {
      expect(blocks.length).toBeGreaterThan(5);
    });

    for (const b of blocks) {
      const title = `line ${b.line}: ${b.script.split('\n').find((l) => l.trim() && !l.startsWith('#')) ?? ''}`;
      it(title, { timeout: BLOCK_TIMEOUT }, (ctx) => {
        const missing = missingTasks(b.expect.needsTask);
        if (missing.length)
          ctx.skip(`needs task(s) ${missing.join(', ')} in src/tasks/registry.ts and the playbooks`);
        const r = runShell(b.script, b.expect.in === 'checkout' ? path.join(work, 'checkout') : work);
        const where = `docs/getting-started.md:${b.line}\n--- output ---\n${r.output.slice(-6000)}`;
        expect(r.code, where).toBe(b.expect.exit);
        for (const c of b.expect.contains) expect(r.output, where).toContain(c);
        for (const a of b.expect.absent) expect(r.output, where).not.toContain(a);
      });
    }
  });

  const pipelines = [
    {
      name: 'github-actions.yml',
      cmds: githubJobs(readFileSync(path.join(REPO, 'examples/ci/github-actions.yml'), 'utf8')).jobs,
    },
    {
      name: 'gitlab-ci.yml',
      cmds: gitlabJobs(readFileSync(path.join(REPO, 'examples/ci/gitlab-ci.yml'), 'utf8')).jobs,
    },
  ];
  for (const p of pipelines) {
    it(
      `examples/ci/${p.name}: install, validate, plan --out, apply plan.json, verify on the lab`,
      { timeout: BLOCK_TIMEOUT },
      () => {
        const dir = mkdtempSync(path.join(work, 'ci-'));
        // The pipeline's own install step, in a fresh clone, into a prefix of its own.
        const install = installLines(p.cmds);
        expect(install.some((l) => l.startsWith('npm install --global'))).toBe(true);
        const ciEnv = { ...globalPrefixEnv(path.join(dir, 'prefix')), NO_COLOR: '1' };
        const checkout = cloneCheckout(path.join(dir, 'checkout'));
        const inst = spawnSync('bash', ['-e', '-c', install.join('\n')], {
          cwd: checkout,
          encoding: 'utf8',
          env: ciEnv,
          timeout: BLOCK_TIMEOUT,
        });
        expect(inst.status, `${p.name} install:\n${inst.stdout}${inst.stderr}`).toBe(0);
        const seq = p.cmds
          .flatMap((j) => j.scripts.flatMap(dpvsCommands))
          .map((argv) =>
            argv.map((a) =>
              a === 'inventories/staging.yaml' ? path.join(work, 'inventories', 'lab.yaml') : a,
            ),
          );
        expect(seq.map((a) => a[0])).toEqual(['validate', 'plan', 'apply', 'verify']);
        let planChanges = false;
        for (const argv of seq) {
          const r = runDpvs(argv, dir, ciEnv);
          const where = `${p.name}: dpvs-deploy ${argv.join(' ')}\n${r.output.slice(-4000)}`;
          if (argv[0] === 'plan') {
            // the pipelines: 0 = no changes, 2 = changes, anything else fails the job
            expect([0, 2], where).toContain(r.code);
            planChanges = r.code === 2;
            expect(existsSync(path.join(dir, 'plan.json'))).toBe(true);
          } else expect(r.code, where).toBe(0);
          if (argv[0] === 'apply') {
            const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as {
              hosts: Array<{ host: string }>;
            };
            expect(report.hosts.map((h) => h.host).sort()).toEqual(['client1', 'lb1', 'lb2', 'rs1', 'rs2']);
            const junit = readFileSync(path.join(dir, 'junit.xml'), 'utf8');
            expect(junit).toMatch(/<testsuites?[\s>]/);
            if (planChanges) expect(r.output).not.toContain('Nothing to apply.');
          }
        }
      },
    );
  }
});
