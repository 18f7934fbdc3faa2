/**
 * The upstream behaviour corpus (test/fixtures/upstream/*.yaml, README there): loading, its schema, and
 * the placeholders. Shared by the tool's tests (test/unit/upstream-corpus.test.ts) and the simulator's
 * (test/lab/simulators.test.ts): both are checked against the same samples, never against each other.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

export const SERIES = ['1.8', '1.9', '1.10'] as const;
export type Series = (typeof SERIES)[number];

/** The release of each series the lab builds and the tool's tests take as that series' example. */
export const SERIES_RELEASE: Record<Series, string> = { '1.8': '1.8.12', '1.9': '1.9.10', '1.10': '1.10.2' };

const Argv = z.array(z.string()).min(1);
const CITE = /^v\d+\.\d+\.\d+:[\w./-]+:\d+ — \S/;

export const CorpusEntry = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9.-]+$/),
    series: z.array(z.enum(SERIES)).min(1),
    since: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/)
      .optional(),
    cite: z.array(z.string().regex(CITE, { message: 'cite as tag:path:line — what' })).min(1),
    ports: z.array(z.string()).optional(),
    dpvs: z.enum(['running', 'down']).optional(),
    setup: z.array(Argv).optional(),
    run: Argv.optional(),
    stdout: z.array(z.string()).optional(),
    stderr: z.array(z.string()).optional(),
    exit: z.number().int().optional(),
    order: z
      .string()
      .regex(/^(exact|records-\d+|contains-\d+)$/)
      .optional(),
    state: z.record(z.string(), z.array(z.record(z.string(), z.unknown()))).optional(),
    facts: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type CorpusEntry = z.infer<typeof CorpusEntry>;

const DIR = new URL('../fixtures/upstream/', import.meta.url);

/** Every entry of every corpus file, with the file it came from. */
export function loadCorpus(): Array<CorpusEntry & { file: string }> {
  const out: Array<CorpusEntry & { file: string }> = [];
  for (const file of readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const doc: unknown = parse(readFileSync(new URL(file, DIR), 'utf8'));
    for (const raw of z.array(z.unknown()).parse(doc)) out.push({ ...CorpusEntry.parse(raw), file });
  }
  return out;
}

/** Whether the entry holds for a release (its series, and `since` within the series). */
export function holdsFor(e: CorpusEntry, release: string): boolean {
  const [maj, min, pat] = release.split('.').map(Number) as [number, number, number];
  const series = `${maj}.${min}` as Series;
  if (!e.series.includes(series)) return false;
  if (!e.since) return true;
  const [sMaj, sMin, sPat] = e.since.split('.').map(Number) as [number, number, number];
  if (sMaj !== maj || sMin !== min) return true; // `since` is inside another series
  return pat >= sPat;
}

/** The EUI-64 link-local address dpvs derives from a MAC (v1.9.10:src/inetaddr.c:286). */
export function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  const eui = [(b[0] ?? 0) ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]] as number[];
  const groups = [0, 2, 4, 6].map((i) => (((eui[i] ?? 0) << 8) | (eui[i + 1] ?? 0)).toString(16));
  return `fe80::${groups.join(':')}`;
}

export interface Fill {
  macs: Record<string, string>;
  ipvsVersion: string;
  /** the program as invoked ({argv0}) and its version string as src/VERSION prints it ({dpvs_version}) */
  argv0?: string;
  dpvsVersion?: string;
}

/** The ipvsadm header's version: 0.0.0 on 1.8 (v1.8.12:src/ipvs/ip_vs_service.c:1223), else the release. */
export const ipvsVersionOf = (release: string): string => (release.startsWith('1.8.') ? '0.0.0' : release);

/** A line with its placeholders as a regular expression (an exact match otherwise). */
export function linePattern(line: string, fill: Fill): RegExp {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let re = '';
  let rest = line;
  for (;;) {
    const m =
      /\{(mac|ll6):([^}]+)\}|\{uint\}|\{offloads\}|\{ipvs_version\}|\{argv0\}|\{dpvs_version\}|\{build_date\}/.exec(
        rest,
      );
    if (!m) break;
    re += esc(rest.slice(0, m.index));
    const [all, kind, port] = m;
    if (all === '{uint}') re += '\\d+';
    else if (all === '{offloads}') re += '(?:OF_[A-Z_]+ )*';
    else if (all === '{ipvs_version}') re += esc(fill.ipvsVersion);
    else if (all === '{argv0}') re += esc(fill.argv0 ?? '');
    else if (all === '{dpvs_version}') re += esc(fill.dpvsVersion ?? '');
    else if (all === '{build_date}') re += '.+';
    else {
      const mac = fill.macs[port ?? ''];
      if (!mac) throw new Error(`no MAC for ${port ?? ''} in ${line}`);
      re += esc(kind === 'mac' ? mac.toUpperCase() : linkLocalOf(mac));
    }
    rest = rest.slice(m.index + all.length);
  }
  return new RegExp(`^${re}${esc(rest)}$`);
}

/** A line with its placeholders filled in with example values (for feeding the tool's parsers). */
export function fillLine(line: string, fill: Fill): string {
  return line
    .replace(/\{mac:([^}]+)\}/g, (_, p: string) => (fill.macs[p] ?? '').toUpperCase())
    .replace(/\{ll6:([^}]+)\}/g, (_, p: string) => linkLocalOf(fill.macs[p] ?? ''))
    .replace(/\{uint\}/g, '0')
    .replace(/\{offloads\}/g, 'OF_RX_IP_CSUM OF_TX_IP_CSUM ')
    .replace(/\{ipvs_version\}/g, fill.ipvsVersion);
}

/**
 * Whether `got` (an output) matches the sample `want` under the entry's order rule. Returns null when it
 * does, else a description of the first difference.
 */
export function compareOutput(
  got: string,
  want: readonly string[],
  order: string | undefined,
  fill: Fill,
): string | null {
  const lines = got === '' ? [] : got.replace(/\n$/, '').split('\n');
  if (got !== '' && !got.endsWith('\n')) return 'the output does not end with a newline';
  const rule = order ?? 'exact';
  const n = rule === 'exact' ? 1 : Number(rule.split('-')[1]);
  const chunk = (xs: readonly string[]): string[][] => {
    const out: string[][] = [];
    for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
    return out;
  };
  const gotRecs = chunk(lines);
  const wantRecs = chunk(want);
  const matches = (g: string[], w: string[]): boolean =>
    g.length === w.length && w.every((l, i) => linePattern(l, fill).test(g[i] ?? ''));
  if (rule === 'exact') {
    for (let i = 0; i < Math.max(lines.length, want.length); i++) {
      const w = want[i];
      const g = lines[i];
      if (w === undefined || g === undefined || !linePattern(w, fill).test(g))
        return `line ${i + 1}: got ${JSON.stringify(g)}, want ${JSON.stringify(w)}`;
    }
    return null;
  }
  const left = [...gotRecs];
  for (const w of wantRecs) {
    const i = left.findIndex((g) => matches(g, w));
    if (i < 0) return `no record matches ${JSON.stringify(w)} in ${JSON.stringify(gotRecs)}`;
    left.splice(i, 1);
  }
  if (rule.startsWith('records') && left.length > 0)
    return `records not in the sample: ${JSON.stringify(left)}`;
  return null;
}
