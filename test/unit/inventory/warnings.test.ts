/**
 * Findings `validate` reports as warnings (exit 0): hugepages that cannot hold the pools dpvs creates on
 * every socket. Preflight judges the same memory with the host's facts (HP-003, HP-004); validate says
 * it earlier, positioned, naming the pool size it was computed from.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as validate } from '../../../src/cli/validate.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { mbufCount, poolBytesPerSocket } from '../../../src/inventory/semantic-sizes.js';

const file = path.resolve('test/fixtures/warnings/hugepages-too-small-for-pools.yaml');

describe('hugepages against dpvs pools', () => {
  it('rounds pktpool_size as upstream does (2^floor(log2(n+1)) - 1) and sizes both pools', () => {
    expect(mbufCount(65535)).toBe(65535);
    expect(mbufCount(100000)).toBe(65535);
    expect(mbufCount(1048575)).toBe(1048575);
    expect(poolBytesPerSocket(65535, 262144)).toBe(65535 * 2368 + 262144 * 576);
  });

  it('warns at per_node, naming the pool size and the pktpool_size it comes from', async () => {
    const inv = await loadInventory(file);
    expect(inv.warnings).toHaveLength(1);
    const w = inv.warnings[0];
    expect(w).toMatchObject({ line: 9, col: 38, path: 'hosts.lb1.hugepages.per_node' });
    expect(w?.message).toContain('1024 × 2M hugepages on every node (2048 MiB) cannot hold the pools');
    expect(w?.message).toContain('1048575 mbufs × 2368 B + 2097152 connections × 576 B = 3520 MiB');
    expect(w?.message).toContain('raise hugepages.per_node to at least 1760');
    expect(w?.message).toContain(`[other value: hosts.lb1.dpvs.pktpool_size at ${file}:8:27]`);
    let err = '';
    const code = await validate(
      { inventory: file },
      { stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) } },
    );
    expect(code).toBe(0);
    expect(err).toMatch(/:9:38: hosts\.lb1\.hugepages\.per_node: warning: 1024 × 2M hugepages/);
  });
});
