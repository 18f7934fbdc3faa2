/**
 * node dist/bench/bad-inventories.js [--reps 5]: how long `validate` takes to refuse each file of the
 * bad-inventory corpus (test/fixtures/bad-inventories) and three generated hostile documents (over 1 MiB,
 * 200,000 nested flow brackets, 100 nested block mappings). Issue #11's budget is "under a second" per
 * refusal; this prints it as a table (median CPU and wall time of the repetitions, the slowest file first)
 * instead of asserting it in a unit test, where a loaded machine would turn a speed figure into a red build.
 * The first load (zod's validators compiled, the JIT warm) is timed apart, as "cold". No SSH, no lab.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InventoryError } from '../src/errors.js';
import { loadInventory } from '../src/inventory/load.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Sample {
  cpuMs: number;
  wallMs: number;
  diagnostics: number;
}

/** One load of `file`, which must be refused: its CPU and wall time and how many diagnostics it gave. */
async function refuse(file: string): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let diagnostics = -1;
  try {
    await loadInventory(file);
  } catch (e) {
    if (!(e instanceof InventoryError)) throw e;
    diagnostics = e.diagnostics.length;
  }
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (diagnostics < 1) throw new Error(`${file} was not refused`);
  return { cpuMs: (c.user + c.system) / 1000, wallMs, diagnostics };
}

function hostileDocuments(dir: string): string[] {
  const huge = path.join(dir, 'generated-over-1MiB.yaml');
  let text = 'version: 1\nhosts:\n';
  for (let i = 0; text.length <= 1024 * 1024; i++) {
    text += `  h${i}:\n    address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\n    roles: [realserver]\n`;
  }
  writeFileSync(huge, text);
  const flow = path.join(dir, 'generated-deep-flow.yaml');
  writeFileSync(flow, `version: 1\nhosts: {}\nx: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`);
  const block = path.join(dir, 'generated-deep-block.yaml');
  let b = 'version: 1\nhosts: {}\n';
  for (let i = 0; i < 100; i++) b += `${' '.repeat(i)}k${i}:\n`;
  writeFileSync(block, b);
  return [huge, flow, block];
}

async function main(): Promise<void> {
  const reps = Number(arg('--reps', '5'));
  const corpus = path.resolve('test/fixtures/bad-inventories');
  const tmp = mkdtempSync(path.join(tmpdir(), 'bench-bad-'));
  try {
    const files = [
      ...readdirSync(corpus)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .map((f) => path.join(corpus, f)),
      ...hostileDocuments(tmp),
    ];
    const cold = await refuse(files[0] as string);
    const rows: { file: string; cpuMs: number; wallMs: number; diagnostics: number }[] = [];
    for (const file of files) {
      const samples: Sample[] = [];
      for (let r = 0; r < reps; r++) samples.push(await refuse(file));
      rows.push({
        file: path.basename(file),
        cpuMs: median(samples.map((s) => s.cpuMs)),
        wallMs: median(samples.map((s) => s.wallMs)),
        diagnostics: samples[0]?.diagnostics ?? 0,
      });
    }
    rows.sort((a, b) => b.wallMs - a.wallMs);
    const over = rows.filter((r) => r.wallMs >= 1000);
    const out: string[] = [
      `Bad-inventory refusals: ${rows.length} files, ${reps} repetitions each, medians (node ${process.version}).`,
      `Cold first load (${path.basename(files[0] as string)}): ${cold.wallMs.toFixed(1)} ms wall, ${cold.cpuMs.toFixed(1)} ms CPU.`,
      '',
      '| file | diagnostics | wall ms | CPU ms |',
      '| --- | ---: | ---: | ---: |',
      ...rows
        .slice(0, 10)
        .map((r) => `| ${r.file} | ${r.diagnostics} | ${r.wallMs.toFixed(1)} | ${r.cpuMs.toFixed(1)} |`),
      `| (${Math.max(0, rows.length - 10)} more, each faster) | | | |`,
      '',
      `Budget: under 1000 ms each. ${over.length === 0 ? 'Met by every file.' : `Over budget: ${over.map((r) => r.file).join(', ')}.`}`,
    ];
    console.log(out.join('\n'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
