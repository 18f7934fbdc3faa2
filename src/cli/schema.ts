/** `dpvs-deploy schema`: prints the inventory's JSON Schema (schemas/inventory.schema.json is this output). */
import { inventoryJsonSchema } from '../inventory/schema.js';
import type { CliStreams } from './validate.js';

/** The exact text of schemas/inventory.schema.json. */
export function inventorySchemaText(): string {
  return JSON.stringify(inventoryJsonSchema(), null, 2) + '\n';
}

export async function run(_args: Record<string, never>, io: CliStreams): Promise<number> {
  io.stdout.write(inventorySchemaText());
  return 0;
}
