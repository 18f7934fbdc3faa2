/**
 * The layers of src/ and their one-way imports (docs/architecture.md). Each directory has a rank; a
 * module may import from its own directory or from a directory of LOWER rank only, so data flows
 * inventory → facts → plan → apply and nothing reaches up. The planners (tasks, lb, preflight, the
 * desired-state derivations, the plan contracts, dpvs.conf rendering) must not read files, the
 * environment or the network: everything control-side is read once when the inventory loads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Lowest first. Files directly under src/ (errors, escape, paths, versions) are the base. */
export const LAYERS: Record<string, number> = {
  '.': 0,
  inventory: 1,
  transport: 2,
  facts: 3,
  dpvsconf: 3,
  desired: 4,
  plan: 4,
  lb: 5,
  preflight: 5,
  tasks: 6,
  run: 7,
  discover: 7,
  cli: 8,
};

/** Pure layers: no file system, process environment, child processes or sockets. */
const PURE = ['desired', 'plan', 'lb', 'preflight', 'tasks', 'dpvsconf'];
/** Modules of a pure layer that are I/O by their job (reading a saved plan file the user names). */
const PURE_EXCEPTIONS = new Set(['plan/plan-file.ts']);
const IMPURE_IMPORTS = [
  'node:fs',
  'node:fs/promises',
  'node:child_process',
  'node:dgram',
  'node:os',
  'node:http',
  'node:https',
  'node:tls',
  'execa',
  'ssh2',
];
/** node:net is a socket library, but its address parsers are pure. */
const PURE_NAMED: Record<string, RegExp> = {
  'node:net': /^\{\s*(isIP|isIPv4|isIPv6)(\s*,\s*(isIP|isIPv4|isIPv6))*\s*\}$/,
};

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const layerOf = (file: string): string => {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? '.' : (rel[0] as string);
};

/** Module specifiers a file imports; with `values`, only imports that survive compilation (not `import type`). */
export function importsOf(text: string, values = false): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(import|export)(\s+type\b)?([^'";]*?)from\s+['"]([^'"]+)['"]/g)) {
    if (values) {
      if (m[2]) continue;
      const names = /\{([^}]*)\}/.exec(m[3] as string)?.[1];
      const onlyTypes =
        names !== undefined &&
        !/^\s*\w/.test(
          (m[3] as string)
            .replace(/\{[^}]*\}/, '')
            .replace(/,/g, '')
            .trim() || '',
        ) &&
        names.split(',').every((n) => n.trim() === '' || /^type\s/.test(n.trim()));
      if (onlyTypes) continue;
    }
    out.push(m[4] as string);
  }
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] as string);
  return out;
}

const files = walk(SRC);

describe('src/ layering', () => {
  it('every directory of src/ has a layer', () => {
    const dirs = new Set(files.map(layerOf));
    expect([...dirs].filter((d) => !(d in LAYERS))).toEqual([]);
  });

  it('imports point down the layers only (or stay in their directory)', () => {
    const bad: string[] = [];
    for (const f of files) {
      const from = layerOf(f);
      for (const spec of importsOf(readFileSync(f, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const to = layerOf(resolve(dirname(f), spec));
        if (to === from) continue;
        if ((LAYERS[to] ?? 99) >= (LAYERS[from] ?? -1))
          bad.push(`${relative(SRC, f)} imports ${spec} (${from}:${LAYERS[from]} -> ${to}:${LAYERS[to]})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('planners read no files, environment, processes or network, not even through a lower module', () => {
    // what each module does itself, then the closure over its value imports
    const direct = new Map<string, string[]>();
    const deps = new Map<string, string[]>();
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const own = importsOf(text, true).filter((s) => IMPURE_IMPORTS.includes(s));
      for (const m of text.matchAll(/import\s+(\{[^}]*\}|\*\s+as\s+\w+|\w+)\s+from\s+['"](node:net)['"]/g))
        if (!(PURE_NAMED[m[2] as string] as RegExp).test((m[1] as string).trim())) own.push(m[2] as string);
      if (/\bprocess\.env\b/.test(text)) own.push('process.env');
      direct.set(f, own);
      deps.set(
        f,
        importsOf(text, true)
          .filter((s) => s.startsWith('.'))
          .map((s) => resolve(dirname(f), s).replace(/\.js$/, '.ts')),
      );
    }
    const impure = (f: string, seen = new Set<string>()): string[] => {
      if (seen.has(f)) return [];
      seen.add(f);
      const own = (direct.get(f) ?? []).map((s) => `${relative(SRC, f)} uses ${s}`);
      return [...own, ...(deps.get(f) ?? []).flatMap((d) => impure(d, seen))];
    };
    const bad: string[] = [];
    for (const f of files) {
      const rel = relative(SRC, f);
      if (!PURE.includes(layerOf(f)) || PURE_EXCEPTIONS.has(rel)) continue;
      const why = impure(f);
      if (why.length) bad.push(`${rel}: ${[...new Set(why)].join('; ')}`);
    }
    expect(bad).toEqual([]);
  });

  it('type-only imports are not value imports; value imports are', () => {
    const text = [
      "import { x } from '../run/engine.js';",
      "import type { T } from './t.js';",
      "import { type U } from './u.js';",
      "import { type V, w } from './v.js';",
      "export { y } from './z.js';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['../run/engine.js', './t.js', './u.js', './v.js', './z.js']);
    expect(importsOf(text, true)).toEqual(['../run/engine.js', './v.js', './z.js']);
  });
});

describe('test/unit mirrors src/', () => {
  const UNIT = resolve(SRC, '..', 'test', 'unit');
  const dirsUnder = (root: string, rel = ''): string[] =>
    readdirSync(join(root, rel), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .flatMap((e) => {
        const r = rel ? `${rel}/${e.name}` : e.name;
        return [r, ...dirsUnder(root, r)];
      });

  it('every folder of test/unit/ is a folder of src/', () => {
    const src = new Set(dirsUnder(SRC));
    const strays = dirsUnder(UNIT).filter((d) => !src.has(d));
    expect(strays).toEqual([]);
  });

  it('a unit test of a src/ folder sits in that folder, not at the top', () => {
    // The top holds only the tests of the whole tree (docs/testing.md, "Where the unit tests are").
    const top = readdirSync(UNIT).filter((f) => f.endsWith('.ts'));
    expect(top.sort()).toEqual([
      'architecture.test.ts',
      'cpu-list.test.ts',
      'escaping.test.ts',
      'lab-instance.test.ts',
      'package.test.ts',
      'remote-commands.test.ts',
      'upstream-corpus.test.ts',
    ]);
  });
});

/**
 * Where a module reads the host's raw readings (facts.outputs) itself: `.outputs`, `['outputs']`, or
 * `{ outputs } =` destructuring, comments left out. Only src/facts (the typed readers) may.
 */
export function rawReadings(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const re of [/\.outputs\b/g, /\[\s*['"`]outputs['"`]\s*\]/g, /\{[^{}]*\boutputs\b[^{}]*\}\s*=/g])
    for (const m of code.matchAll(re)) out.push(m[0].replace(/\s+/g, ' '));
  return out;
}

describe('facts are read through the typed readers', () => {
  it('no module outside src/facts reads facts.outputs (the raw readings): it asks a reader (src/facts/read.ts)', () => {
    const bad: string[] = [];
    for (const f of files) {
      if (layerOf(f) === 'facts') continue;
      for (const hit of rawReadings(readFileSync(f, 'utf8'))) bad.push(`${relative(SRC, f)}: ${hit}`);
    }
    expect(bad).toEqual([]);
  });

  it('the check finds each way of reading them, and not a comment or an object key', () => {
    expect(rawReadings('const o = facts.outputs[KEY];')).toEqual(['.outputs']);
    expect(rawReadings("const o = facts['outputs'];")).toEqual(["['outputs']"]);
    expect(rawReadings('const { outputs } = ctx.facts;')).toEqual(['{ outputs } =']);
    expect(rawReadings('const { os, outputs: o } = facts;')).toEqual(['{ os, outputs: o } =']);
    expect(rawReadings('// facts.outputs[KEY]\n/* f.outputs */\nconst x = { outputs: undefined };')).toEqual(
      [],
    );
  });
});
