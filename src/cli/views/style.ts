/** Terminal style: colour only when the output is a TTY and NO_COLOR is unset (TERM=dumb: none). */
export interface Style {
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  cyan(s: string): string;
}

export function makeStyle(color: boolean): Style {
  const w = (code: number) => (s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { bold: w(1), red: w(31), green: w(32), yellow: w(33), dim: w(2), cyan: w(36) };
}

export function colorWanted(stream: { isTTY?: boolean }): boolean {
  return !!stream.isTTY && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb';
}
