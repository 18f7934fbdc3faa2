/**
 * npm run bench:validate (node dist/bench/validate.js [--sizes 1000,10000,20000] [--reps 5]): how long `validate` takes for
 * fleets of 1k, 10k and 20k hosts (issue #22's target: 20,000 hosts under 1 s). A generated fleet of
 * one balancer per ten hosts (keepalived pairs, nics and hugepages from a balancers group), the rest
 * real servers in a realservers group, and one FullNAT service per balancer pair with its real
 * servers and local addresses: every check runs (groups, SSH addresses, per-host, services, VRRP pairs).
 *
 * Prints a table: the YAML text's size; validation proper (schema, group merge, semantic checks: the
 * code this project owns, linear in hosts, services, real servers and addresses); the YAML stage (the
 * yaml library's parser, positions, duplicate keys); and the whole load from bytes. A document over the
 * loader's 1 MiB limit is refused before parsing, so above ~9,000 hosts per file only the stages are
 * timed (parsed without the limit). Medians of --reps runs after one warm-up; not a timed test: a loaded
 * machine must not turn a figure red.
 */
import { performance } from 'node:perf_hooks';
import { InventoryError } from '../src/errors.js';
import { MAX_INVENTORY_BYTES } from '../src/inventory/guards.js';
import { checkInventory, loadInventoryBytes } from '../src/inventory/load.js';
import { resolveHosts } from '../src/inventory/merge.js';
import { Inventory } from '../src/inventory/schema.js';
import { keysInOrder, parseSource } from '../src/inventory/source.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ip = (net: number, i: number) => `10.${net}.${(i >> 8) & 255}.${i & 255}`;

/** A fleet of `n` hosts as YAML text (flow style, as compact as an operator's generated inventory). */
function fleetYaml(n: number): string {
  const balancers = Math.max(2, Math.floor(n / 10) & ~1);
  const lines: string[] = [
    'version: 1',
    'groups:',
    '  balancers:',
    `    hosts: [${Array.from({ length: balancers }, (_, i) => `lb${i}`).join(', ')}]`,
    '    vars:',
    '      hugepages: { per_node: 2048 }',
    "      nics: [{ name: dpdk0, match: { pci: '0000:04:00.0' } }, { name: dpdk1, match: { pci: '0000:04:00.1' } }]",
    '      routes: [{ prefix: 10.128.0.0/9, dev: dpdk1 }, { prefix: 10.0.0.0/9, dev: dpdk0 }, { prefix: default, via: 10.200.0.1, dev: dpdk1 }]',
    '  realservers:',
    `    hosts: [${Array.from({ length: n - balancers }, (_, i) => `rs${i}`).join(', ')}]`,
    'hosts:',
  ];
  for (let i = 0; i < balancers; i++) {
    const master = i % 2 === 0;
    lines.push(
      `  lb${i}: { address: ${ip(255, i)}, roles: [balancer], keepalived: { enabled: true, virtual_router_id: ${(Math.floor(i / 2) % 255) + 1}, ` +
        `state: ${master ? 'MASTER' : 'BACKUP'}, priority: ${master ? 150 : 100}, interface: dpdk0, ` +
        // each pair on its own segment (a /24 of 172.16.0.0/12), so virtual_router_ids repeat across pairs
        `kni_address: 172.${16 + (i >> 9)}.${(i >> 1) & 255}.${master ? 1 : 2}/24 } }`,
    );
  }
  for (let i = 0; i < n - balancers; i++)
    lines.push(`  rs${i}: { address: ${ip(2 + (i >> 16), i)}, roles: [realserver] }`);
  lines.push('services:');
  const perService = Math.max(1, Math.floor((n - balancers) / (balancers / 2)));
  for (let p = 0; p < balancers / 2; p++) {
    const rs = Array.from({ length: perService }, (_, k) => {
      const i = p * perService + k;
      return `{ address: ${ip(2 + (i >> 16), i)}, port: 80 }`;
    });
    lines.push(
      `  - { name: svc${p}, vip: ${ip(200, p + 2)}, port: 80, mode: fullnat, balancers: [lb${2 * p}, lb${2 * p + 1}], vip_dev: dpdk1, ` +
        `local_addresses: { lb${2 * p}: [{ address: ${ip(100, 2 * p)}, dev: dpdk0 }], lb${2 * p + 1}: [{ address: ${ip(100, 2 * p + 1)}, dev: dpdk0 }] }, ` +
        `real_servers: [${rs.join(', ')}] }`,
    );
  }
  return lines.join('\n') + '\n';
}

interface Row {
  hosts: number;
  kib: number;
  parseMs: number;
  stagesMs: number;
  loadMs: number | undefined;
}

/** The YAML stage as the loader runs it (positions, duplicate keys, nesting, aliases), without the size limit. */
function parse(text: string): { ms: number; data: unknown; hostOrder: string[]; groupOrder: string[] } {
  const t0 = performance.now();
  const src = parseSource(text);
  const ms = performance.now() - t0;
  if (src.errors.length) throw new Error(`generated fleet does not parse: ${src.errors[0]?.message}`);
  return {
    ms,
    data: src.data,
    hostOrder: keysInOrder(src, ['hosts']),
    groupOrder: keysInOrder(src, ['groups']),
  };
}

/** Schema, group merge and semantic checks on the parsed document. */
function stages(p: ReturnType<typeof parse>): number {
  const t0 = performance.now();
  const parsed = Inventory.safeParse(p.data, { reportInput: true });
  if (!parsed.success) throw new Error(`generated fleet is invalid: ${parsed.error.message}`);
  const res = resolveHosts(parsed.data, p.hostOrder, p.groupOrder);
  const f = checkInventory(parsed.data, res);
  const ms = performance.now() - t0;
  if (f.errors.length)
    throw new Error(`generated fleet has findings: ${JSON.stringify(f.errors.slice(0, 3))}`);
  return ms;
}

function load(text: string): number | undefined {
  const bytes = Buffer.from(text);
  if (bytes.length > MAX_INVENTORY_BYTES) return undefined;
  const t0 = performance.now();
  try {
    loadInventoryBytes(bytes, 'bench.yaml');
  } catch (e) {
    if (e instanceof InventoryError) throw new Error(`generated fleet refused: ${e.message.slice(0, 500)}`);
    throw e;
  }
  return performance.now() - t0;
}

function main(): void {
  const sizes = arg('--sizes', '1000,10000,20000').split(',').map(Number);
  const reps = Number(arg('--reps', '5'));
  const rows: Row[] = [];
  for (const n of sizes) {
    const text = fleetYaml(n);
    stages(parse(text)); // warm-up
    load(text);
    const ps: number[] = [];
    const s: number[] = [];
    const l: number[] = [];
    for (let r = 0; r < reps; r++) {
      const p = parse(text);
      ps.push(p.ms);
      s.push(stages(p));
      const t = load(text);
      if (t !== undefined) l.push(t);
    }
    rows.push({
      hosts: n,
      kib: Math.round(text.length / 1024),
      parseMs: median(ps),
      stagesMs: median(s),
      loadMs: l.length ? median(l) : undefined,
    });
  }
  const out = process.stdout;
  out.write(`validate: medians of ${reps} runs after a warm-up (node ${process.version})\n\n`);
  out.write(
    '| hosts | YAML | validation: schema + merge + checks | YAML parse (yaml library) | whole load from bytes |\n' +
      '|---:|---:|---:|---:|---:|\n',
  );
  for (const r of rows) {
    const whole = r.loadMs === undefined ? 'refused: over the 1 MiB file limit' : `${r.loadMs.toFixed(0)} ms`;
    out.write(
      `| ${r.hosts} | ${r.kib} KiB | ${r.stagesMs.toFixed(0)} ms | ${r.parseMs.toFixed(0)} ms | ${whole} |\n`,
    );
  }
}

if (process.argv[1]?.endsWith('validate.js')) main();
