/**
 * Atomic file write on the control machine: temp file in the target's directory, write, fsync, chmod,
 * optional hook (chown), keep the previous file as PATH.dpvs-deploy.bak, rename over the target. The
 * temp file is removed on any failure, so the target is either the old or the new content.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BACKUP_SUFFIX } from './remote-put.js';

export { BACKUP_SUFFIX };

export interface AtomicWriteOptions {
  mode: number;
  /** Keep the previous file as PATH.dpvs-deploy.bak when it exists (default false here). */
  keepPrevious?: boolean;
  /** Create the parent directory with this mode when missing (default: fail). */
  makeDir?: number;
  /** Run on the finished temp file before the rename (e.g. chown). */
  beforeRename?: (tempPath: string) => Promise<void>;
}

/** `.<name>.dpvs-deploy.<rand>` next to the target. */
export function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.dpvs-deploy.${randomBytes(6).toString('hex')}`);
}

export async function atomicWriteFile(
  target: string,
  content: string | Buffer,
  options: AtomicWriteOptions,
): Promise<void> {
  if (options.makeDir !== undefined) await mkdir(dirname(target), { recursive: true, mode: options.makeDir });
  const temp = tempNameFor(target);
  try {
    const fh = await open(temp, 'wx', options.mode);
    try {
      await fh.writeFile(content);
      await fh.sync();
      await fh.chmod(options.mode);
    } finally {
      await fh.close();
    }
    if (options.beforeRename) await options.beforeRename(temp);
    if (options.keepPrevious) {
      const existing = await stat(target).catch(() => undefined);
      if (existing?.isFile()) await copyFile(target, target + BACKUP_SUFFIX);
    }
    await rename(temp, target);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}
