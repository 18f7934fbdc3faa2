/**
 * Control-side inputs of a run: what the planners need from the control machine (secret values from
 * the environment or files) read once when the inventory loads (src/inventory/control-read.ts), so
 * that planners stay pure functions of the inventory and the facts. This module only looks values up.
 */
import type { SecretValue } from './schema.js';

export type ControlValue = { ok: true; value: string } | { ok: false; reason: string };

export interface ControlInputs {
  /** Every secret the inventory names, by secretKey(). */
  secrets: ReadonlyMap<string, ControlValue>;
}

export const NO_CONTROL_INPUTS: ControlInputs = { secrets: new Map() };

/** Keys under which the inventory holds secrets (schema: Secret / KeepalivedSecret). */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'sudo_password',
  'auth_pass',
  'password',
  'token',
  'secret',
]);

/** A stable key of a secret reference ({env}, {file}); null for a literal (needs no lookup). */
export function secretKey(v: unknown): string | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as { env?: unknown; file?: unknown };
  if (typeof o.env === 'string') return `env:${o.env}`;
  if (typeof o.file === 'string') return `file:${o.file}`;
  return null;
}

/** The value of a secret as read at load; undefined when it could not be had (or was never read). */
export function secretValue(v: SecretValue | unknown, inputs: ControlInputs | undefined): string | undefined {
  if (typeof v === 'string') return v;
  const k = secretKey(v);
  const r = k === null ? undefined : inputs?.secrets.get(k);
  return r?.ok ? r.value : undefined;
}
