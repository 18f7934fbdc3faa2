/**
 * Reads the operators' documents the way the doc and CI tests need them: fenced ```sh blocks of a
 * Markdown page with their `<!-- expect: ... -->` promises, and the `dpvs-deploy ...` command lines of
 * the CI examples (GitHub Actions `run:` and GitLab `script:` strings, in job order).
 */
import { parse } from 'yaml';

export interface Expectation {
  /** the exit code the block's last command must end with (default 0) */
  exit: number;
  /** strings the combined stdout+stderr must contain */
  contains: string[];
  /** strings it must not contain */
  absent: string[];
  /** when set, the block needs this task registered in src/tasks/registry.ts */
  needsTask: string[];
  /** where the block runs: the scratch directory (default) or a fresh clone of the checkout (`in=checkout`) */
  in: 'work' | 'checkout';
}

export interface DocBlock {
  /** 1-based line of the opening fence */
  line: number;
  script: string;
  expect: Expectation;
}

const EXPECT_RE = /<!--\s*expect:(.*?)-->/;

/** `exit=2 contains="change(s)" contains="x" absent="y" needs-task=lb-services in=checkout` */
export function parseExpectation(text: string): Expectation {
  const e: Expectation = { exit: 0, contains: [], absent: [], needsTask: [], in: 'work' };
  const re = /([a-z-]+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))/g;
  let m: RegExpExecArray | null;
  let seen = 0;
  while ((m = re.exec(text))) {
    seen++;
    const key = m[1]!;
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    if (key === 'exit') {
      if (!/^\d+$/.test(value)) throw new Error(`expect: exit=${value} is not a number`);
      e.exit = Number(value);
    } else if (key === 'contains') e.contains.push(value);
    else if (key === 'absent') e.absent.push(value);
    else if (key === 'needs-task') e.needsTask.push(...value.split(','));
    else if (key === 'in') {
      if (value !== 'work' && value !== 'checkout')
        throw new Error(`expect: in=${value} is not work or checkout`);
      e.in = value;
    } else throw new Error(`expect: unknown key ${key}`);
  }
  if (!seen && text.trim()) throw new Error(`expect: cannot read "${text.trim()}"`);
  return e;
}

/** Every ```sh block, with the expectation written in the HTML comment right above it. */
export function docBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```sh') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`line ${start + 1}: unclosed \`\`\`sh block`);
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const m = j >= 0 ? EXPECT_RE.exec(lines[j]!) : null;
    if (!m)
      throw new Error(`line ${start + 1}: \`\`\`sh block without an <!-- expect: ... --> comment above it`);
    out.push({ line: start + 1, script: body.join('\n'), expect: parseExpectation(m[1]!) });
  }
  return out;
}

/** Splits a shell word list (plain words, '...' and "..." quoting); enough for our command lines. */
export function shellWords(s: string): string[] {
  const words: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) words.push(m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3]!);
  return words;
}

/** The `dpvs-deploy` invocations in a shell script, without redirections or what follows `|`, `&&`, `;`. */
export function dpvsCommands(script: string): string[][] {
  const out: string[][] = [];
  for (const raw of script.split('\n')) {
    const line = raw.replace(/^\s*-\s+/, '').trim();
    if (line.startsWith('#')) continue;
    const at = line.search(/(^|[\s;&|(])dpvs-deploy\s/);
    if (at < 0) continue;
    const before = line.slice(0, at + 1);
    // inside a quoted string (an echo of a title, say): not a command
    if ((before.split("'").length - 1) % 2 || (before.split('"').length - 1) % 2) continue;
    const rest = line.slice(at).replace(/^[\s;&|(]/, '');
    const cut = rest.search(/\s(\d?>|\||&&|;|\|\|)/);
    const words = shellWords(cut < 0 ? rest : rest.slice(0, cut));
    if (words[0] === 'dpvs-deploy') out.push(words.slice(1));
  }
  return out;
}

export interface CiJob {
  name: string;
  /** every shell string the job runs, in order (GitHub `run:`, GitLab before_script + script) */
  scripts: string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string or a list of them; GitLab flattens nested lists (YAML anchors in scripts), so this does too. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  return [];
}

/** GitHub Actions: jobs in file order, each job's `run:` steps. Throws when the structure is wrong. */
export function githubJobs(text: string): { doc: Record<string, unknown>; jobs: CiJob[] } {
  const doc: unknown = parse(text);
  if (!isRecord(doc)) throw new Error('workflow is not a mapping');
  if (!('on' in doc)) throw new Error('workflow has no `on:`');
  if (!isRecord(doc.jobs)) throw new Error('workflow has no `jobs:` mapping');
  const jobs = Object.entries(doc.jobs).map(([name, job]): CiJob => {
    if (!isRecord(job) || !Array.isArray(job.steps)) throw new Error(`job ${name} has no steps`);
    if (typeof job['runs-on'] !== 'string') throw new Error(`job ${name} has no runs-on`);
    const scripts = job.steps.flatMap((st: unknown) => {
      if (!isRecord(st)) throw new Error(`job ${name}: a step is not a mapping`);
      if (!('run' in st) && !('uses' in st)) throw new Error(`job ${name}: a step has neither run nor uses`);
      return strings(st.run);
    });
    return { name, scripts };
  });
  return { doc, jobs };
}

const GITLAB_KEYWORDS = new Set([
  'stages',
  'variables',
  'default',
  'workflow',
  'include',
  'image',
  'services',
  'before_script',
  'after_script',
  'cache',
]);

/** GitLab CI: jobs in stage order (then file order), each with default before_script + script. */
export function gitlabJobs(text: string): {
  doc: Record<string, unknown>;
  stages: string[];
  jobs: Array<CiJob & { stage: string }>;
} {
  const doc: unknown = parse(text);
  if (!isRecord(doc)) throw new Error('pipeline is not a mapping');
  const stages = strings(doc.stages);
  if (!stages.length) throw new Error('pipeline has no stages');
  const before = isRecord(doc.default) ? strings(doc.default.before_script) : [];
  const jobs = Object.entries(doc)
    .filter(([k]) => !GITLAB_KEYWORDS.has(k) && !k.startsWith('.'))
    .map(([name, job]) => {
      if (!isRecord(job)) throw new Error(`job ${name} is not a mapping`);
      const stage = typeof job.stage === 'string' ? job.stage : 'test';
      if (!stages.includes(stage)) throw new Error(`job ${name}: stage ${stage} is not in stages`);
      const script = strings(job.script);
      if (!script.length) throw new Error(`job ${name} has no script`);
      const own = 'before_script' in job ? strings(job.before_script) : before;
      return { name, stage, scripts: [...own, ...script] };
    })
    .sort((a, b) => stages.indexOf(a.stage) - stages.indexOf(b.stage));
  return { doc, stages, jobs };
}
