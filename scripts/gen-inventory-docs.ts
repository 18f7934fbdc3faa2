/**
 * Writes docs/inventory.md (the inventory reference) and schemas/inventory.schema.json from the zod
 * schema. Run after changing src/inventory/schema.ts: `npm run build && npm run gen:docs`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inventorySchemaText } from '../src/cli/schema.js';
import { renderInventoryDocs } from '../src/inventory/docs.js';

const root = process.argv[2] ?? process.cwd();
const targets: Array<[string, string]> = [
  ['docs/inventory.md', renderInventoryDocs()],
  ['schemas/inventory.schema.json', inventorySchemaText()],
];
for (const [rel, text] of targets) {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(`wrote ${rel}\n`);
}
