import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';

const dir = path.resolve('test/fixtures/inventories');
const samples = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('valid sample inventories', () => {
  it('has samples', () => {
    expect(samples.length).toBeGreaterThanOrEqual(4);
  });
  for (const f of samples) {
    it(`${f} loads without errors`, async () => {
      const file = path.join(dir, f);
      const inv = await loadInventory(file).catch((e: Error) => {
        throw new Error(`${f} failed:\n${e.message}`);
      });
      expect(inv.hosts.length).toBeGreaterThan(0);
      expect(inv.file).toBe(file);
      expect(inv.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(inv.warnings.map(formatDiagnostic)).toEqual([]);
    });
    it(`${f} starts with the yaml-language-server schema comment`, () => {
      const first = readFileSync(path.join(dir, f), 'utf8').split('\n')[0];
      expect(first).toBe('# yaml-language-server: $schema=../../../schemas/inventory.schema.json');
    });
  }
});
