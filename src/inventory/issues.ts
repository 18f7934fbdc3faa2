/**
 * zod 4 issues → human messages with document paths. Unknown keys list the keys allowed there and a
 * "did you mean"; wrong types say what was expected and what was found; unions report the branch the
 * value was evidently meant for.
 */
import type { z } from 'zod';
import type { DocPath, Problem } from './source.js';

type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;

interface Def {
  type: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  element?: Schema;
  valueType?: Schema;
  options?: Schema[];
  in?: Schema;
}

function defOf(s: Schema): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** Strips optional/nullable/default/readonly wrappers. */
function unwrap(s: Schema): Schema {
  let cur = s;
  for (let i = 0; i < 20; i++) {
    const d = defOf(cur);
    if (
      d.innerType &&
      ['optional', 'nullable', 'default', 'readonly', 'catch', 'prefault', 'nonoptional'].includes(d.type)
    ) {
      cur = d.innerType;
    } else if (d.type === 'pipe' && d.in) {
      cur = d.in;
    } else return cur;
  }
  return cur;
}

/** The schema at a path below `s` (objects, arrays, records; unions: the object option having the key). */
export function schemaAt(s: Schema | undefined, path: DocPath): Schema | undefined {
  let cur = s;
  for (const seg of path) {
    if (!cur) return undefined;
    const d = defOf(unwrap(cur));
    if (d.type === 'object' && d.shape) cur = d.shape[String(seg)];
    else if (d.type === 'array' && d.element) cur = d.element;
    else if (d.type === 'record' && d.valueType) cur = d.valueType;
    else if (d.type === 'union' && d.options) {
      cur = d.options.map((o) => schemaAt(o, [seg])).find((x) => x !== undefined);
    } else return undefined;
  }
  return cur;
}

function objectKeys(s: Schema | undefined): string[] {
  if (!s) return [];
  const d = defOf(unwrap(s));
  if (d.type === 'object' && d.shape) return Object.keys(d.shape);
  if (d.type === 'union' && d.options) return [...new Set(d.options.flatMap((o) => objectKeys(o)))];
  return [];
}

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min(
        (prev[j] as number) + 1,
        (prev[j - 1] as number) + 1,
        diag + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}

/** The closest candidate within a small edit distance, if any. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return best !== undefined && bestD <= limit ? best : undefined;
}

/** ", got <value>" for scalars; collections are shown by their position already. */
function got(v: unknown): string {
  return typeof v === 'object' && v !== null ? '' : `, got ${describeValue(v)}`;
}

/** "a string ('abc')", "a list", "a mapping", "nothing (empty value)" */
export function describeValue(v: unknown): string {
  if (v === null) return 'nothing (an empty value)';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string': {
      const shown = v.length > 40 ? `${v.slice(0, 40)}…` : v;
      return `a string (${JSON.stringify(shown)})`;
    }
    case 'number':
      return Number.isInteger(v) ? `the number ${v}` : `the number ${v}`;
    case 'boolean':
      return `a boolean (${v})`;
    case 'object':
      return 'a mapping';
    default:
      return typeof v;
  }
}

const EXPECTED_TEXT: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'a boolean (true or false)',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  literal: 'a fixed value',
};

function isDefaultMessage(m: string): boolean {
  return /^(Invalid|Too small|Too big|Expected|Unrecognized)/.test(m);
}

function boolHint(input: unknown): string {
  return typeof input === 'string' && /^(yes|no|on|off|y|n|true|false)$/i.test(input)
    ? ` (write true or false without quotes)`
    : '';
}

function quoteList(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');
}

/** Converts zod issues (paths relative to `base`, schema `schema` at `base`) into problems. */
export function issuesToProblems(issues: readonly Issue[], schema: Schema, base: DocPath = []): Problem[] {
  const out: Problem[] = [];
  for (const iss of issues) out.push(...issueToProblems(iss, schema, base));
  return out;
}

function issueToProblems(iss: Issue, root: Schema, base: DocPath): Problem[] {
  const rel = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
  const path = [...base, ...rel];
  const input = (iss as { input?: unknown }).input;
  const last = rel[rel.length - 1];
  switch (iss.code) {
    case 'unrecognized_keys': {
      const allowed = objectKeys(schemaAt(root, rel));
      return iss.keys.map((k) => {
        const guess = didYouMean(k, allowed);
        return {
          path: [...path, k],
          atKey: true,
          message:
            `unknown key '${k}'` +
            (allowed.length ? ` (expected one of: ${allowed.join(', ')}` : ' (') +
            (guess ? `; did you mean '${guess}'?)` : ')').replace(/^ \(\)$/, ''),
        };
      });
    }
    case 'invalid_type': {
      if (input === undefined) {
        return [
          {
            path: path.slice(0, -1),
            atKey: true,
            message: `missing required key '${String(last)}' (expected ${EXPECTED_TEXT[iss.expected] ?? iss.expected})`,
          },
        ];
      }
      if (!isDefaultMessage(iss.message) && iss.expected !== 'number' && iss.expected !== 'object') {
        return [{ path, message: `${iss.message}, got ${describeValue(input)}` }];
      }
      const exp = EXPECTED_TEXT[iss.expected] ?? iss.expected;
      const hint =
        iss.expected === 'boolean'
          ? boolHint(input)
          : iss.expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')
            ? ' (YAML read it as a number or boolean; put the value in quotes)'
            : '';
      const custom = !isDefaultMessage(iss.message) ? ` (${iss.message})` : '';
      return [{ path, message: `expected ${exp}, got ${describeValue(input)}${hint}${custom}` }];
    }
    case 'invalid_value': {
      if (input === undefined) {
        return [
          {
            path: path.slice(0, -1),
            atKey: true,
            message: `missing required key '${String(last)}' (expected ${quoteList(iss.values)})`,
          },
        ];
      }
      const guess =
        typeof input === 'string'
          ? didYouMean(
              input,
              iss.values.filter((v): v is string => typeof v === 'string'),
            )
          : undefined;
      const what = iss.values.length === 1 ? quoteList(iss.values) : `one of: ${quoteList(iss.values)}`;
      if (!isDefaultMessage(iss.message)) return [{ path, message: `${iss.message}${got(input)}` }];
      return [
        {
          path,
          message: `expected ${what}, got ${describeValue(input)}${guess ? `; did you mean '${guess}'?` : ''}`,
        },
      ];
    }
    case 'invalid_format': {
      if (!isDefaultMessage(iss.message))
        return [{ path, message: `${iss.message}, got ${describeValue(input)}` }];
      const pattern = (iss as { pattern?: string }).pattern;
      return [
        { path, message: `expected a string matching ${pattern ?? iss.format}, got ${describeValue(input)}` },
      ];
    }
    case 'too_small':
    case 'too_big': {
      if (!isDefaultMessage(iss.message)) return [{ path, message: `${iss.message}${got(input)}` }];
      const small = iss.code === 'too_small';
      const bound = small
        ? (iss as { minimum: number | bigint }).minimum
        : (iss as { maximum: number | bigint }).maximum;
      const incl = iss.inclusive !== false;
      const origin = iss.origin;
      if (origin === 'array' || origin === 'set') {
        return [
          {
            path,
            message: `expected ${small ? 'at least' : 'at most'} ${bound} item${Number(bound) === 1 ? '' : 's'}, got ${Array.isArray(input) ? input.length : 'a different count'}`,
          },
        ];
      }
      if (origin === 'string') {
        return [
          {
            path,
            message:
              Number(bound) <= 1 && small
                ? 'expected a non-empty string'
                : `expected ${small ? 'at least' : 'at most'} ${bound} characters`,
          },
        ];
      }
      const op = small ? (incl ? '≥' : '>') : incl ? '≤' : '<';
      return [{ path, message: `expected a number ${op} ${bound}, got ${describeValue(input)}` }];
    }
    case 'invalid_key': {
      const inner = iss.issues.map((i) =>
        isDefaultMessage(i.message) && i.code === 'invalid_format'
          ? `expected a string matching ${(i as { pattern?: string }).pattern ?? i.format}`
          : i.message,
      );
      const key = String(last);
      const where = describeKeyContext(base, rel);
      return [
        {
          path,
          atKey: true,
          message: `invalid ${where} ${JSON.stringify(key)}: ${inner[0] ?? 'not allowed here'}`,
        },
      ];
    }
    case 'invalid_union':
      return unionProblems(iss, root, rel, base, input);
    case 'invalid_element':
      return [{ path, message: iss.message }];
    case 'custom':
      return [
        {
          path,
          message: isDefaultMessage(iss.message)
            ? `invalid value ${describeValue(input)}`
            : `${iss.message}${got(input)}`,
        },
      ];
    default:
      return [{ path, message: iss.message }];
  }
}

function describeKeyContext(base: DocPath, rel: DocPath): string {
  const full = [...base, ...rel];
  const parent = full[full.length - 2];
  if (full.length === 2 && parent === 'hosts') return 'host name';
  if (full.length === 2 && parent === 'groups') return 'group name';
  if (parent === 'per_node') return 'NUMA node';
  if (parent === 'local_addresses') return 'balancer name';
  if (parent === 'ports') return 'port name';
  return 'key';
}

/** Issues at the union's own path (type mismatch, unknown keys, missing keys) mean "wrong branch". */
function rootIssueCount(branch: readonly Issue[]): number {
  return branch.filter(
    (i) =>
      i.path.length === 0 || (i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined),
  ).length;
}

function unionProblems(
  iss: Extract<Issue, { code: 'invalid_union' }>,
  root: Schema,
  rel: DocPath,
  base: DocPath,
  input: unknown,
): Problem[] {
  const path = [...base, ...rel];
  const unionSchema = schemaAt(root, rel);
  const options = unionSchema ? (defOf(unwrap(unionSchema)).options ?? []) : [];
  const branches = iss.errors.map((errs, idx) => ({ errs, idx, roots: rootIssueCount(errs) }));
  const fitting = branches.filter((b) => b.roots === 0);
  const pick =
    fitting.length === 1
      ? fitting[0]
      : typeof input === 'object' && input !== null && !Array.isArray(input)
        ? // a mapping: the object branch whose keys it shares most
          [...branches]
            .filter((b) => objectKeys(options[b.idx]).length > 0)
            .sort(
              (a, b) =>
                sharedKeys(input, options[b.idx]) - sharedKeys(input, options[a.idx]) || a.roots - b.roots,
            )[0]
        : undefined;
  if (pick && options[pick.idx]) {
    return issuesToProblems(pick.errs, options[pick.idx] as Schema, path);
  }
  // No branch fits: say what each would have wanted.
  const wants = new Set<string>();
  for (const b of branches) {
    for (const e of b.errs.filter((x) => x.path.length === 0)) {
      if (e.code === 'invalid_type') wants.add(EXPECTED_TEXT[e.expected] ?? e.expected);
      else if (e.code === 'invalid_value') wants.add(quoteList(e.values));
      else if (!isDefaultMessage(e.message)) wants.add(e.message.replace(/^expected /, ''));
    }
  }
  return [
    {
      path,
      message: `expected ${[...wants].join(', or ') || 'a different value'}, got ${describeValue(input)}`,
    },
  ];
}

function sharedKeys(input: object, option: Schema | undefined): number {
  const keys = objectKeys(option);
  return Object.keys(input).filter((k) => keys.includes(k)).length;
}
