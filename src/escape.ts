/**
 * One escaping rule per generated file format. Every inventory value written into one of these files
 * goes through its rule; values the rule cannot carry are refused by the inventory schema first (so
 * `validate` reports them with a position) and, should one get past it, by the rule itself (an error,
 * never a broken file).
 *
 * | format            | rule                                    | where                           |
 * |-------------------|-----------------------------------------|---------------------------------|
 * | shell command     | `quote` / the `sh` tag: single quotes   | src/transport/quote.ts          |
 * | systemd Exec= word | `systemdWord`: bare or "…", %% and $$  | here (systemd.service(7))       |
 * | systemd setting   | `systemdValue`: %%, refuse line breaks  | here (systemd.syntax(7))        |
 * | systemd Environment= | `systemdAssignment`: bare or "…", %% | here (systemd.exec(7))          |
 * | /etc/fstab field  | `fstabField`: octal \040 \011 \012 \134 | here (fstab(5), getmntent(3))   |
 * | dpvs.conf token   | `dpvsConfToken`: refuse                 | here (applied in printNodes)    |
 * | keepalived token  | `keepalivedToken`: refuse               | here (applied in keepalived.ts) |
 *
 * dpvs.conf and keepalived.conf have no quoting that both parsers honour (dpvs's tokenizer splits on
 * white space, drops `<…>` and everything after a token starting with `!` or `#`, and treats braces
 * as structure: src/dpvsconf/syntax.ts), so their rule is a refusal of anything but plain printable
 * tokens.
 */

export class UnsafeValueError extends Error {
  constructor(format: string, what: string, value: string, why: string) {
    super(`${what} ${JSON.stringify(value)} cannot be written into ${format}: ${why}`);
    this.name = 'UnsafeValueError';
  }
}

const FSTAB_ESCAPES: Record<string, string> = { ' ': '\\040', '\t': '\\011', '\n': '\\012', '\\': '\\134' };

/** One /etc/fstab field: space, tab, newline and backslash as the octal escapes getmntent(3) decodes. */
export function fstabField(value: string): string {
  if (value === '')
    throw new UnsafeValueError('/etc/fstab', 'an empty field', value, 'fields cannot be empty');
  if (value.includes('\0'))
    throw new UnsafeValueError('/etc/fstab', 'a field', value, 'it contains a NUL byte');
  return value.replace(/[ \t\n\\]/g, (c) => FSTAB_ESCAPES[c] as string);
}

/** The inverse of fstabField, as getmntent(3) reads a field. */
export function parseFstabField(field: string): string {
  return field.replace(/\\(040|011|012|134)/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** A plain dpvs.conf token: printable, no white space, braces, `<` `>`, and not starting a comment. */
export function dpvsConfToken(value: string, what = 'a value'): string {
  if (!/^[\x21-\x7e]+$/.test(value))
    throw new UnsafeValueError(
      'dpvs.conf',
      what,
      value,
      'only printable characters without spaces are allowed',
    );
  if (/[{}<>]/.test(value))
    throw new UnsafeValueError('dpvs.conf', what, value, '{ } < > are dpvs.conf syntax');
  if (/^[!#]/.test(value))
    throw new UnsafeValueError('dpvs.conf', what, value, 'a token starting with ! or # is a comment');
  return value;
}

/**
 * A plain keepalived.conf token: printable, no white space, braces, quotes, backslash, comment marks or
 * `$` (keepalived 2 substitutes $NAME parameters).
 */
export function keepalivedToken(value: string, what = 'a value'): string {
  if (!/^[\x21-\x7e]+$/.test(value))
    throw new UnsafeValueError(
      'keepalived.conf',
      what,
      value,
      'only printable characters without spaces are allowed',
    );
  if (!isKeepalivedToken(value))
    throw new UnsafeValueError(
      'keepalived.conf',
      what,
      value,
      '{ } quotes, backslash, ! # and $ are keepalived.conf syntax (blocks, strings, comments, parameter substitution)',
    );
  return value;
}

/** Whether keepalivedToken accepts a value (the schema refuses the rest with a position). */
export function isKeepalivedToken(value: string): boolean {
  return /^[\x21-\x7e]+$/.test(value) && !/[{}"'\\!#$]/.test(value);
}

// ---------- systemd unit files (rendered by src/plan/ops/systemd-unit.ts) ----------

function noLineBreak(what: string, value: string): void {
  if (/[\n\r\0]/.test(value))
    throw new UnsafeValueError('a systemd unit', what, value, 'a line break (or NUL) would end the setting');
}

/**
 * One word of an Exec*= command line (systemd.service(7), "Command lines"): bare when it holds only
 * safe characters, else double-quoted with `\` and `"` escaped (systemd.syntax(7), "Quoting"); `%` is
 * doubled (specifiers) and `$` doubled (environment variable substitution) in both forms.
 */
export function systemdWord(value: string): string {
  if (/[\n\r\0]/.test(value))
    throw new UnsafeValueError(
      'a systemd unit',
      'a systemd argument',
      value,
      'a systemd argument cannot contain a line break',
    );
  const escaped = value.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && /^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A whole Exec*= command line: each argument one systemdWord. */
export const systemdCommand = (argv: readonly string[]): string => argv.map(systemdWord).join(' ');

/**
 * The value of an ordinary setting (Description=, After=, LimitNOFILE=): the rest of the line, taken
 * as it is except for `%` specifiers (doubled here). Refused: a line break (it would end the setting),
 * a trailing backslash (a line continuation) and white space at either end (systemd strips it).
 */
export function systemdValue(value: string, what = 'a setting'): string {
  noLineBreak(what, value);
  if (/\\$/.test(value))
    throw new UnsafeValueError('a systemd unit', what, value, 'a trailing backslash continues the line');
  if (value !== value.trim())
    throw new UnsafeValueError('a systemd unit', what, value, 'systemd strips white space at either end');
  return value.replace(/%/g, '%%');
}

/**
 * One Environment= assignment NAME=value (systemd.exec(7)): quoted as one word per systemd.syntax(7)
 * (bare when safe, else "…" with `\` and `"` escaped), `%` doubled; `$` has no meaning there and stays.
 */
export function systemdAssignment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new UnsafeValueError('a systemd unit', 'an environment variable name', name, 'not a variable name');
  noLineBreak(`${name}`, value);
  const escaped = `${name}=${value}`.replace(/%/g, '%%');
  if (/^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
