/**
 * The shell script behind `put` when commands run through sudo (the SSH login cannot write the target
 * with SFTP). The content streams through the one exec's stdin into a temp file in the target's own
 * directory, so the final step is an atomic rename(2) there; the temp file is removed on any failure.
 *
 * Why stdin and not a staging upload under /tmp: one exec instead of an SFTP session plus an exec, and
 * the content never sits in a second location (no private-dir cleanup to get wrong).
 */
import { posix } from 'node:path';
import { quote } from './quote.js';

export const BACKUP_SUFFIX = '.dpvs-deploy.bak';

export interface RemotePutParams {
  target: string;
  /** Temp file name in the target's directory (`.<name>.dpvs-deploy.<rand>`). */
  temp: string;
  mode: number;
  owner?: string;
  keepPrevious: boolean;
}

export function remoteTempName(target: string, rand: string): string {
  return posix.join(posix.dirname(target), `.${posix.basename(target)}.dpvs-deploy.${rand}`);
}

export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** A POSIX sh script that reads the content on stdin and installs it at `target` atomically. */
export function remotePutScript(p: RemotePutParams): string {
  const t = quote(p.target);
  const tmp = quote(p.temp);
  const lines = [
    'set -e',
    `tmp=${tmp}`,
    `trap 'rm -f -- "$tmp"' EXIT`,
    `d=${quote(posix.dirname(p.target))}`,
    `[ -d "$d" ] || { echo "directory $d does not exist" >&2; exit 3; }`,
    // noclobber: the temp name must be new (never follow or reuse someone else's file).
    'umask 077',
    '( set -C; cat > "$tmp" )',
    `chmod ${octalMode(p.mode)} -- "$tmp"`,
  ];
  if (p.owner !== undefined) lines.push(`chown -- ${quote(p.owner)} "$tmp"`);
  lines.push('sync -- "$tmp" 2>/dev/null || sync');
  if (p.keepPrevious) lines.push(`if [ -f ${t} ]; then cp -p -- ${t} ${quote(p.target + BACKUP_SUFFIX)}; fi`);
  lines.push(`mv -f -- "$tmp" ${t}`, 'trap - EXIT');
  return lines.join('\n');
}
