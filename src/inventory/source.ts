/**
 * The inventory as a YAML document with positions: parsing (errors and warnings kept, duplicate keys
 * refused, alias expansion bounded), and mapping document paths back to line:col.
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
} from 'yaml';
import type { SourcePosition } from './types.js';
import { MAX_NESTING } from './guards.js';

export type DocPath = ReadonlyArray<string | number>;

/** A problem before paths exist (YAML syntax) or with a path (schema, semantics). */
export interface Problem {
  path: DocPath;
  message: string;
  /** Explicit position (YAML errors); otherwise derived from the path. */
  pos?: SourcePosition;
  /** Point at the key of the path's last segment rather than its value. */
  atKey?: boolean;
  /** The other value the problem's value conflicts with: its position is appended to the message. */
  related?: DocPath;
}

export const MAX_ALIAS_COUNT = 100;

/** `hosts.lb1.nics[0].match.pci`; keys that are no plain identifiers are quoted: `hosts["a b"]`. */
export function formatPath(path: DocPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export interface ParsedSource {
  doc: Document.Parsed;
  lineCounter: LineCounter;
  errors: Problem[];
  warnings: Problem[];
  /** Plain data of the document (undefined when YAML errors prevent it). */
  data: unknown;
}

const YAML_CODE_TEXT: Record<string, string> = {
  DUPLICATE_KEY: 'duplicate key',
  BAD_INDENT: 'bad indentation',
  TAB_AS_INDENT: 'tabs are not allowed for indentation; use spaces',
  MISSING_CHAR: 'missing character',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line (missing ":" or a quote?)',
  BLOCK_AS_IMPLICIT_KEY: 'a nested block cannot be a key',
  UNEXPECTED_TOKEN: 'unexpected token',
  BAD_SCALAR_START: 'a plain value cannot start with this character; quote it',
  BAD_ALIAS: 'bad alias',
  BAD_DIRECTIVE: 'bad directive',
  BAD_DQ_ESCAPE: 'bad escape in a double-quoted string',
  DUPLICATE_KEY_ALIAS: 'duplicate key',
  KEY_OVER_1024_CHARS: 'a key may be at most 1024 characters',
  TAG_RESOLVE_FAILED: 'unknown tag',
};

/** One-line message for a YAML parser error: its own first line, prefixed with our wording. */
function yamlMessage(code: string, message: string, text: string, offset: number): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim();
  if (/multiple documents/i.test(first)) {
    return "an inventory is one YAML document: remove the '---' separator and everything after it";
  }
  if (code === 'DUPLICATE_KEY') {
    const key = /^[^\n:]*/.exec(text.slice(offset, offset + 200))?.[0]?.trim() ?? '';
    return `duplicate key${key ? ` '${key}'` : ''}: each key may appear once in a mapping`;
  }
  const ours = YAML_CODE_TEXT[code];
  return ours && !first.toLowerCase().startsWith(ours.toLowerCase())
    ? `YAML: ${first} (${ours})`
    : `YAML: ${first}`;
}

export function parseSource(text: string): ParsedSource {
  const lineCounter = new LineCounter();
  // Duplicate keys are found by duplicateKeys below, in one pass: yaml's own uniqueKeys check compares
  // each key with every earlier one of its mapping (quadratic: seconds for a 20,000-host `hosts`).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true });
  const pos = (offset: number): SourcePosition => {
    const lp = lineCounter.linePos(Math.min(Math.max(offset, 0), text.length));
    return { line: Math.max(1, lp.line), col: Math.max(1, lp.col) };
  };
  const errors: Problem[] = [...doc.errors, ...duplicateKeys(doc)]
    .sort((a, b) => a.pos[0] - b.pos[0])
    .map((e) => ({
      path: [],
      message: yamlMessage(e.code, e.message, text, e.pos[0]),
      pos: pos(e.pos[0]),
    }));
  const warnings: Problem[] = doc.warnings.map((w) => ({
    path: [],
    message: yamlMessage(w.code, w.message, text, w.pos[0]),
    pos: pos(w.pos[0]),
  }));
  // Multiple documents: yaml's parseDocument reports them as an error already ("Source contains multiple documents").
  let data: unknown = undefined;
  if (doc.errors.length === 0) {
    const depth = deepestNode(doc.contents, MAX_NESTING);
    if (depth) {
      errors.push({
        path: [],
        message: `the document is nested more than ${MAX_NESTING} levels deep`,
        pos: pos(depth),
      });
    } else {
      try {
        data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        errors.push({
          path: [],
          message: /excessive alias/i.test(msg)
            ? `aliases expand too much (more than ${MAX_ALIAS_COUNT} alias uses per anchor; a "billion laughs" document?)`
            : `YAML: ${msg.split('\n')[0]}`,
          pos: pos(firstAlias(doc, /unresolved/i.test(msg)) ?? 0),
        });
      }
    }
  }
  return { doc, lineCounter, errors, warnings, data };
}

/** Keys repeated within a mapping, each at its second occurrence: one Set per mapping, linear. */
function duplicateKeys(
  doc: Document.Parsed,
): Array<{ code: string; message: string; pos: [number, number] }> {
  const out: Array<{ code: string; message: string; pos: [number, number] }> = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        const k = isScalar(key) ? `s:${String(key.value)}` : undefined;
        if (k !== undefined) {
          if (seen.has(k)) {
            const at = (key as Node).range?.[0] ?? 0;
            out.push({ code: 'DUPLICATE_KEY', message: 'Map keys must be unique', pos: [at, at] });
          } else seen.add(k);
        }
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
  return out;
}

/** Offset of the first alias (or the first one whose anchor is missing). */
function firstAlias(doc: Document.Parsed, unresolvedOnly: boolean): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (unresolvedOnly && node.resolve(doc) !== undefined) return undefined;
      found = node.range?.[0];
      return visit.BREAK;
    },
  });
  return found;
}

/** Offset of the first node nested deeper than `max` (iterative), or undefined. */
function deepestNode(root: unknown, max: number): number | undefined {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (isMap(node) || isSeq(node)) {
      if (depth > max) return node.range?.[0] ?? 0;
      for (const item of node.items) {
        if (isPair(item)) {
          stack.push({ node: item.key, depth: depth + 1 });
          stack.push({ node: item.value, depth: depth + 1 });
        } else stack.push({ node: item, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/**
 * Position of a document path: the value's token for scalars; the key for collections and empty
 * values (or when `atKey`); the nearest existing parent when the path does not exist.
 */
export function positionOf(src: ParsedSource, path: DocPath, atKey = false): SourcePosition {
  const at = (offset: number | undefined): SourcePosition => {
    if (offset === undefined) return { line: 1, col: 1 };
    const lp = src.lineCounter.linePos(offset);
    return { line: Math.max(1, lp.line), col: Math.max(1, lp.col) };
  };
  let node: unknown = src.doc.contents;
  let best: SourcePosition = at((node as Node | null)?.range?.[0] ?? 0);
  let keyPos: SourcePosition | undefined;
  for (const seg of path) {
    if (isAlias(node)) return best;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (!pair) return best;
      keyPos = at((pair.key as Node | null)?.range?.[0]);
      best = keyPos;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return best;
      keyPos = undefined;
      best = at(item.range?.[0]);
      node = item;
    } else {
      return best;
    }
  }
  if (atKey && keyPos) return keyPos;
  if (isScalar(node) && node.range && !(node.value === null && node.range[0] === node.range[1])) {
    return at(node.range[0]);
  }
  if (isAlias(node) && node.range) return at(node.range[0]);
  return keyPos ?? best;
}

/** Keys of the mapping at `path`, in document order (JS objects reorder integer-like keys). */
export function keysInOrder(src: ParsedSource, path: DocPath): string[] {
  let node: unknown = src.doc.contents;
  for (const seg of path) {
    if (isMap(node)) node = node.items.find((p) => keyText(p.key) === String(seg))?.value;
    else if (isSeq(node) && typeof seg === 'number') node = node.items[seg];
    else return [];
  }
  if (!isMap(node)) return [];
  return node.items.map((p) => keyText(p.key)).filter((k): k is string => k !== undefined);
}
