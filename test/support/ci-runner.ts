/**
 * Plays GitHub Actions and GitLab CI for one job of examples/ci, closely enough to run the jobs' own
 * scripts in order on this machine: the job's variables and secrets (GitLab File variables become files
 * whose path is the value), `${{ secrets.X }}` / `${{ vars.X }}` / `${{ steps.ID.outputs.X }}`,
 * `$GITHUB_ENV` / `$GITHUB_OUTPUT` / `$GITHUB_STEP_SUMMARY`, a fresh checkout and a fresh home per job,
 * and artifacts (GitHub upload/download-artifact, GitLab `artifacts:` with its dotenv report, fetched by
 * `needs:`) carried from job to job through a store directory.
 *
 * What it does not play: the runner image (the jobs run on this machine, with its node and npm), caches,
 * services, `rules:`/`if:` (the test decides which job runs and asserts the conditions itself).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export interface CiSettings {
  /** GitHub `vars.*`, GitLab plain CI/CD variables */
  vars: Record<string, string>;
  /** GitHub `secrets.*` (GitLab: masked variables go in vars) */
  secrets?: Record<string, string>;
  /** GitLab File variables: name → content */
  files?: Record<string, string>;
}

export interface CiWorld {
  /** the pristine checkout copied to `checkout` at the start of every job (same absolute path each time) */
  template: string;
  checkout: string;
  /** artifacts between jobs: store/<artifact or job name>/... */
  store: string;
  /** scratch: homes, File variables, GITHUB_* files, npm prefixes */
  scratch: string;
  /** the environment every job starts from (PATH, npm settings) */
  baseEnv: NodeJS.ProcessEnv;
  /** GitHub `github.event_name`, GitLab predefined variables */
  predefined?: Record<string, string>;
  timeoutMs?: number;
}

export interface JobRun {
  job: string;
  code: number;
  /** every step's/script's output, in order */
  output: string;
  /** GitHub: the job's `outputs:` evaluated; GitLab: the dotenv report's variables */
  outputs: Record<string, string>;
  summary: string;
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** GitLab allows nested lists in scripts (YAML anchors); GitHub never has them. */
export function flatStrings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(flatStrings);
  return [];
}

let counter = 0;
function fresh(world: CiWorld, what: string): string {
  const d = path.join(world.scratch, `${what}-${++counter}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function resetCheckout(world: CiWorld): void {
  rmSync(world.checkout, { recursive: true, force: true });
  cpSync(world.template, world.checkout, { recursive: true, verbatimSymlinks: true });
}

function copyInto(paths: string[], from: string, to: string): string[] {
  const copied: string[] = [];
  for (const p of paths) {
    const src = path.join(from, p);
    if (!existsSync(src)) continue;
    cpSync(src, path.join(to, p), { recursive: true });
    copied.push(p);
  }
  return copied;
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? 255, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

function readKeyValues(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

// ---------- GitHub Actions ----------

/** `${{ secrets.X }}`, `${{ vars.X }}`, `${{ steps.ID.outputs.X }}`; anything else is not played: throws. */
export function githubExpand(
  text: string,
  ctx: { settings: CiSettings; steps: Record<string, Rec> },
): string {
  return text.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_m, expr: string) => {
    let m = /^secrets\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (m) return ctx.settings.secrets?.[m[1]!] ?? '';
    m = /^vars\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (m) return ctx.settings.vars[m[1]!] ?? '';
    m = /^steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)$/.exec(expr);
    if (m) return String(ctx.steps[m[1]!]?.[m[2]!] ?? '');
    throw new Error(`ci-runner: expression not played: \${{ ${expr} }}`);
  });
}

/** A job-level `if:` made of `a == 'b'` terms joined by `&&`, over the given context values. */
export function githubIf(expr: string, ctx: Record<string, string>): boolean {
  return expr.split('&&').every((term) => {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*==\s*'([^']*)'\s*$/.exec(term);
    if (!m) throw new Error(`ci-runner: if term not played: ${term}`);
    if (!(m[1]! in ctx)) throw new Error(`ci-runner: no value for ${m[1]} in the if context`);
    return ctx[m[1]!] === m[2];
  });
}

export function runGithubJob(yamlText: string, job: string, world: CiWorld, settings: CiSettings): JobRun {
  const doc = parse(yamlText) as Rec;
  const jobs = doc.jobs as Rec;
  const j = jobs[job];
  if (!isRec(j) || !Array.isArray(j.steps)) throw new Error(`no job ${job}`);
  resetCheckout(world);
  const home = fresh(world, `home-${job}`);
  const files = fresh(world, `gh-${job}`);
  const githubEnv = path.join(files, 'env');
  const summary = path.join(files, 'summary.md');
  writeFileSync(githubEnv, '');
  writeFileSync(summary, '');
  const steps: Record<string, Rec> = {};
  const ctx = { settings, steps };
  const envOf = (m: unknown): Record<string, string> =>
    isRec(m) ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, githubExpand(String(v), ctx)])) : {};
  const env: NodeJS.ProcessEnv = {
    ...world.baseEnv,
    HOME: home,
    GITHUB_ENV: githubEnv,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_WORKSPACE: world.checkout,
    ...(world.predefined ?? {}),
    ...envOf(doc.env),
    ...envOf(j.env),
  };
  let output = '';
  let failed = 0;
  for (const [i, raw] of (j.steps as unknown[]).entries()) {
    if (!isRec(raw)) throw new Error(`${job}: step ${i} is not a mapping`);
    const cond = typeof raw.if === 'string' ? raw.if.trim() : undefined;
    if (failed && cond !== 'always()') continue;
    if (cond !== undefined && cond !== 'always()') throw new Error(`${job}: step if not played: ${cond}`);
    const uses = typeof raw.uses === 'string' ? raw.uses : undefined;
    const w = isRec(raw.with) ? raw.with : {};
    if (uses) {
      if (uses.startsWith('actions/checkout@') || uses.startsWith('actions/setup-node@')) continue;
      const name = String(w.name ?? 'artifact');
      if (uses.startsWith('actions/upload-artifact@')) {
        const dest = path.join(world.store, name);
        rmSync(dest, { recursive: true, force: true });
        mkdirSync(dest, { recursive: true });
        const paths = String(w.path ?? '')
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
        output += `[upload-artifact ${name}: ${copyInto(paths, world.checkout, dest).join(' ')}]\n`;
        continue;
      }
      if (uses.startsWith('actions/download-artifact@')) {
        const src = path.join(world.store, name);
        if (!existsSync(src)) {
          output += `[download-artifact ${name}: no such artifact]\n`;
          failed = 1;
          continue;
        }
        cpSync(src, world.checkout, { recursive: true });
        continue;
      }
      throw new Error(`${job}: action not played: ${uses}`);
    }
    const outFile = path.join(files, `output-${i}`);
    writeFileSync(outFile, '');
    const stepEnv = { ...env, ...readKeyValues(githubEnv), ...envOf(raw.env), GITHUB_OUTPUT: outFile };
    const r = bash(githubExpand(String(raw.run), ctx), world.checkout, stepEnv, world.timeoutMs ?? 1_800_000);
    output += `[step ${String(raw.name ?? raw.id ?? i)}: exit ${r.code}]\n${r.output}`;
    if (typeof raw.id === 'string') steps[raw.id] = { ...readKeyValues(outFile) };
    if (r.code !== 0 && !failed) failed = r.code;
  }
  const outputs = isRec(j.outputs)
    ? Object.fromEntries(Object.entries(j.outputs).map(([k, v]) => [k, githubExpand(String(v), ctx)]))
    : {};
  return { job, code: failed, output, outputs, summary: readFileSync(summary, 'utf8') };
}

// ---------- GitLab CI ----------

export function runGitlabJob(yamlText: string, job: string, world: CiWorld, settings: CiSettings): JobRun {
  const doc = parse(yamlText) as Rec;
  const j = doc[job];
  if (!isRec(j)) throw new Error(`no job ${job}`);
  resetCheckout(world);
  const home = fresh(world, `home-${job}`);
  const fileVars = fresh(world, `files-${job}`);
  const vars: Record<string, string> = {};
  const plain = (m: unknown) => (isRec(m) ? Object.entries(m).map(([k, v]) => [k, String(v)] as const) : []);
  for (const [k, v] of plain(doc.variables)) vars[k] = v;
  for (const [k, v] of Object.entries(settings.vars)) vars[k] = v;
  for (const [k, content] of Object.entries(settings.files ?? {})) {
    const f = path.join(fileVars, k);
    writeFileSync(f, content, { mode: 0o644 });
    vars[k] = f;
  }
  for (const [k, v] of Object.entries(world.predefined ?? {})) vars[k] = v;
  for (const [k, v] of plain(j.variables)) vars[k] = v;
  // needs: the named jobs' artifacts into the checkout, their dotenv reports into the variables
  for (const need of flatStrings(j.needs)) {
    const src = path.join(world.store, need);
    if (!existsSync(src)) throw new Error(`${job} needs ${need}, which left no artifacts`);
    const dotenv = path.join(world.store, `${need}.dotenv`);
    if (existsSync(dotenv)) Object.assign(vars, readKeyValues(dotenv));
    cpSync(src, world.checkout, { recursive: true });
  }
  const def = isRec(doc.default) ? doc.default : {};
  const before = flatStrings('before_script' in j ? j.before_script : def.before_script);
  const script = [...before, ...flatStrings(j.script)].join('\n');
  const env = { ...world.baseEnv, HOME: home, CI_PROJECT_DIR: world.checkout, ...vars };
  const r = bash(script, world.checkout, env, world.timeoutMs ?? 1_800_000);
  // artifacts (on success, or always with when: always), and the dotenv report
  const art = isRec(j.artifacts) ? j.artifacts : {};
  const outputs: Record<string, string> = {};
  if (r.code === 0 || art.when === 'always') {
    const dest = path.join(world.store, job);
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    const reports = isRec(art.reports) ? art.reports : {};
    copyInto([...flatStrings(art.paths), ...flatStrings(reports.junit)], world.checkout, dest);
    for (const d of flatStrings(reports.dotenv)) {
      const f = path.join(world.checkout, d);
      if (existsSync(f)) {
        Object.assign(outputs, readKeyValues(f));
        writeFileSync(path.join(world.store, `${job}.dotenv`), readFileSync(f));
      }
    }
  }
  return { job, code: r.code, output: r.output, outputs, summary: '' };
}
