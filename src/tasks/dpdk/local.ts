/**
 * Checksums of files on the control machine (air-gapped source tarballs, the user's own DPDK patches).
 * The planners need them to name upload steps and to decide whether a rebuild is due; reading a
 * control-side input file is like reading the inventory itself. Memoised by path, size and mtime, so
 * one run hashes each file once and an edited file is hashed again.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export type LocalFile =
  { ok: true; path: string; sha256: string } | { ok: false; path: string; reason: string };

const memo = new Map<string, string>();

/** sha256 of a control-side file, `rel` resolved against the inventory's directory. */
export function localFile(inventoryDir: string, rel: string): LocalFile {
  const abs = path.resolve(inventoryDir, rel);
  try {
    const st = statSync(abs);
    if (!st.isFile()) return { ok: false, path: abs, reason: 'not a regular file' };
    const key = `${abs}\0${st.size}\0${st.mtimeMs}`;
    let sha = memo.get(key);
    if (sha === undefined) {
      sha = createHash('sha256').update(readFileSync(abs)).digest('hex');
      memo.set(key, sha);
    }
    return { ok: true, path: abs, sha256: sha };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, path: abs, reason: code === 'ENOENT' ? 'no such file' : String(code ?? e) };
  }
}
