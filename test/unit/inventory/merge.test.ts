import { describe, expect, it } from 'vitest';
import { deepMerge } from '../../../src/inventory/merge.js';

describe('deepMerge (defaults → groups → host)', () => {
  it('merges mappings key by key and replaces lists and scalars', () => {
    const base = { dpvs: { version: '1.9.10', log_level: 'INFO' }, nics: [{ name: 'a' }, { name: 'b' }] };
    const over = { dpvs: { log_level: 'DEBUG' }, nics: [{ name: 'c' }] };
    expect(deepMerge(base, over)).toEqual({
      dpvs: { version: '1.9.10', log_level: 'DEBUG' },
      nics: [{ name: 'c' }],
    });
    expect(base.dpvs.log_level).toBe('INFO'); // inputs untouched
  });

  it('replaces a source mapping whole: a host URL does not inherit the group file', () => {
    const group = { dpdk: { version: '20.11.10', source: { file: 'dpdk.tar.xz' } } };
    const host = { dpdk: { source: { url: 'https://example.test/dpdk.tar.xz', sha256: 'a'.repeat(64) } } };
    expect(deepMerge(group, host)).toEqual({
      dpdk: {
        version: '20.11.10',
        source: { url: 'https://example.test/dpdk.tar.xz', sha256: 'a'.repeat(64) },
      },
    });
  });
});
