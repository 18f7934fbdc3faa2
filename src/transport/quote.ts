/**
 * The one quoting function. Every value that reaches a remote shell goes through `quote` (or the `sh`
 * template tag, which quotes every interpolated value). Values are wrapped in single quotes, with each
 * embedded single quote written as '\''. Option-like values are safe as arguments because callers put
 * `--` before positional values where the command supports it.
 */
export function quote(value: string | number): string {
  const s = String(value);
  if (s.includes('\0')) throw new Error('refusing to quote a value containing a NUL byte');
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) && !s.startsWith('-')) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A raw shell fragment that `sh` must not quote (only for fragments built by our own code). */
export class Raw {
  constructor(readonly text: string) {}
}
export const raw = (text: string): Raw => new Raw(text);

type ShValue = string | number | Raw | ReadonlyArray<string | number>;

/** Template tag: sh`ls -l ${path}` quotes `path`; arrays become space-separated quoted words. */
export function sh(strings: TemplateStringsArray, ...values: ShValue[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    if (v instanceof Raw) out += v.text;
    else if (Array.isArray(v)) out += v.map((x: string | number) => quote(x)).join(' ');
    else out += quote(v as string | number);
    out += strings[i + 1] ?? '';
  });
  return out;
}
