/**
 * One fact module = what the single probe script runs for one kind of fact, and a parser for what it
 * printed. A module contributes up to three things to the script:
 *  - `snippet`: shell run in the probe's own process (builtins only where it can: every `$(...)`,
 *    pipeline and external command is a process on the host), printing its own section;
 *  - `reads`: paths (and globs) of small text files; the probe reads every module's in ONE
 *    `grep -aH --null ''` and hands each module the lines of the files it named (`ParseContext.reads`);
 *  - `blob`: shell whose raw bytes (file contents, command outputs) go into ONE base64 stream,
 *    framed by a per-probe random marker (`ParseContext.blob`).
 * The parser sees only its own section and what it asked for, and its result is checked against the
 * module's zod schema before it reaches a planner.
 */
import type { z } from 'zod';
import { quote } from '../transport/quote.js';
import type { ProbeRequest } from './types.js';

/** The lines of the files a module read, by path as the shell expanded it ([] for an empty file). */
export type ReadMap = ReadonlyMap<string, readonly string[]>;

/** One framed part of the blob: its raw bytes and the exit status of the command that wrote them. */
export interface BlobPart {
  bytes: Buffer;
  code: number;
}

export interface ParseContext {
  request: Required<ProbeRequest>;
  /** the running kernel's release (the system section's), for the request's RUNNING_KERNEL paths */
  release: string;
  reads: ReadMap;
  blob: ReadonlyMap<string, BlobPart>;
}

export interface FactModule<T> {
  /** Section name in the probe output. */
  name: string;
  /** POSIX sh, run in the probe's shell (a function body: `set --` stays local). */
  snippet(request: Required<ProbeRequest>): string;
  /**
   * Small text files this module reads, as shell words: globs are left unquoted, anything that comes
   * from a request goes through quote(). The parser finds them in `ctx.reads` by the expanded path.
   */
  reads?(request: Required<ProbeRequest>): string[];
  /** Shell writing framed parts into the blob: use `blobPart(key, command)`. */
  blob?(request: Required<ProbeRequest>): string;
  parse(text: string, ctx?: ParseContext): T;
  /** The shape a planner may rely on: the parser's result is checked against it. */
  schema?: z.ZodType<T>;
}

/** Lines of `key<TAB>value` into a map (first tab splits). */
export function kvLines(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const i = line.indexOf('\t');
    out.push(i < 0 ? [line, ''] : [line.slice(0, i), line.slice(i + 1)]);
  }
  return out;
}

export function fromB64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

export function int(s: string | undefined, fallback = 0): number {
  if (s === undefined) return fallback;
  const n = Number.parseInt(s.trim(), 10);
  return Number.isFinite(n) ? n : fallback;
}

/** The first line of a file the module read, '' when it was absent or empty. */
export function first(reads: ReadMap, path: string): string {
  return reads.get(path)?.[0] ?? '';
}

/** Paths the shell read under `dir` matching `/dir/<x>/<rest>`: x for each, sorted as the glob was. */
export function readDirs(reads: ReadMap, prefix: string, suffix: string): string[] {
  const out: string[] = [];
  for (const p of reads.keys())
    if (p.startsWith(prefix) && p.endsWith(suffix) && p.length > prefix.length + suffix.length) {
      const mid = p.slice(prefix.length, p.length - suffix.length);
      if (!mid.includes('/')) out.push(mid);
    }
  return out;
}

/**
 * A framed blob part: `command`'s stdout (and whatever it redirects there) between two marker lines
 * carrying the probe's random nonce ($N) and the command's exit status. No subshell: the command runs in
 * the blob's own process, so it must not `exit` or change directory for the parts after it.
 */
export function blobPart(key: string, command: string): string {
  return `printf '%s begin %s\\n' "$N" ${quote(key)}; ${command}
printf '\\n%s end %s\\n' "$N" $?`;
}

/** `key<TAB>arg` lines plus the raw blocks between `begin<TAB>name` and `end<TAB>name` lines. */
export function rawBlocks(text: string): {
  lines: Array<[string, string]>;
  blocks: Array<[string, string[]]>;
} {
  const lines: Array<[string, string]> = [];
  const blocks: Array<[string, string[]]> = [];
  let cur: [string, string[]] | null = null;
  for (const line of text.split('\n')) {
    if (cur) {
      if (line.startsWith('end\t')) {
        blocks.push(cur);
        cur = null;
      } else if (line) cur[1].push(line);
      continue;
    }
    if (line.startsWith('begin\t')) cur = [line.slice(6), []];
    else if (line) lines.push(...kvLines(line));
  }
  return { lines, blocks };
}

/** A raw block: `command`'s output between begin/end lines (end on a line of its own). */
export function rawBlock(name: string, command: string): string {
  return `printf 'begin\\t%s\\n' "${name}"; ${command}; printf '\\nend\\t%s\\n' "${name}"`;
}
