/**
 * sha256 of large files (kernel modules) under one key, read as `sha256sum -- PATH...` prints them: a
 * missing file is left out. The request is `hashes`: the probe hashes them with its one sha256sum over
 * every file it reads (no process of their own) and never copies their bytes into its output. Paths may
 * hold the running kernel (RUNNING_KERNEL: /lib/modules/<release>/extra/igb_uio.ko); the value is by
 * the path as the host expanded it.
 *
 *   { '/lib/modules/6.1.0-18-amd64/extra/rte_kni.ko': '7ec73871...' }
 */
import { z } from 'zod';
import { type FactReader, factReader } from '../read.js';
import { shaLine } from '../requested.js';

export const fileHashesSchema = z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/));

/** sha256sum's lines into path -> hash (requested.ts shaLine: escaped names, binary mode). */
export function parseSha256sum(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const s = shaLine(line);
    if (s) out[s[0]] = s[1];
  }
  return out;
}

/** A reader of one set of hashes, under its own key. */
export function fileHashes(key: string, what: string): FactReader<Record<string, string>, readonly string[]> {
  return factReader<Record<string, string>, readonly string[]>({
    name: `sha256 of ${what}`,
    keys: [key],
    schema: fileHashesSchema,
    request: (paths) => (paths.length ? { hashes: { [key]: [...paths] } } : {}),
    parse: (raw) => parseSha256sum(raw(key)?.stdout ?? ''),
  });
}

/** The out-of-tree modules kmods installs under /lib/modules/<running kernel>/extra. */
export const extraModuleHashes = fileHashes('kmods-extra', 'the modules in /lib/modules/<kernel>/extra');

/** The realserver's toa/uoa modules: built (under the build root) and installed (extra). */
export const rsModuleHashes = fileHashes('rs-kmod', "the realserver's built and installed toa/uoa modules");
