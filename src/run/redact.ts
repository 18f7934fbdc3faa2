/**
 * Secrets never reach plans, logs, reports or transcripts: every text leaving the engine passes through
 * a Redactor that knows the run's secret values.
 */
import { createHash } from 'node:crypto';
import { SECRET_KEYS, secretValue } from '../inventory/control.js';
import type { LoadedInventory } from '../inventory/types.js';

export const MASK = '******';

export class Redactor {
  private readonly secrets: string[];
  constructor(secrets: Iterable<string>) {
    this.secrets = [...new Set([...secrets].filter((s) => s.length >= 3))].sort(
      (a, b) => b.length - a.length,
    );
  }
  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(MASK);
    return out;
  }
  get size(): number {
    return this.secrets.length;
  }
  /**
   * For saved plans: each secret becomes a token naming its hash, so the file holds no secret and
   * `apply plan.json` puts the value back from the inventory (or the environment) at apply time.
   */
  tokenize(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(secretToken(s));
    return out;
  }
  /** The inverse of tokenize; a token whose secret the inventory no longer yields is an error. */
  detokenize(text: string): string {
    const byToken = new Map(this.secrets.map((s) => [secretToken(s), s]));
    return text.replace(/\{\{dpvs-deploy-secret:([0-9a-f]{12})\}\}/g, (tok: string) => {
      const v = byToken.get(tok);
      if (v === undefined)
        throw new Error(
          'the saved plan uses a secret the inventory no longer provides (changed or unset); plan again',
        );
      return v;
    });
  }
}

export function secretToken(secret: string): string {
  return `{{dpvs-deploy-secret:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}}}`;
}

/** Every secret the inventory holds: values under keys the schema marks as secrets. */
export function inventorySecrets(inv: LoadedInventory): string[] {
  const out: string[] = [];
  const walk = (node: unknown, key?: string): void => {
    if (key && SECRET_KEYS.has(key)) {
      const s = secretValue(node, inv.control);
      if (s) out.push(s);
      return;
    }
    if (Array.isArray(node)) node.forEach((n) => walk(n));
    else if (node && typeof node === 'object')
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) walk(v, k);
  };
  walk(inv.doc);
  for (const h of inv.hosts) walk(h);
  return out;
}
