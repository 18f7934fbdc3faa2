import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { gather } from '../../../src/run/gather.js';
import type { Transport, TransportStats } from '../../../src/transport/types.js';
import { factsBuilder } from '../../support/facts-builder.js';

const host = (name: string): ResolvedHost => ({ name, address: '10.0.0.1', roles: ['balancer'], groups: [] });

/** A transport that counts its closes and the connections open at once across a fleet. */
function fleet() {
  let open = 0;
  let maxOpen = 0;
  const closes = new Map<string, number>();
  const connect = async (h: ResolvedHost): Promise<Transport> => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    const stats: TransportStats = { connections: 1, execs: 0, uploads: 0 };
    let closed = false;
    return {
      name: h.name,
      exec: async (command) => {
        if (closed) throw new Error('closed');
        stats.execs++;
        return { stdout: command, stderr: '', code: 0, durationMs: 1 };
      },
      put: async () => undefined,
      get: async () => Buffer.alloc(0),
      close: async () => {
        if (!closed) open--;
        closed = true;
        closes.set(h.name, (closes.get(h.name) ?? 0) + 1);
      },
      get stats() {
        return { ...stats };
      },
    };
  };
  return { connect, closes, maxOpen: () => maxOpen, open: () => open };
}

const facts = (): Facts => factsBuilder().build();

describe('gather', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e'].map(host);

  it('keeps every connection open by default (apply runs on them)', async () => {
    const f = fleet();
    const g = await gather({
      hosts,
      forks: 2,
      connect: f.connect,
      probe: async (_h, t) => (await t.exec('probe'), facts()),
      log: () => undefined,
    });
    expect(g.facts.size).toBe(5);
    expect(f.open()).toBe(5);
    expect(f.closes.size).toBe(0);
    await expect(g.transports.get('a')?.exec('true')).resolves.toMatchObject({ code: 0 });
  });

  it('with release, closes each connection after its probe: at most `forks` open, counters kept', async () => {
    const f = fleet();
    const g = await gather({
      hosts,
      forks: 2,
      release: true,
      connect: f.connect,
      probe: async (_h, t) => (await t.exec('probe'), facts()),
      log: () => undefined,
    });
    expect(g.facts.size).toBe(5);
    expect(f.open()).toBe(0);
    expect(f.maxOpen()).toBeLessThanOrEqual(2);
    expect([...f.closes.values()]).toEqual([1, 1, 1, 1, 1]);
    const a = g.transports.get('a');
    expect(a?.stats).toEqual({ connections: 1, execs: 1, uploads: 0 });
    await expect(a?.exec('true')).rejects.toThrow(/a: the connection was released after the probe/);
    await expect(a?.close()).resolves.toBeUndefined();
  });

  it('with release, a failed probe still closes its connection and records the error', async () => {
    const f = fleet();
    const g = await gather({
      hosts: [host('a'), host('b')],
      forks: 2,
      release: true,
      connect: f.connect,
      probe: async (h) => {
        if (h === 'b') throw new Error('probe cut short');
        return facts();
      },
      log: () => undefined,
    });
    expect(g.errors.get('b')).toMatch(/probe cut short/);
    expect(g.facts.has('b')).toBe(false);
    expect(f.open()).toBe(0);
  });
});
