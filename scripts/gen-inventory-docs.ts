/**
 * Writes docs/inventory.md (the inventory reference), schemas/inventory.schema.json and the JSON
 * Schemas of the commands' outputs (schemas/*.schema.json) from the zod schemas. Run after changing src/inventory/schema.ts: `npm run build && npm run gen:docs`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inventorySchemaText, outputSchemaText } from '../src/cli/schema.js';
import { OUTPUT_SCHEMAS } from '../src/run/output-schemas.js';
import { renderInventoryDocs } from '../src/inventory/docs.js';

const root = process.argv[2] ?? process.cwd();
const targets: Array<[string, string]> = [
  ['docs/inventory.md', renderInventoryDocs()],
  ['schemas/inventory.schema.json', inventorySchemaText()],
  // the commands' JSON outputs, the run report and the saved plan
  ...Object.entries(OUTPUT_SCHEMAS).map(([name, s]): [string, string] => [
    `schemas/${s.file}.schema.json`,
    outputSchemaText(name),
  ]),
];
for (const [rel, text] of targets) {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(`wrote ${rel}\n`);
}
