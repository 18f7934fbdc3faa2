/**
 * The CI examples' structure and promises, without a lab: triggers, the approval gate, which job holds
 * which key, that no job holding a key runs code from the change, that every variable a script uses is
 * defined (by the file or in its header's settings list), bash syntax, and every `dpvs-deploy` line
 * parsed by the real CLI. test/integration/ci-pipelines.test.ts runs the jobs against the lab.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Io } from '../../../src/cli/io.js';
import { buildProgram } from '../../../src/cli/main.js';
import { makeStyle } from '../../../src/cli/views/style.js';
import { dpvsCommands, githubJobs, gitlabJobs } from '../../integration/docs-parse.js';
import { githubIf } from '../../support/ci-runner.js';

const github = readFileSync('examples/ci/github-actions.yml', 'utf8');
const gitlab = readFileSync('examples/ci/gitlab-ci.yml', 'utf8');
const readme = readFileSync('examples/ci/README.md', 'utf8');

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

/** The header comment (the settings an operator must create). */
function header(text: string): string {
  return text
    .split('\n')
    .filter((l) => l.startsWith('#'))
    .join('\n');
}

/** `$NAME` and `${NAME}` a shell script reads, minus what it assigns itself. */
function shellVars(script: string): Set<string> {
  const used = new Set<string>();
  const noSingle = script.replace(/'[^']*'/g, "''");
  for (const m of noSingle.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) used.add(m[1]!);
  for (const m of script.matchAll(/(?:^|[\s;(])([A-Za-z_][A-Za-z0-9_]*)=/gm)) used.delete(m[1]!);
  return used;
}

function bashOk(script: string): void {
  const r = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  expect(r.stderr, script).toBe('');
}

type Rec = Record<string, unknown>;

describe('examples/ci/github-actions.yml', () => {
  const { doc, jobs } = githubJobs(github);
  const jobDocs = doc.jobs as Record<string, Rec>;
  const steps = (j: string) => jobDocs[j]!.steps as Rec[];
  const text = (j: string) => JSON.stringify(jobDocs[j]);

  it('plans pull requests and pushes to main; apply-staging runs only on main, with changes, in the gated environment', () => {
    expect(Object.keys(doc.on as object)).toEqual(expect.arrayContaining(['pull_request', 'push']));
    expect(jobs.map((j) => j.name)).toEqual(['plan', 'apply-staging']);
    const apply = jobDocs['apply-staging']!;
    expect(apply.needs).toBe('plan');
    expect(apply.environment).toBe('staging');
    const ctx = {
      'github.event_name': 'push',
      'github.ref': 'refs/heads/main',
      'needs.plan.outputs.changes': 'true',
    };
    expect(githubIf(String(apply.if), ctx)).toBe(true);
    expect(githubIf(String(apply.if), { ...ctx, 'github.event_name': 'pull_request' })).toBe(false);
    expect(githubIf(String(apply.if), { ...ctx, 'github.ref': 'refs/heads/feature' })).toBe(false);
    expect(githubIf(String(apply.if), { ...ctx, 'needs.plan.outputs.changes': 'false' })).toBe(false);
    expect(jobDocs.plan!.environment).toBeUndefined();
  });

  it('plan job: validate, plan --out; apply job: apply THAT plan.json (downloaded artifact) with reports, then verify', () => {
    const [plan, apply] = jobs;
    expect(plan!.scripts.flatMap(dpvsCommands)).toEqual([
      ['validate', '$INVENTORY'],
      ['plan', '$INVENTORY', '--out', 'plan.json'],
    ]);
    expect(apply!.scripts.flatMap(dpvsCommands)).toEqual([
      ['apply', 'plan.json', '--report-json', 'report.json', '--junit', 'junit.xml'],
      ['verify', '$INVENTORY'],
    ]);
    for (const argv of jobs.flatMap((j) => j.scripts.flatMap(dpvsCommands)))
      expect(() => parsesWithTheCli(argv)).not.toThrow();
    const upload = steps('plan').find((s) => String(s.uses).startsWith('actions/upload-artifact'))!;
    expect(upload.with).toMatchObject({ name: 'plan' });
    expect(String((upload.with as Rec).path)).toMatch(/plan\.json\nplan\.txt/);
    const applySteps = steps('apply-staging');
    const download = applySteps.findIndex((s) => String(s.uses).startsWith('actions/download-artifact'));
    const applyAt = applySteps.findIndex((s) => String(s.run).includes('dpvs-deploy apply plan.json'));
    expect(download).toBeGreaterThan(-1);
    expect((applySteps[download]!.with as Rec).name).toBe('plan');
    expect(download).toBeLessThan(applyAt);
    const reports = applySteps.find((s) => s.name === 'Upload reports and transcripts')!;
    expect(reports.if).toBe('always()');
    expect(String((reports.with as Rec).path)).toMatch(/report\.json\njunit\.xml/);
  });

  it('keys: the plan key only in plan, the apply key only in the gated job, as files of mode 600; host keys pinned', () => {
    expect(text('plan')).toContain('secrets.DPVS_PLAN_SSH_KEY');
    expect(text('plan')).not.toContain('DPVS_APPLY_SSH_KEY');
    expect(text('apply-staging')).toContain('secrets.DPVS_APPLY_SSH_KEY');
    expect(text('apply-staging')).not.toContain('DPVS_PLAN_SSH_KEY');
    for (const j of jobs) {
      const all = j.scripts.join('\n');
      expect(all).toContain(
        "(umask 077 && printf '%s\\n' \"$SSH_KEY\" | tr -d '\\r' > ~/.ssh/dpvs-deploy.key)",
      );
      expect(all).toContain('"$KNOWN_HOSTS" > ~/.ssh/known_hosts');
      expect(all).toContain('IdentityFile %s');
      expect(all).toContain('rm -f ~/.ssh/dpvs-deploy.key');
      expect(all).not.toMatch(/echo[^|\n]*\$SSH_KEY|set -x|cat[^\n]*dpvs-deploy\.key/);
    }
  });

  it('no job runs code from the change: a pinned package, installed without scripts; no npm ci', () => {
    for (const j of jobs) {
      const all = j.scripts.join('\n');
      expect(all).not.toMatch(/\bnpm (ci|run|test|pack)\b|npx /);
      expect(all).toContain('npm install --global --ignore-scripts --omit=dev "$DPVS_DEPLOY_PACKAGE"');
    }
  });

  it('every variable a script reads is defined; every secret and variable is listed in the header and README', () => {
    const wfEnv = Object.keys((doc.env as Rec) ?? {});
    for (const [name, j] of Object.entries(jobDocs)) {
      for (const st of j.steps as Rec[]) {
        if (typeof st.run !== 'string') continue;
        const defined = new Set([
          ...wfEnv,
          ...Object.keys((st.env as Rec) ?? {}),
          'HOME',
          'GITHUB_OUTPUT',
          'GITHUB_STEP_SUMMARY',
          'GITHUB_ENV',
        ]);
        for (const v of shellVars(st.run)) expect(defined.has(v), `${name}: $${v} in:\n${st.run}`).toBe(true);
        if (/dpvs-deploy (plan|apply|verify)/.test(st.run))
          expect(Object.keys((st.env as Rec) ?? {}), `${name}: ${st.name}`).toContain('DPVS_VRRP_PASS');
      }
    }
    const refs = [...github.matchAll(/\$\{\{\s*(secrets|vars)\.([A-Z_]+)\s*\}\}/g)].map((m) => m[2]!);
    expect(refs.length).toBeGreaterThan(5);
    for (const r of new Set(refs)) {
      expect(header(github), r).toContain(r);
      expect(readme, r).toContain(r);
    }
  });

  it('treats plan exit 2 as changes and renders the plan into the job summary; scripts are valid bash', () => {
    const planRun = jobs[0]!.scripts.find((s) => s.includes('dpvs-deploy plan'))!;
    expect(planRun).toContain('set +e');
    expect(planRun).toMatch(/2\) echo "changes=true" >> "\$GITHUB_OUTPUT"/);
    expect(planRun).toMatch(/0\) echo "changes=false"/);
    expect(planRun).toMatch(/\*\) .*exit "\$code"/);
    expect(planRun).toContain('>> "$GITHUB_STEP_SUMMARY"');
    for (const s of jobs.flatMap((j) => j.scripts)) bashOk(s);
  });
});

describe('examples/ci/gitlab-ci.yml', () => {
  const { stages, jobs, doc } = gitlabJobs(gitlab);
  const jobDocs = doc as Record<string, Rec>;
  const scriptOf = (name: string) => jobs.find((j) => j.name === name)!.scripts.join('\n');

  it('plan on merge requests and the default branch; apply-staging a manual job on the staging environment', () => {
    expect(stages).toEqual(['plan', 'apply']);
    expect(jobs.map((j) => `${j.stage}:${j.name}`)).toEqual(['plan:plan', 'apply:apply-staging']);
    expect(JSON.stringify((doc.workflow as Rec).rules)).toContain('merge_request_event');
    const apply = jobDocs['apply-staging']!;
    expect(apply.rules).toEqual([{ if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', when: 'manual' }]);
    expect(apply.allow_failure).toBe(false);
    expect(apply.environment).toEqual({ name: 'staging' });
    expect(apply.needs).toEqual(['plan']);
    expect(jobDocs.plan!.environment).toBeUndefined();
  });

  it('plan --out as an artifact with a dotenv report; apply THAT plan.json with JSON and JUnit reports, then verify', () => {
    expect(jobs.flatMap((j) => j.scripts.flatMap(dpvsCommands))).toEqual([
      ['validate', '$INVENTORY'],
      ['plan', '$INVENTORY', '--out', 'plan.json'],
      ['apply', 'plan.json', '--report-json', 'report.json', '--junit', 'junit.xml'],
      ['verify', '$INVENTORY'],
    ]);
    for (const argv of jobs.flatMap((j) => j.scripts.flatMap(dpvsCommands)))
      expect(() => parsesWithTheCli(argv)).not.toThrow();
    expect(jobDocs.plan!.artifacts).toMatchObject({
      paths: ['plan.json', 'plan.txt'],
      reports: { dotenv: 'plan.env' },
    });
    expect(jobDocs['apply-staging']!.artifacts).toMatchObject({
      when: 'always',
      paths: expect.arrayContaining(['report.json', 'junit.xml']) as unknown,
      reports: { junit: 'junit.xml' },
    });
    expect(scriptOf('apply-staging')).toContain('if [ "$PLAN_CHANGES" != "true" ]');
  });

  it('keys are File variables: the plan key only in plan, the apply key only in apply-staging; no code from the change', () => {
    expect(scriptOf('plan')).toContain('chmod 600 "$DPVS_PLAN_SSH_KEY"');
    expect(scriptOf('plan')).toContain(`IdentityFile %s\\n' "$DPVS_PLAN_SSH_KEY" > ~/.ssh/config`);
    expect(scriptOf('plan')).not.toContain('DPVS_APPLY_SSH_KEY');
    expect(scriptOf('apply-staging')).toContain(`IdentityFile %s\\n' "$DPVS_APPLY_SSH_KEY" > ~/.ssh/config`);
    expect(scriptOf('apply-staging')).not.toContain('DPVS_PLAN_SSH_KEY');
    for (const j of jobs) {
      const all = j.scripts.join('\n');
      expect(all).toContain(`printf '%s\\n' "$DPVS_KNOWN_HOSTS" > ~/.ssh/known_hosts`);
      expect(all).toContain('npm install --global --ignore-scripts --omit=dev "$DPVS_DEPLOY_PACKAGE"');
      expect(all).not.toMatch(/\bnpm (ci|run|test|pack)\b|npx |set -x|ssh-add -$/m);
      expect(all).not.toMatch(/(echo|cat)[^|\n]*\$DPVS_(PLAN|APPLY)_SSH_KEY/);
    }
    expect(header(gitlab)).toMatch(/DPVS_PLAN_SSH_KEY\s+type File, not protected/);
    expect(header(gitlab)).toMatch(/DPVS_APPLY_SSH_KEY\s+type File, protected, environment scope "staging"/);
  });

  it('every variable a script reads is defined (file, header settings, dotenv, predefined); scripts are valid bash', () => {
    const fileVars = Object.keys((doc.variables as Rec) ?? {});
    const settings = [...header(gitlab).matchAll(/^#\s+([A-Z][A-Z0-9_]+)\s{2,}/gm)].map((m) => m[1]!);
    expect(settings).toEqual(
      expect.arrayContaining(['DPVS_DEPLOY_PACKAGE', 'DPVS_KNOWN_HOSTS', 'DPVS_VRRP_PASS']),
    );
    for (const s of settings) expect(readme, s).toContain(s);
    const defined = new Set([...fileVars, ...settings, 'HOME', 'PLAN_CHANGES']);
    for (const j of jobs)
      for (const v of shellVars(j.scripts.join('\n')))
        expect(defined.has(v) || v.startsWith('CI_'), `${j.name}: $${v}`).toBe(true);
    for (const s of jobs.flatMap((j) => j.scripts)) bashOk(s);
    // the dotenv the apply job reads is the one the plan job writes
    expect(scriptOf('plan')).toContain('echo "PLAN_CHANGES=true" > plan.env');
    expect(parse(gitlab)).toBeTruthy();
  });
});

describe('the parsers reject broken CI files', () => {
  it('GitHub without jobs, GitLab without stages or with an unknown stage', () => {
    expect(() => githubJobs('on: push\n')).toThrow(/jobs/);
    expect(() => githubJobs('on: push\njobs:\n  a:\n    runs-on: x\n')).toThrow(/steps/);
    expect(() => gitlabJobs('a:\n  script: [x]\n')).toThrow(/stages/);
    expect(() => gitlabJobs('stages: [a]\nj:\n  stage: b\n  script: [x]\n')).toThrow(/stage b/);
  });

  it('the CLI check fails on an option the CLI does not have; GitLab anchors are flattened', () => {
    expect(() => parsesWithTheCli(['plan', 'x.yaml', '--no-such-flag'])).toThrow();
    expect(dpvsCommands('X=1 dpvs-deploy plan a.yaml --out p.json > plan.txt 2>&1 || code=$?')).toEqual([
      ['plan', 'a.yaml', '--out', 'p.json'],
    ]);
    const { jobs } = gitlabJobs('stages: [a]\n.x: &x\n  - one\nj:\n  stage: a\n  script: [*x, two]\n');
    expect(jobs[0]!.scripts).toEqual(['one', 'two']);
  });

  it('githubIf refuses what it cannot evaluate, and shellVars finds what a script reads', () => {
    expect(() => githubIf("contains(a, 'b')", {})).toThrow(/not played/);
    expect(() => githubIf("x == 'y'", {})).toThrow(/no value/);
    expect([...shellVars(`code=$?\necho "$A \${B}" '$C'; case "$code" in esac`)]).toEqual(['A', 'B']);
  });
});
