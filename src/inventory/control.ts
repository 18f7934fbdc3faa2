/**
 * Control-side inputs of a run: what the planners need from the control machine — secret values from
 * the environment or files, checksums of local source tarballs and patches, the DPVS patch series of a
 * local DPVS tarball — read once when the inventory loads (src/inventory/control-read.ts), so that
 * planners stay pure functions of the inventory and the facts. This module only looks values up.
 */
import path from 'node:path';
import type { SecretValue } from './schema.js';

export type ControlValue = { ok: true; value: string } | { ok: false; reason: string };

/** A control-side file the inventory names: its sha256, or why it could not be read. */
export type LocalFile =
  { ok: true; path: string; sha256: string } | { ok: false; path: string; reason: string };

export interface ControlInputs {
  /** Every secret the inventory names, by secretKey(). */
  secrets: ReadonlyMap<string, ControlValue>;
  /** Every local file the inventory names (source tarballs, patches), by absolute path. */
  files: ReadonlyMap<string, LocalFile>;
  /**
   * The DPVS patch series of each local DPVS tarball, by seriesKey(tarball, patchDir): the hash over
   * the names and contents of patchDir's files (src/tasks/dpdk/series.ts computes the same on a host).
   */
  series: ReadonlyMap<string, string>;
}

export const NO_CONTROL_INPUTS: ControlInputs = { secrets: new Map(), files: new Map(), series: new Map() };

/** What a planner knows of the control machine: the inventory's directory and what was read at load. */
export interface ControlSide {
  dir: string;
  control?: ControlInputs;
}

/** The absolute control-side path of a path written in the inventory. */
export function localPath(c: ControlSide, rel: string): string {
  return path.resolve(c.dir, rel);
}

/** A local file the inventory names, as read at load. */
export function localFile(c: ControlSide, rel: string): LocalFile {
  const abs = localPath(c, rel);
  return (
    c.control?.files.get(abs) ?? { ok: false, path: abs, reason: 'not read when the inventory was loaded' }
  );
}

export function seriesKey(tarball: string, patchDir: string): string {
  return `${tarball}\0${patchDir}`;
}

/** The patch series hash of a local DPVS tarball's patchDir, as read at load ('' when it has none). */
export function localSeries(c: ControlSide, tarball: string, patchDir: string): string {
  return c.control?.series.get(seriesKey(tarball, patchDir)) ?? '';
}

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
