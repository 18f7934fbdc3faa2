import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { inventorySchemaText, run as schemaCommand } from '../../../src/cli/schema.js';
import { renderInventoryDocs, undocumentedKeys } from '../../../src/inventory/docs.js';

const regenerate = 'run `npm run build && npm run gen:docs` and commit the result';

interface Node {
  type?: unknown;
  description?: string;
  properties?: Record<string, Node>;
  additionalProperties?: unknown;
  items?: Node;
  anyOf?: Node[];
  oneOf?: Node[];
  allOf?: Node[];
  $ref?: string;
  $defs?: Record<string, Node>;
}

/** Walks a JSON Schema ($refs into $defs followed once per place): each property, with its path. */
function walkProperties(root: Node, visit: (path: string, prop: Node) => void): void {
  const seen = new Set<string>();
  const defOf = (n: Node): Node | undefined => (n.$ref ? root.$defs?.[n.$ref.split('/').pop()!] : undefined);
  const walk = (n: Node | undefined, at: string): void => {
    if (!n || typeof n !== 'object') return;
    const def = defOf(n);
    if (def) {
      if (!seen.has(`${n.$ref}@${at}`)) {
        seen.add(`${n.$ref}@${at}`);
        walk(def, at);
      }
      return;
    }
    for (const alt of [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])]) walk(alt, at);
    walk(n.items, `${at}[]`);
    if (typeof n.additionalProperties === 'object') walk(n.additionalProperties as Node, `${at}.<name>`);
    for (const [k, v] of Object.entries(n.properties ?? {})) {
      const path = at ? `${at}.${k}` : k;
      visit(path, v.description === undefined && defOf(v) ? { ...v, description: defOf(v)!.description } : v);
      walk(v, path);
    }
  };
  walk(root, '');
}

function propertiesWithoutDescription(root: Node): string[] {
  const out: string[] = [];
  walkProperties(root, (path, p) => {
    if (!p.description) out.push(path);
  });
  return out;
}

function countProperties(root: Node): number {
  let n = 0;
  walkProperties(root, () => n++);
  return n;
}

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

  it('every property of the published schema carries a description (written in src/inventory/schema.ts)', () => {
    const schema = JSON.parse(inventorySchemaText()) as Node;
    const missing = propertiesWithoutDescription(schema);
    expect(countProperties(schema)).toBeGreaterThan(400);
    expect(missing, `describe these in src/inventory/schema.ts (.describe()), then ${regenerate}`).toEqual(
      [],
    );
    // and the walk finds one when it is missing
    expect(propertiesWithoutDescription({ type: 'object', properties: { a: { type: 'string' } } })).toEqual([
      'a',
    ]);
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
