import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quote, sh } from '../../../src/transport/quote.js';

const hostile = [
  'plain',
  'with space',
  "it's",
  '$(touch /tmp/pwned)',
  '`id`',
  'a;b|c&d',
  'line1\nline2',
  '-rf',
  '--force',
  '"double"',
  '../../../etc/passwd',
  '',
  '\\',
  '*',
  '~root',
];

describe('quote', () => {
  it.each(hostile)('round-trips %j through a real sh as one argument', (value) => {
    const out = execFileSync('sh', ['-c', `printf '%s' ${quote(value)}`]).toString();
    expect(out).toBe(value);
  });

  it('quotes option-like values so they are data, not flags', () => {
    expect(quote('-rf')).toBe("'-rf'");
  });

  it('refuses NUL bytes', () => {
    expect(() => quote('a\0b')).toThrow(/NUL/);
  });

  it('sh tag quotes every interpolated value and arrays as words', () => {
    const cmd = sh`printf '%s|' ${['a b', '$(x)']} ${"c'd"}`;
    expect(execFileSync('sh', ['-c', cmd]).toString()).toBe("a b|$(x)|c'd|");
  });
});
