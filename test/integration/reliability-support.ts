/**
 * Shared by the reliability suites (faults, hostile, ssh-security): lab inventories limited to chosen
 * hosts, the CLI commands run in-process with captured output, and the results file that
 * scripts/gen-reliability-doc.ts renders into docs/reliability.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { Io } from '../../src/cli/io.js';
import { makeStyle } from '../../src/cli/views/style.js';

export const RESULTS_FILE = path.resolve('.dpvs-deploy/reliability-results.json');

export interface ReliabilityResult {
  /** suite file, e.g. faults */
  suite: string;
  /** fault or input class, e.g. "sshd killed mid-apply" */
  name: string;
  /** how many cases (hosts, values, commands) were tried */
  cases: number;
  /** what was observed, one sentence */
  outcome: string;
  passed: boolean;
}

/** Append (or replace, by suite+name) one result in the results file. */
export function recordResult(r: ReliabilityResult): void {
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  let doc: { results: Array<ReliabilityResult & { at: string }> } = { results: [] };
  if (existsSync(RESULTS_FILE)) {
    try {
      doc = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as typeof doc;
    } catch {
      doc = { results: [] };
    }
  }
  doc.results = doc.results.filter((x) => !(x.suite === r.suite && x.name === r.name));
  doc.results.push({ ...r, at: new Date().toISOString() });
  writeFileSync(RESULTS_FILE, JSON.stringify(doc, null, 2) + '\n');
}

export interface Captured extends Io {
  lines: string[];
  errors: string[];
  /** Called on every line written to stdout (progress lines "lb1 | hugepages: applying ..."). */
  onLine?: (line: string) => void;
}

export function captureIo(): Captured {
  const io: Captured = {
    lines: [],
    errors: [],
    out: (t) => {
      for (const l of t.split('\n')) {
        io.lines.push(l);
        io.onLine?.(l);
      }
    },
    err: (t) => io.errors.push(...t.split('\n')),
    debug: () => undefined,
    raw: (s, t) => (s === 'out' ? io.lines.push(t) : io.errors.push(t)),
    style: makeStyle(false),
    isTTY: false,
    confirm: () => Promise.resolve(false),
  };
  return io;
}

type Doc = Record<string, unknown> & {
  defaults: { ssh: Record<string, unknown> };
  hosts: Record<string, Record<string, unknown>>;
  groups: Record<string, { hosts: string[] }>;
  services?: Array<{ balancers?: string[]; local_addresses?: Record<string, unknown> }>;
};

/**
 * An inventory made from the lab's own (inventories/lab.yaml) with only `hosts`, absolute key paths,
 * and `patch` applied per host (deep-merged one level: ssh, hugepages, ...).
 */
export function labInventory(
  labInventoryPath: string,
  hosts: string[],
  patch: Record<string, Record<string, unknown>> = {},
  dir = mkdtempSync(path.join(tmpdir(), 'dd-rel-')),
): string {
  const doc = parse(readFileSync(labInventoryPath, 'utf8')) as Doc;
  const base = path.dirname(path.resolve(labInventoryPath));
  for (const k of ['identity_file', 'known_hosts'])
    if (typeof doc.defaults.ssh[k] === 'string')
      doc.defaults.ssh[k] = path.resolve(base, doc.defaults.ssh[k] as string);
  absoluteFiles(doc, base);
  for (const name of Object.keys(doc.hosts)) if (!hosts.includes(name)) delete doc.hosts[name];
  // keepalived/network settings are other tasks' business and change under active development
  for (const h of Object.values(doc.hosts)) delete h.keepalived;
  for (const g of Object.values(doc.groups)) g.hosts = g.hosts.filter((h) => hosts.includes(h));
  // services stay on the balancers that are kept (a service with none left goes)
  if (doc.services) {
    for (const svc of doc.services) {
      svc.balancers = (svc.balancers ?? []).filter((h) => hosts.includes(h));
      for (const h of Object.keys(svc.local_addresses ?? {}))
        if (!hosts.includes(h)) delete svc.local_addresses?.[h];
    }
    doc.services = doc.services.filter((svc) => svc.balancers?.length);
  }
  for (const [name, p] of Object.entries(patch)) {
    const h = doc.hosts[name] as Record<string, unknown>;
    for (const [k, v] of Object.entries(p))
      h[k] =
        v && typeof v === 'object' && !Array.isArray(v) && h[k] && typeof h[k] === 'object'
          ? { ...(h[k] as object), ...(v as object) }
          : v;
  }
  const file = path.join(dir, 'inventory.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

/** `file:` values (pushed sources, secrets from files) relative to the inventory, made absolute. */
function absoluteFiles(node: unknown, base: string): void {
  if (Array.isArray(node)) for (const x of node) absoluteFiles(x, base);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (k === 'file' && typeof v === 'string' && !path.isAbsolute(v))
        (node as Record<string, unknown>)[k] = path.resolve(base, v);
      else absoluteFiles(v, base);
    }
}

/** Every file under `dir` (recursive), for grepping transcripts. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** The newest run directory under `base` (".../<stamp>-<command>-<pid>"). */
export function newestRunDir(base: string): string {
  const dirs = readdirSync(base)
    .filter((d) => !d.startsWith('.'))
    .sort();
  const last = dirs.at(-1);
  if (!last) throw new Error(`no run directory under ${base}`);
  return path.join(base, last);
}
