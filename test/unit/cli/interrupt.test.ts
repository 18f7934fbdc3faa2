import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { INTERRUPTED_EXIT, installInterrupt } from '../../../src/cli/interrupt.js';

describe('installInterrupt', () => {
  it('first SIGINT aborts the signal, the second exits 130 at once', () => {
    const target = new EventEmitter();
    const notes: string[] = [];
    const exits: number[] = [];
    const i = installInterrupt({ notify: (m) => notes.push(m), exit: (c) => exits.push(c), target });
    expect(i.interrupted).toBe(false);
    target.emit('SIGINT');
    expect(i.signal.aborted).toBe(true);
    expect(i.interrupted).toBe(true);
    expect(exits).toEqual([]);
    expect(notes[0]).toMatch(/starting no new steps/);
    target.emit('SIGINT');
    expect(exits).toEqual([INTERRUPTED_EXIT]);
    i.dispose();
    expect(target.listenerCount('SIGINT')).toBe(0);
  });

  it('exits 130 when the wind-down outlasts the grace period', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    const i = installInterrupt({ notify: () => undefined, exit: (c) => exits.push(c), target, graceMs: 20 });
    target.emit('SIGINT');
    await new Promise((r) => setTimeout(r, 60));
    expect(exits).toEqual([INTERRUPTED_EXIT]);
    i.dispose();
  });

  it('dispose before the grace ends cancels the forced exit', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    const i = installInterrupt({ notify: () => undefined, exit: (c) => exits.push(c), target, graceMs: 20 });
    target.emit('SIGINT');
    i.dispose();
    await new Promise((r) => setTimeout(r, 60));
    expect(exits).toEqual([]);
  });
});
