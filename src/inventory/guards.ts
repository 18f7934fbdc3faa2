/**
 * Checks on the raw bytes of an inventory, before the YAML parser sees them: size, encoding, control
 * characters and nesting depth. The YAML parser recurses per nesting level (a deeply nested flow
 * collection can exhaust the stack or the heap), so depth is bounded here by a linear scan.
 */

export const MAX_INVENTORY_BYTES = 1024 * 1024;
export const MAX_NESTING = 64;

/** A problem found at a character offset of the decoded text (or a byte offset when decoding failed). */
export interface RawProblem {
  /** 1-based line and column. */
  line: number;
  col: number;
  message: string;
}

/** Line/column (1-based) of a byte offset, counting UTF-8 characters as one column. */
function bytePosition(bytes: Uint8Array, offset: number): { line: number; col: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x0a) {
      line++;
      col = 1;
    } else if ((b & 0xc0) !== 0x80) {
      col++;
    }
  }
  return { line, col };
}

/** Offset of the first byte that is not valid UTF-8, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Decodes the file, or returns the problem that makes it no text inventory. */
export function decodeInventory(bytes: Uint8Array): { text: string } | { problem: RawProblem } {
  if (bytes.length > MAX_INVENTORY_BYTES) {
    return {
      problem: {
        line: 1,
        col: 1,
        message: `the inventory is ${bytes.length} bytes; at most ${MAX_INVENTORY_BYTES} (1 MiB) are accepted`,
      },
    };
  }
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    return {
      problem: {
        ...bytePosition(bytes, bad),
        message: `invalid UTF-8 byte 0x${(bytes[bad] as number).toString(16).padStart(2, '0')}: the inventory must be UTF-8 text (is this a binary file?)`,
      },
    };
  }
  let text = new TextDecoder('utf-8').decode(bytes);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // Control characters other than tab, LF and CR (YAML forbids them; NUL would also truncate C strings).
  const ctlAt = firstControlChar(text);
  if (ctlAt >= 0) {
    const { line, col } = textPosition(text, ctlAt);
    const code = text.charCodeAt(ctlAt);
    return {
      problem: {
        line,
        col,
        message: `control character U+${code.toString(16).toUpperCase().padStart(4, '0')}${code === 0 ? ' (NUL)' : ''} is not allowed in an inventory (is this a binary file?)`,
      },
    };
  }
  return { text };
}

/** Offset of the first control character other than tab, LF and CR, or -1. */
function firstControlChar(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return i;
  }
  return -1;
}

export function textPosition(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

/**
 * A linear, conservative estimate of the nesting depth: flow brackets outside quotes and comments,
 * plus block indentation levels and compact `- ` sequence entries. Returns the first offset where the
 * depth exceeds `max`, or -1.
 */
export function excessiveNesting(text: string, max = MAX_NESTING): number {
  const indents: number[] = [];
  let flow = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // start of a line
    let indent = 0;
    while (i < n && text[i] === ' ') {
      indent++;
      i++;
    }
    const lineContentStart = i;
    let blank = true;
    let prevSignificant = '\n';
    let dashes = 0;
    let inSingle = false;
    let inDouble = false;
    while (i < n && text[i] !== '\n') {
      const c = text[i] as string;
      if (inDouble) {
        if (c === '\\') i++;
        else if (c === '"') inDouble = false;
      } else if (inSingle) {
        if (c === "'") inSingle = false;
      } else if (c === '#' && (i === lineContentStart || text[i - 1] === ' ' || text[i - 1] === '\t')) {
        while (i < n && text[i] !== '\n') i++;
        break;
      } else if (c === '"') {
        inDouble = true;
        blank = false;
      } else if (c === "'") {
        inSingle = true;
        blank = false;
      } else if (c === '[' || c === '{') {
        if (flow > 0 || ':-,[{?\n'.includes(prevSignificant)) {
          flow++;
          if (flow + indents.length > max) return i;
        }
        blank = false;
      } else if ((c === ']' || c === '}') && flow > 0) {
        flow--;
      } else if (
        c === '-' &&
        flow === 0 &&
        prevSignificant === (dashes === 0 ? '\n' : '-') &&
        text[i + 1] === ' '
      ) {
        dashes++;
        blank = false;
      } else if (c !== ' ' && c !== '\t' && c !== '\r') {
        blank = false;
      }
      if (c !== ' ' && c !== '\t') prevSignificant = c;
      i++;
    }
    if (!blank && flow === 0) {
      while (indents.length > 0 && (indents[indents.length - 1] as number) >= indent) indents.pop();
      indents.push(indent);
      if (indents.length + dashes > max) return lineContentStart;
    }
    i++;
  }
  return -1;
}
