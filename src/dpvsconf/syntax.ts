/**
 * The keepalived-style syntax of dpvs.conf, independent of what the keywords mean:
 * text <-> a tree of ConfNodes.
 *
 * Grammar (verified against upstream iqiyi/dpvs conf/*.sample and conf/dpvs.conf.items, which document it
 * in their headers): `keyword value...` statements, one per line; blocks `name [arg] {` ... `}`; whole-line
 * comments starting with `!` or `#`; a token starting with `!` or `#` ends the line (trailing comment);
 * anything from `<` to `>` is an inline comment (so `<init>` is only a marker for humans); `include <glob>`
 * is an ordinary statement here (recorded, never resolved).
 */

import { dpvsConfToken } from '../escape.js';

/** One statement or block. `children` is set (possibly empty) exactly when the node is a block. */
export interface ConfNode {
  key: string;
  args: string[];
  children?: ConfNode[];
  /** Render-only: prefix the line with the `<init>` marker. The parser never sets it. */
  init?: boolean;
  /** Render-only: `!` comment lines written before the node. The parser never sets it. */
  comment?: string[];
}

export class DpvsConfSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`dpvs.conf line ${line}: ${message}`);
    this.name = 'DpvsConfSyntaxError';
  }
}

interface Token {
  text: string;
  line: number;
}

/** Splits one physical line into tokens: comments dropped, `{`/`}` separated, `<...>` removed. */
function tokenizeLine(raw: string, line: number): Token[] {
  const trimmed = raw.trim();
  if (trimmed === '' || trimmed.startsWith('!') || trimmed.startsWith('#')) return [];
  const withoutRanges = raw.replace(/<[^>]*>/g, ' ');
  const out: Token[] = [];
  for (const word of withoutRanges.split(/\s+/)) {
    if (word === '') continue;
    if (word.startsWith('!') || word.startsWith('#')) break;
    // Braces may be glued to words ("dpdk0{", "}}"): split them out.
    for (const part of word.split(/([{}])/)) {
      if (part !== '') out.push({ text: part, line });
    }
  }
  return out;
}

interface OpenBlock {
  node: ConfNode;
  line: number;
}

/** Parses dpvs.conf text into a node tree. Throws DpvsConfSyntaxError for unbalanced braces. */
export function parseNodes(text: string): ConfNode[] {
  const root: ConfNode[] = [];
  const stack: OpenBlock[] = [];
  const current = (): ConfNode[] => {
    const top = stack[stack.length - 1];
    return top ? (top.node.children as ConfNode[]) : root;
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    let pending: Token[] = [];
    const flush = (): void => {
      const [head, ...rest] = pending;
      if (head) current().push({ key: head.text, args: rest.map((t) => t.text) });
      pending = [];
    };
    for (const tok of tokenizeLine(raw, lineNo)) {
      if (tok.text === '{') {
        const [head, ...rest] = pending;
        if (!head) throw new DpvsConfSyntaxError("'{' without a block name", lineNo);
        const node: ConfNode = { key: head.text, args: rest.map((t) => t.text), children: [] };
        current().push(node);
        stack.push({ node, line: lineNo });
        pending = [];
      } else if (tok.text === '}') {
        flush();
        if (!stack.pop()) throw new DpvsConfSyntaxError("unexpected '}' (no block is open)", lineNo);
      } else {
        pending.push(tok);
      }
    }
    flush();
  });
  const open = stack[stack.length - 1];
  if (open) {
    throw new DpvsConfSyntaxError(
      `block '${[open.node.key, ...open.node.args].join(' ')}' opened here is never closed`,
      open.line,
    );
  }
  return root;
}

const INDENT = '    ';

function lineHead(node: ConfNode): string {
  return (node.init ? '<init> ' : '') + node.key;
}

/** Prints nodes in upstream style: 4-space indentation, values aligned per block, `<init>` markers. */
export function printNodes(nodes: ConfNode[], depth = 0): string[] {
  const pad = INDENT.repeat(depth);
  const scalarHeads = nodes.filter((n) => !n.children && n.args.length > 0).map((n) => lineHead(n).length);
  const column = Math.max(depth === 0 ? 0 : 16, ...scalarHeads.map((w) => w + 4));
  const out: string[] = [];
  nodes.forEach((node, i) => {
    const prev = nodes[i - 1];
    // Blank lines as upstream writes them: between top-level blocks, and inside a top-level block before
    // a block that follows another block or is an `<init>` block (devices, workers).
    if (prev && (depth === 0 || (depth === 1 && node.children && (prev.children || node.init)))) out.push('');
    for (const c of node.comment ?? []) out.push(`${pad}! ${c}`.trimEnd());
    dpvsConfToken(node.key, 'a keyword');
    for (const a of node.args) dpvsConfToken(a, `the value of ${node.key}`);
    const head = lineHead(node);
    if (node.children) {
      const arg = node.args.length ? ` ${node.args.join(' ')}` : '';
      out.push(`${pad}${head}${arg} {`);
      out.push(...printNodes(node.children, depth + 1));
      out.push(`${pad}}`);
    } else if (node.args.length === 0) {
      out.push(`${pad}${head}`);
    } else {
      out.push(`${pad}${head.padEnd(column)}${node.args.join(' ')}`);
    }
  });
  return out;
}
