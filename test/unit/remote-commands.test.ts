/**
 * Every remote command is built with `sh` / `quote` (src/transport/quote.ts). This test reads src/ and
 * finds command strings built any other way: untagged template literals (or string concatenation)
 * passed to `.exec(` or used as a Step's `command:` / `onFailure:`. Inside such a template, each `${…}`
 * must itself be `sh\`…\`` or `quote(…)`, or be one of the reviewed fragments below (identifiers that
 * hold strings already built with `sh`). A new unreviewed one fails the test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** file -> interpolations reviewed as holding sh-built text (checked where they are defined). */
const REVIEWED: Record<string, string[]> = {
  // verifyCommand() returns sh`…` text; r.label / l.path are only inside its (quoted) message argument
  'src/tasks/dpdk/fetch.ts': [
    'verifyCommand(part, sha, `${r.label} (${url})`)',
    'verifyCommand(part, sha, `${r.label} (${l.path})`)',
  ],
  // `fresh` is sh`rm -rf ${tree} && mkdir -p ${tree}`-style text built in the same function
  'src/tasks/dpvs/source.ts': ['fresh'],
  // `active` is a constant; `s.command` is a step of restartSteps() (sh-built in dpvs/restart.ts)
  'src/tasks/dpvs/rollback.ts': ['active', 's.command'],
  // unitGoneCommand() (tasks/cause.ts) and healthCommand() (dpvs/health.ts) return sh`…` text
  'src/tasks/dpvs/restart.ts': ['unitGoneCommand(DPVS_UNIT)', 'healthCommand(l, ports)'],
  // `command` is a reconciler op's command (sh-built in src/lb/commands.ts); `present` is sh`…`
  'src/lb/plan-support.ts': ['command', 'present'],
  // verifyCachedCommand() returns verifySha256Command()'s sh`…` text; the label is only inside its
  // (quoted) message argument
  'src/plan/ops/fetch-source.ts': ["verifyCachedCommand(u.tarball, u.sha256, u.label ?? 'tarball')"],
};

/** src/cli builds report labels ("dpvs-deploy apply FILE") with `command:`: not remote commands. */
const NOT_REMOTE = new Set(['src/cli/commands.ts']);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The template literal starting at s[i] === '`' → [end index (exclusive), interpolation sources]. */
function readTemplate(s: string, i: number): [number, string[]] {
  const parts: string[] = [];
  let j = i + 1;
  while (j < s.length && s[j] !== '`') {
    if (s[j] === '\\') {
      j += 2;
      continue;
    }
    if (s[j] === '$' && s[j + 1] === '{') {
      let depth = 1;
      let k = j + 2;
      while (k < s.length && depth > 0) {
        if (s[k] === '`') {
          k = readTemplate(s, k)[0];
          continue;
        }
        if (s[k] === '{') depth++;
        if (s[k] === '}') depth--;
        k++;
      }
      parts.push(s.slice(j + 2, k - 1).trim());
      j = k;
      continue;
    }
    j++;
  }
  return [j + 1, parts];
}

export interface Finding {
  file: string;
  line: number;
  fragment: string;
}

export function findUnquoted(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  const re = /(\.exec\(\s*|\bcommand:\s*|\bonFailure:\s*)(`|['"][^'"\n]*['"]\s*\+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index + (m[1] ?? '').length;
    const line = text.slice(0, m.index).split('\n').length;
    if (m[2] !== '`') {
      out.push({ file, line, fragment: 'string concatenation' });
      continue;
    }
    const [, parts] = readTemplate(text, start);
    for (const p of parts) {
      if (/^sh`/.test(p) || /^quote\(/.test(p)) continue;
      if ((REVIEWED[file] ?? []).includes(p)) continue;
      out.push({ file, line, fragment: p });
    }
  }
  return out;
}

describe('remote commands are built only through sh/quote', () => {
  it('src/ has no unreviewed raw interpolation in a remote command', () => {
    const findings = tsFiles('src')
      .map((f) => f.split(path.sep).join('/'))
      .filter((f) => !NOT_REMOTE.has(f))
      .flatMap((f) => findUnquoted(f, readFileSync(f, 'utf8')));
    expect(findings.map((x) => `${x.file}:${x.line}: \${${x.fragment}}`)).toEqual([]);
  });

  it('the scanner catches the patterns it is meant to catch', () => {
    const bad = [
      'await t.exec(`rm -rf ${dir}`);',
      "steps: [{ kind: 'exec', command: `mount ${host.mount}` }]",
      '{ onFailure: `journalctl -u ${unit}` }',
      "await t.exec('ls ' + path);",
    ];
    for (const b of bad) expect(findUnquoted('x.ts', b).length, b).toBe(1);
    const good = [
      'await t.exec(sh`rm -rf ${dir}`);',
      'command: `systemctl enable --now ${quote(unit)}`',
      'command: `${sh`a ${b}`} && ${sh`c ${d}`}`',
    ];
    for (const g of good) expect(findUnquoted('x.ts', g), g).toEqual([]);
  });
});
