import { describe, expect, it } from 'vitest';
import { formatCpuList, parseCpuList } from '../../src/cpu-list.js';

describe('CPU lists (the kernel format)', () => {
  it('parses single CPUs and ranges, ascending, each CPU once', () => {
    expect(parseCpuList('2-5,8,10-11\n')).toEqual([2, 3, 4, 5, 8, 10, 11]);
    expect(parseCpuList('8,2-3,3')).toEqual([2, 3, 8]);
    expect(parseCpuList('')).toEqual([]);
    expect(parseCpuList('x,4')).toEqual([4]);
  });

  it("parses a range with a stride as kernel-parameters.rst's example: 100-2000:2/25", () => {
    const cpus = parseCpuList('100-2000:2/25');
    expect(cpus.slice(0, 6)).toEqual([100, 101, 125, 126, 150, 151]);
    // 77 groups start at 100, 125, …, 2000; the last one is cut at the range's end (lib/bitmap.c:
    // bitmap_set_region sets min(end - start + 1, used) CPUs of each group)
    expect(cpus.length).toBe(2 * 76 + 1);
    expect(cpus.slice(-3)).toEqual([1975, 1976, 2000]);
  });

  it('prints ranges the way the kernel does, and reads back what it printed', () => {
    expect(formatCpuList([5, 2, 3, 4, 8, 10, 11])).toBe('2-5,8,10-11');
    expect(formatCpuList([1, 1, 2])).toBe('1-2');
    expect(formatCpuList([])).toBe('');
    const cpus = [0, 1, 2, 3, 8, 9, 15, 31, 32];
    expect(parseCpuList(formatCpuList(cpus))).toEqual(cpus);
  });
});
