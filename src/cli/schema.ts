/**
 * `dpvs-deploy schema`: prints the inventory's JSON Schema (schemas/inventory.schema.json is this
 * output); `schema --output NAME` prints the schema of a command's JSON output instead
 * (schemas/<file>.schema.json, src/run/output-schemas.ts).
 */
import { UserError } from '../errors.js';
import { inventoryJsonSchema } from '../inventory/schema.js';
import { OUTPUT_SCHEMAS } from '../run/output-schemas.js';
import type { CliStreams } from './validate.js';

/** The exact text of schemas/inventory.schema.json. */
export function inventorySchemaText(): string {
  return JSON.stringify(inventoryJsonSchema(), null, 2) + '\n';
}

/** The exact text of schemas/<file>.schema.json for `schema --output name`. */
export function outputSchemaText(name: string): string {
  const s = OUTPUT_SCHEMAS[name];
  if (!s)
    throw new UserError(
      `schema --output: no such output '${name}' (one of: ${Object.keys(OUTPUT_SCHEMAS).join(', ')})`,
    );
  return JSON.stringify(s.schema(), null, 2) + '\n';
}

export async function run(args: { output?: string }, io: CliStreams): Promise<number> {
  io.stdout.write(args.output === undefined ? inventorySchemaText() : outputSchemaText(args.output));
  return 0;
}
