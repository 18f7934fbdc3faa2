/** What loading an inventory text refuses: the InventoryError's message ('' when it loads). */
import { InventoryError } from '../../src/errors.js';
import { loadInventoryBytes } from '../../src/inventory/load.js';

export function inventoryErrors(text: string): string {
  try {
    loadInventoryBytes(Buffer.from(text), 'inv.yaml');
  } catch (e) {
    if (e instanceof InventoryError) return e.message;
    throw e;
  }
  return '';
}

/** The same, as lines ([] when it loads). */
export function inventoryErrorLines(text: string): string[] {
  const message = inventoryErrors(text);
  return message ? message.split('\n') : [];
}
