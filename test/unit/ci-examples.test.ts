import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { buildProgram } from '../../src/cli/main.js';
import { makeStyle } from '../../src/run/render.js';
import { dpvsCommands, githubJobs, gitlabJobs } from '../integration/docs-parse.js';

const github = readFileSync('examples/ci/github-actions.yml', 'utf8');
const gitlab = readFileSync('examples/ci/gitlab-ci.yml', 'utf8');

const quietIo: Io = {
  out: () => undefined,
  err: () => undefined,
  raw: () => undefined,
  debug: () => undefined,
  style: makeStyle(false),
  isTTY: false,
  confirm: () => Promise.resolve(false),
};

/** Parses argv with the real commander program (actions replaced): throws on unknown options. */
function parsesWithTheCli(argv: string[]): void {
  const program = buildProgram(quietIo, () => undefined);
  for (const c of program.commands) c.action(() => undefined);
  program.parse(argv, { from: 'user' });
}

function commandsOf(scripts: string[]): string[][] {
  return scripts.flatMap(dpvsCommands);
}

describe('examples/ci/github-actions.yml', () => {
  const { doc, jobs } = githubJobs(github);

  it('has on/jobs/steps and a plan job before an apply job that needs it', () => {
    expect(Object.keys(doc.on as object)).toEqual(expect.arrayContaining(['pull_request', 'push']));
    expect(jobs.map((j) => j.name)).toEqual(['plan', 'apply-staging']);
    const apply = (doc.jobs as Record<string, Record<string, unknown>>)['apply-staging']!;
    expect(apply.needs).toBe('plan');
    expect(String(apply.if)).toContain("needs.plan.outputs.changes == 'true'");
    expect(String(apply.if)).toContain("github.ref == 'refs/heads/main'");
  });

  it('runs validate → plan --out, then apply plan.json with reports and verify', () => {
    const [plan, apply] = jobs;
    expect(commandsOf(plan!.scripts)).toEqual([
      ['validate', 'inventories/staging.yaml'],
      ['plan', 'inventories/staging.yaml', '--out', 'plan.json'],
    ]);
    expect(commandsOf(apply!.scripts)).toEqual([
      ['apply', 'plan.json', '--report-json', 'report.json', '--junit', 'junit.xml'],
      ['verify', 'inventories/staging.yaml'],
    ]);
    for (const argv of commandsOf(jobs.flatMap((j) => j.scripts)))
      expect(() => parsesWithTheCli(argv)).not.toThrow();
  });

  it('treats plan exit 2 as changes, renders the plan into the job summary, never echoes the key', () => {
    const planRun = jobs[0]!.scripts.find((s) => s.includes('dpvs-deploy plan'))!;
    expect(planRun).toContain('set +e');
    expect(planRun).toMatch(/2\) echo "changes=true" >> "\$GITHUB_OUTPUT"/);
    expect(planRun).toMatch(/0\) echo "changes=false"/);
    expect(planRun).toMatch(/\*\) .*exit "\$code"/);
    expect(planRun).toContain('>> "$GITHUB_STEP_SUMMARY"');
    for (const j of jobs) {
      const ssh = j.scripts.find((s) => s.includes('ssh-add'))!;
      expect(ssh).toContain('"$SSH_PRIVATE_KEY" | tr -d');
      expect(ssh).toContain('> ~/.ssh/known_hosts');
      expect(j.scripts.join('\n')).not.toMatch(/echo[^|\n]*\$SSH_PRIVATE_KEY/);
    }
    expect(github).toContain('${{ secrets.DPVS_DEPLOY_SSH_KEY }}');
    expect(github).toContain('name: plan');
    expect(github).toMatch(/path: \|\n\s+plan\.json/);
    expect(github).toMatch(/report\.json\n\s+junit\.xml/);
  });

  it('every run: script is valid bash (bash -n)', () => {
    for (const s of jobs.flatMap((j) => j.scripts)) {
      const r = spawnSync('bash', ['-n'], { input: s, encoding: 'utf8' });
      expect(r.stderr, s).toBe('');
    }
  });
});

describe('examples/ci/gitlab-ci.yml', () => {
  const { stages, jobs } = gitlabJobs(gitlab);

  it('has stages and jobs with scripts, apply on the default branch only', () => {
    expect(stages).toEqual(['validate', 'plan', 'apply']);
    expect(jobs.map((j) => `${j.stage}:${j.name}`)).toEqual([
      'validate:validate',
      'plan:plan',
      'apply:apply-staging',
    ]);
    const doc = gitlabJobs(gitlab).doc as Record<string, Record<string, unknown>>;
    expect(JSON.stringify(doc['apply-staging']!.rules)).toContain('$CI_DEFAULT_BRANCH');
    expect(doc['apply-staging']!.needs).toEqual(['plan']);
    expect(JSON.stringify(doc['apply-staging']!.artifacts)).toContain('"junit":"junit.xml"');
    expect(JSON.stringify(doc.plan!.artifacts)).toContain('plan.json');
  });

  it('runs validate, plan --out, apply plan.json with reports and verify; the CLI accepts every line', () => {
    const all = commandsOf(jobs.flatMap((j) => j.scripts));
    expect(all).toEqual([
      ['validate', 'inventories/staging.yaml'],
      ['plan', 'inventories/staging.yaml', '--out', 'plan.json'],
      ['apply', 'plan.json', '--report-json', 'report.json', '--junit', 'junit.xml'],
      ['verify', 'inventories/staging.yaml'],
    ]);
    for (const argv of all) expect(() => parsesWithTheCli(argv)).not.toThrow();
  });

  it('handles plan exit codes explicitly and keeps the key out of the log; scripts are valid bash', () => {
    const plan = jobs.find((j) => j.name === 'plan')!.scripts.find((s) => s.includes('dpvs-deploy plan'))!;
    expect(plan).toContain('set +e');
    expect(plan).toMatch(/2\) echo "PLAN_CHANGES=true"/);
    expect(plan).toMatch(/\*\) .*exit "\$code"/);
    const all = jobs[0]!.scripts.join('\n');
    expect(all).toContain('"$SSH_PRIVATE_KEY" | tr -d');
    expect(all).toContain('"$SSH_KNOWN_HOSTS" > ~/.ssh/known_hosts');
    expect(all).not.toMatch(/echo[^|\n]*\$SSH_PRIVATE_KEY/);
    for (const s of jobs.flatMap((j) => j.scripts)) {
      const r = spawnSync('bash', ['-n'], { input: s, encoding: 'utf8' });
      expect(r.stderr, s).toBe('');
    }
  });
});

describe('the parsers reject broken CI files', () => {
  it('GitHub without jobs, GitLab without stages or with an unknown stage', () => {
    expect(() => githubJobs('on: push\n')).toThrow(/jobs/);
    expect(() => githubJobs('on: push\njobs:\n  a:\n    runs-on: x\n')).toThrow(/steps/);
    expect(() => gitlabJobs('a:\n  script: [x]\n')).toThrow(/stages/);
    expect(() => gitlabJobs('stages: [a]\nj:\n  stage: b\n  script: [x]\n')).toThrow(/stage b/);
  });

  it('the CLI check fails on an option the CLI does not have', () => {
    expect(() => parsesWithTheCli(['plan', 'x.yaml', '--no-such-flag'])).toThrow();
    expect(dpvsCommands('X=1 dpvs-deploy plan a.yaml --out p.json > plan.txt 2>&1 || code=$?')).toEqual([
      ['plan', 'a.yaml', '--out', 'p.json'],
    ]);
  });
});
