/** The CLI's output streams and style, injectable for tests. */
import { colorWanted, makeStyle, type Style } from './views/style.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  debug(text: string): void;
  /** Write text exactly as given (no newline added). */
  raw(stream: 'out' | 'err', text: string): void;
  style: Style;
  isTTY: boolean;
  /** Ask a yes/no question on the TTY; false when there is no TTY. */
  confirm(question: string): Promise<boolean>;
}

export function processIo(debug: boolean): Io {
  const isTTY = !!process.stdout.isTTY && !!process.stdin.isTTY;
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
    raw: (stream, t) => (stream === 'out' ? process.stdout : process.stderr).write(t),
    debug: (t) => {
      if (debug) process.stderr.write(`debug: ${t}\n`);
    },
    style: makeStyle(colorWanted(process.stdout)),
    isTTY,
    confirm: async (q) => {
      if (!isTTY) return false;
      const { createInterface } = await import('node:readline/promises');
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        const a = await rl.question(`${q} Only 'yes' will be accepted: `);
        return a.trim() === 'yes';
      } finally {
        rl.close();
      }
    },
  };
}
