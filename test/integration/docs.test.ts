/**
 * The operators' documents cannot rot: every ```sh block of docs/getting-started.md runs, in order,
 * against the lab, and must end with the exit code and output its `<!-- expect: ... -->` comment
 * promises. (The CI examples run in test/integration/ci-pipelines.test.ts.)
 *
 * Run under the lab lock: flock /tmp/dpvs-lab.lock npx vitest run test/integration/docs.test.ts
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
import { docBlocks, type DocBlock } from './docs-parse.js';

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

const blocks: DocBlock[] = docBlocks(readFileSync(path.join(REPO, 'docs', 'getting-started.md'), 'utf8'));

describe.skipIf(!built)('docs/getting-started.md against the lab (needs npm run build)', () => {
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
});
