import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { inventorySchemaText, run as schemaCommand } from '../../src/cli/schema.js';
import { renderInventoryDocs, undocumentedKeys } from '../../src/inventory/docs.js';

const regenerate = 'run `npm run build && npm run gen:docs` and commit the result';

describe('generated inventory schema and reference', () => {
  it('schemas/inventory.schema.json is the current output of `dpvs-deploy schema`', () => {
    const committed = readFileSync('schemas/inventory.schema.json', 'utf8');
    expect(committed === inventorySchemaText(), `schemas/inventory.schema.json is stale: ${regenerate}`).toBe(
      true,
    );
  });

  it('docs/inventory.md is the current output of scripts/gen-inventory-docs.ts', () => {
    const committed = readFileSync('docs/inventory.md', 'utf8');
    expect(committed === renderInventoryDocs(), `docs/inventory.md is stale: ${regenerate}`).toBe(true);
  });

  it('documents every key', () => {
    expect(undocumentedKeys()).toEqual([]);
  });

  it('the schema command prints the schema and exits 0', async () => {
    let out = '';
    const sink = { write: (s: string) => (out += s) };
    expect(await schemaCommand({}, { stdout: sink, stderr: sink })).toBe(0);
    expect(out).toBe(inventorySchemaText());
    expect(JSON.parse(out)).toMatchObject({ title: 'dpvs-deploy inventory', type: 'object' });
  });

  it('the JSON Schema accepts every valid sample and refuses unknown keys (what editors see)', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(inventorySchemaText()) as object);
    const dir = 'test/fixtures/inventories';
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
      const doc: unknown = parse(readFileSync(path.join(dir, f), 'utf8'));
      expect(validate(doc), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate({ version: 1, hosts: {}, servics: [] })).toBe(false);
    expect(validate({ version: 1, hosts: { lb1: { address: 'x', roles: ['balancr'] } } })).toBe(false);
  });
});
