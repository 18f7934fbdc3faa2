/**
 * Resolve an inventory Secret (literal | {env} | {file}) on the control machine. The value is returned
 * to the caller only; it is never logged. File paths resolve against the inventory's directory.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { SecretValue } from './schema.js';

/** Resolve a control-machine path: `~/` is the home directory, relative paths are against `baseDir`. */
export function resolveLocalPath(p: string, baseDir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Returns the secret's value, or throws an Error that names where it was looked for (never the value). */
export function resolveSecret(secret: SecretValue, baseDir: string): string {
  if (typeof secret === 'string') return secret;
  if ('env' in secret) {
    const v = process.env[secret.env];
    if (v === undefined || v === '') throw new Error(`environment variable ${secret.env} is not set`);
    return v;
  }
  const file = resolveLocalPath(secret.file, baseDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read secret file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  // One trailing newline is not part of the secret (files written with echo).
  return text.replace(/\r?\n$/, '');
}

/** resolveSecret's outcome without throwing: the value, or why it could not be had. */
export function trySecret(
  secret: SecretValue,
  baseDir: string,
): { ok: true; value: string } | { ok: false; reason: string } {
  try {
    return { ok: true, value: resolveSecret(secret, baseDir) };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
