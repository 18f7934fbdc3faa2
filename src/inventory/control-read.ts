/**
 * Reads the control-side inputs of an inventory (src/inventory/control.ts) once, at load: every
 * secret it references through the one resolver (src/inventory/secret.ts). Failures are kept as
 * reasons, not thrown: only a run that needs the value reports it.
 */
import { SECRET_KEYS, secretKey, type ControlInputs, type ControlValue } from './control.js';
import type { SecretValue } from './schema.js';
import { trySecret } from './secret.js';

export function readControlInputs(roots: readonly unknown[], dir: string): ControlInputs {
  const secrets = new Map<string, ControlValue>();
  const walk = (node: unknown, key?: string): void => {
    if (key !== undefined && SECRET_KEYS.has(key)) {
      const k = secretKey(node);
      if (k !== null && !secrets.has(k)) secrets.set(k, trySecret(node as SecretValue, dir));
      return;
    }
    if (Array.isArray(node)) node.forEach((n) => walk(n));
    else if (node && typeof node === 'object')
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) walk(v, k);
  };
  roots.forEach((r) => walk(r));
  return { secrets };
}
