/**
 * /etc/fstab editing that keeps every other line as it is: the entry for a mount point is replaced in
 * place when present, appended otherwise.
 */
import { fstabField, parseFstabField } from '../escape.js';

export interface FstabEntry {
  spec: string;
  file: string;
  vfstype: string;
  options: string;
  freq?: number;
  passno?: number;
}

/** The entry as one fstab line, every field through the fstab escaping rule (src/escape.ts). */
export function formatFstabEntry(e: FstabEntry): string {
  return [e.spec, e.file, e.vfstype, e.options, String(e.freq ?? 0), String(e.passno ?? 0)]
    .map(fstabField)
    .join(' ');
}

export function fstabWithEntry(current: string, entry: FstabEntry): string {
  const line = formatFstabEntry(entry);
  const lines = current === '' ? [] : current.replace(/\n$/, '').split('\n');
  let found = false;
  const out = lines.map((l) => {
    const f = l.trim().split(/\s+/).map(parseFstabField);
    if (l.trim().startsWith('#') || f.length < 3 || f[1] !== entry.file) return l;
    found = true;
    const same = f[0] === entry.spec && f[2] === entry.vfstype && f[3] === entry.options;
    return same ? l : line;
  });
  if (!found) out.push(line);
  return out.join('\n') + '\n';
}
