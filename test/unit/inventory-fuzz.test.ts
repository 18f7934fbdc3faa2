import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordResult } from '../integration/reliability-support.js';
import { InventoryError } from '../../src/errors.js';
import { loadInventoryBytes } from '../../src/inventory/load.js';

/** mulberry32: small seeded PRNG so every run mutates the same way. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REPLACEMENTS = [
  '42',
  '-1',
  'true',
  '~',
  '[]',
  '{}',
  '"str"',
  "'0000:zz'",
  '3.5',
  '[1, [2]]',
  '*x',
  '&a',
  '!!binary x',
  '|',
  '>-',
  'null',
];

function mutate(text: string, rand: () => number): string {
  const lines = text.split('\n');
  const pick = (n: number) => Math.floor(rand() * n);
  const ops = 1 + pick(3);
  for (let k = 0; k < ops; k++) {
    const i = pick(lines.length);
    const line = lines[i] ?? '';
    switch (pick(6)) {
      case 0: // delete a line
        lines.splice(i, 1);
        break;
      case 1: // duplicate a line
        lines.splice(i, 0, line);
        break;
      case 2: {
        // swap two lines
        const j = pick(lines.length);
        lines[i] = lines[j] ?? '';
        lines[j] = line;
        break;
      }
      case 3: {
        // flip a character
        if (!line.length) break;
        const c = pick(line.length);
        const chars = ':-[]{}#&*!|>\'" \tx0.,';
        lines[i] = line.slice(0, c) + chars[pick(chars.length)] + line.slice(c + 1);
        break;
      }
      case 4: // change indentation
        lines[i] = rand() < 0.5 ? ` ${line}` : line.replace(/^ {1,2}/, '');
        break;
      default: {
        // replace a value with another type
        const m = /^(\s*(?:- )?[A-Za-z_]+:\s*)(.+)$/.exec(line);
        if (m) lines[i] = `${m[1]}${REPLACEMENTS[pick(REPLACEMENTS.length)]}`;
      }
    }
  }
  return lines.join('\n');
}

const dir = path.resolve('test/fixtures/inventories');
const samples = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ f, text: readFileSync(path.join(dir, f), 'utf8') }));

describe('inventory loader fuzz', () => {
  it('never crashes on 500 seeded mutations of the valid samples; every diagnostic is positioned', () => {
    const rand = rng(20261125);
    let rejected = 0;
    for (let n = 0; n < 500; n++) {
      const sample = samples[n % samples.length];
      if (!sample) throw new Error('no samples');
      const text = mutate(sample.text, rand);
      const lineCount = text.split('\n').length;
      try {
        loadInventoryBytes(Buffer.from(text), `fuzz-${n}-${sample.f}`);
      } catch (e) {
        if (!(e instanceof InventoryError)) {
          throw new Error(`case ${n} (${sample.f}) crashed: ${String(e)}\n--- input ---\n${text}`);
        }
        rejected++;
        expect(e.diagnostics.length).toBeGreaterThan(0);
        for (const d of e.diagnostics) {
          expect(d.line, `case ${n}: ${d.message}`).toBeGreaterThanOrEqual(1);
          expect(d.line, `case ${n}: ${d.message}`).toBeLessThanOrEqual(lineCount + 1);
          expect(d.col).toBeGreaterThanOrEqual(1);
          expect(d.message.length).toBeGreaterThan(0);
          expect(d.message).not.toMatch(/\n\s+at /);
        }
      }
    }
    // The mutations must actually exercise the error paths.
    expect(rejected).toBeGreaterThan(150);
    recordResult({
      suite: 'inventory',
      name: 'fuzz: seeded random mutations of the example inventories',
      cases: 500,
      outcome: `no crash; ${500 - rejected} loaded, ${rejected} refused, every diagnostic with line and column inside the input`,
      passed: true,
    });
  });
});
