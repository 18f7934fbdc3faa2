/**
 * The CI examples cannot rot: each pipeline of examples/ci runs its own job scripts, in order, against a
 * fresh lab (test/support/ci-runner.ts plays the CI). The staging inventory is the lab's without its key,
 * known_hosts and ssh_config switch, and with keepalived's auth_pass read from DPVS_VRRP_PASS: the jobs
 * log in only with what the pipeline gives them (a File variable / a secret written to a file, pinned
 * known_hosts). The tool is the tarball `npm pack` makes of this checkout, installed by the jobs' own
 * install line.
 *
 * plan job (on the default branch) → its artifacts → the apply job (the approval is this test running it)
 * → the apply report names the sha256 of the plan.json the plan job made → the plan job again: no changes.
 *
 * Run under the lab lock: flock /tmp/dpvs-lab.lock npx vitest run test/integration/ci-pipelines.test.ts
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures } from '../lab/fixtures/build.js';
import { ensureLab, labSsh, stopLab } from '../lab/harness.js';
import { labPaths } from '../lab/paths.js';
import { reportJsonSchema } from '../../src/run/report.js';
import { cloneCheckout, globalPrefixEnv, REPO_ROOT } from '../support/checkout.js';
import {
  type CiSettings,
  type CiWorld,
  githubIf,
  type JobRun,
  runGithubJob,
  runGitlabJob,
} from '../support/ci-runner.js';

const JOB_TIMEOUT = 20 * 60_000;
const VRRP_PASS = 'ci-Pass7';

let work = '';
let tarball = '';

/** lab.yaml as a staging inventory: no key, no known_hosts, ssh_config on, auth_pass from the environment. */
function stagingInventory(): string {
  // another instance's inventory (.lab-<name>/inventory.yaml) names its tarballs fixtures/www/...
  // relative to itself: as ../.lab/fixtures/www/... like lab.yaml, .lab being the instance's (world())
  const text = readFileSync(labPaths().defaultInventory, 'utf8').replace(
    /^(\s*file: )(fixtures\/)/gm,
    '$1../.lab/$2',
  );
  const doc = parseDocument(text);
  for (const k of ['identity_file', 'known_hosts', 'use_ssh_config']) doc.deleteIn(['defaults', 'ssh', k]);
  let withKeepalived = 0;
  for (const h of ['lb1', 'lb2']) {
    if (!doc.hasIn(['hosts', h, 'keepalived'])) continue;
    doc.setIn(['hosts', h, 'keepalived', 'auth_pass'], doc.createNode({ env: 'DPVS_VRRP_PASS' }));
    withKeepalived++;
  }
  expect(withKeepalived).toBe(2);
  return doc.toString();
}

function world(name: string): CiWorld {
  const root = mkdtempSync(path.join(work, `${name}-`));
  const template = path.join(root, 'template');
  mkdirSync(path.join(template, 'inventories'), { recursive: true });
  writeFileSync(path.join(template, 'inventories', 'staging.yaml'), stagingInventory());
  // the lab inventory's fixture tarballs are ../.lab/fixtures/www/...: this lab's state directory
  symlinkSync(path.dirname(labPaths().instanceInventory), path.join(template, '.lab'));
  const env = globalPrefixEnv(path.join(root, 'prefix'), {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    // npm's cache (the dependencies from earlier installs), not the test's fresh homes
    npm_config_cache: process.env.npm_config_cache ?? path.join(process.env.HOME ?? '/root', '.npm'),
  });
  return {
    template,
    checkout: path.join(root, 'builds', 'project'),
    store: path.join(root, 'artifacts'),
    scratch: path.join(root, 'scratch'),
    baseEnv: env,
    timeoutMs: JOB_TIMEOUT,
  };
}

function settings(kind: 'github' | 'gitlab'): CiSettings {
  const p = labPaths();
  const key = readFileSync(p.identity, 'utf8');
  const vars = { DPVS_DEPLOY_PACKAGE: tarball, DPVS_KNOWN_HOSTS: readFileSync(p.knownHosts, 'utf8') };
  return kind === 'github'
    ? {
        vars,
        secrets: { DPVS_PLAN_SSH_KEY: key, DPVS_APPLY_SSH_KEY: key, DPVS_VRRP_PASS: VRRP_PASS },
      }
    : {
        vars: { ...vars, DPVS_VRRP_PASS: VRRP_PASS },
        files: { DPVS_PLAN_SSH_KEY: key, DPVS_APPLY_SSH_KEY: key },
      };
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

interface Report {
  plan?: { file: string; sha256: string };
  hosts: Array<{ host: string; status: string; changed: number }>;
}

const validReport = new Ajv2020({ allErrors: true, strict: false }).compile(reportJsonSchema());

/** The apply job's report.json: valid against schemas/report.schema.json. */
function readReport(file: string): Report {
  const doc: unknown = JSON.parse(readFileSync(file, 'utf8'));
  expect(validReport(doc), JSON.stringify(validReport.errors)).toBe(true);
  return doc as Report;
}

function expectOk(r: JobRun): void {
  expect(r.code, `${r.job}:\n${r.output.slice(-8000)}`).toBe(0);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dd-ci-'));
  // the package the jobs install: npm pack of this checkout (its prepack builds dist/)
  const clone = cloneCheckout(path.join(work, 'clone'), { linkNodeModules: true });
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work, '--loglevel=error'], {
    cwd: clone,
    encoding: 'utf8',
  });
  const info = JSON.parse(out.slice(out.search(/^\[/m))) as Array<{ filename: string }>;
  tarball = path.join(work, info[0]!.filename);
  await buildFixtures(labPaths().www);
}, 600_000);

afterAll(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await stopLab();
});

describe('examples/ci/github-actions.yml on the lab: plan → approval → apply that plan', () => {
  const yaml = readFileSync(path.join(REPO_ROOT, 'examples/ci/github-actions.yml'), 'utf8');

  it(
    'a push to main: the plan job saves a plan, apply-staging applies that artifact, a new plan is empty',
    {
      timeout: 3 * JOB_TIMEOUT,
    },
    async () => {
      await ensureLab();
      const w = world('github');
      const s = settings('github');
      const plan = runGithubJob(yaml, 'plan', w, s);
      expectOk(plan);
      expect(plan.outputs.changes).toBe('true');
      expect(plan.summary).toContain('## dpvs-deploy plan: staging');
      const planJson = path.join(w.store, 'plan', 'plan.json');
      const planSha = sha256(planJson);
      expect(readFileSync(path.join(w.store, 'plan', 'plan.txt'), 'utf8')).toMatch(
        /Plan: \d+ change\(s\) on \d+ host/,
      );

      const ifExpr = String((parseDocumentJobs(yaml)['apply-staging'] as { if: string }).if);
      const ctx = {
        'github.event_name': 'push',
        'github.ref': 'refs/heads/main',
        'needs.plan.outputs.changes': plan.outputs.changes ?? '',
      };
      expect(githubIf(ifExpr, ctx)).toBe(true);
      expect(githubIf(ifExpr, { ...ctx, 'github.event_name': 'pull_request' })).toBe(false);

      const apply = runGithubJob(yaml, 'apply-staging', w, s);
      expectOk(apply);
      const report = readReport(path.join(w.store, 'apply-reports', 'report.json'));
      expect(report.plan?.sha256).toBe(planSha);
      expect(report.plan?.file).toBe('plan.json');
      expect(report.hosts.map((h) => h.host).sort()).toEqual(['client1', 'lb1', 'lb2', 'rs1', 'rs2']);
      expect(report.hosts.filter((h) => h.status === 'changed').length).toBeGreaterThan(0);
      expect(readFileSync(path.join(w.store, 'apply-reports', 'junit.xml'), 'utf8')).toMatch(
        /<testsuites?[\s>]/,
      );
      expect(apply.summary).toContain('## dpvs-deploy verify: staging');
      const conf = await labSsh('lb1', 'cat /etc/keepalived/keepalived.conf');
      expect(conf.stdout).toContain(`auth_pass ${VRRP_PASS}`);

      const again = runGithubJob(yaml, 'plan', w, s);
      expectOk(again);
      expect(again.outputs.changes, again.output.slice(-4000)).toBe('false');
    },
  );
});

describe('examples/ci/gitlab-ci.yml on the lab: plan → manual job → apply that plan', () => {
  const yaml = readFileSync(path.join(REPO_ROOT, 'examples/ci/gitlab-ci.yml'), 'utf8');

  it(
    'a default-branch pipeline: plan saves a plan, the manual apply-staging applies that artifact, a new plan is empty',
    {
      timeout: 3 * JOB_TIMEOUT,
    },
    async () => {
      await ensureLab();
      const w = world('gitlab');
      w.predefined = { CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main', CI_PIPELINE_SOURCE: 'push' };
      const s = settings('gitlab');
      const plan = runGitlabJob(yaml, 'plan', w, s);
      expectOk(plan);
      expect(plan.outputs.PLAN_CHANGES).toBe('true');
      const planSha = sha256(path.join(w.store, 'plan', 'plan.json'));
      expect(readFileSync(path.join(w.store, 'plan', 'plan.txt'), 'utf8')).toMatch(
        /Plan: \d+ change\(s\) on \d+ host/,
      );

      const apply = runGitlabJob(yaml, 'apply-staging', w, s);
      expectOk(apply);
      const report = readReport(path.join(w.store, 'apply-staging', 'report.json'));
      expect(report.plan?.sha256).toBe(planSha);
      expect(report.hosts.filter((h) => h.status === 'changed').length).toBeGreaterThan(0);
      expect(readFileSync(path.join(w.store, 'apply-staging', 'junit.xml'), 'utf8')).toMatch(
        /<testsuites?[\s>]/,
      );
      const conf = await labSsh('lb2', 'cat /etc/keepalived/keepalived.conf');
      expect(conf.stdout).toContain(`auth_pass ${VRRP_PASS}`);

      const again = runGitlabJob(yaml, 'plan', w, s);
      expectOk(again);
      expect(again.outputs.PLAN_CHANGES, again.output.slice(-4000)).toBe('false');
    },
  );
});

function parseDocumentJobs(text: string): Record<string, unknown> {
  return (parseDocument(text).toJS() as { jobs: Record<string, unknown> }).jobs;
}
