/**
 * docs/inventory.md's examples are values the validator accepts, and its defaults are the code's: an
 * `addresses[]` / `routes[]` item made of every row's example loads on a balancer.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadInventoryBytes } from '../../../src/inventory/load.js';
import { DEFAULT_CONNECT_TIMEOUT_S } from '../../../src/inventory/defaults.js';

const doc = readFileSync('docs/inventory.md', 'utf8');

/** Rows (key → example) of the table under `## \`TITLE\` (each item)`. */
function examples(title: string): Record<string, unknown> {
  const at = doc.indexOf(`## \`${title}\` (each item)`);
  expect(at, title).toBeGreaterThan(0);
  const rows = doc
    .slice(at)
    .split('\n## ')[0]!
    .split('\n')
    .filter((l) => /^\| `/.test(l));
  return Object.fromEntries(
    rows.map((r) => {
      const cells = r.split(' | ');
      const key = /`([^`]+)`/.exec(cells[0]!)![1]!;
      const example = /`(.*)`/.exec(cells[cells.length - 1]!)![1]!;
      return [key, parse(example) as unknown];
    }),
  );
}

function inventory(item: { addresses?: unknown[]; routes?: unknown[] }): string {
  return JSON.stringify({
    version: 1,
    hosts: {
      lb1: {
        address: '10.0.0.11',
        roles: ['balancer'],
        nics: [{ name: 'dpdk0', match: { pci: '0000:04:00.0' } }],
        ...item,
      },
    },
  });
}

describe('docs/inventory.md examples validate', () => {
  it('an addresses[] item of the examples loads', () => {
    const a = examples('addresses[]');
    expect(a.address).toBe('10.0.96.204/32');
    expect(() => loadInventoryBytes(Buffer.from(inventory({ addresses: [a] })), 'inv.yaml')).not.toThrow();
  });

  it('a routes[] item of the examples loads (with the addresses[] example for its src)', () => {
    const r = examples('routes[]');
    const a = { ...examples('addresses[]'), address: `${String(r.src)}/24` }; // its subnet holds the via
    expect(() =>
      loadInventoryBytes(Buffer.from(inventory({ addresses: [a], routes: [r] })), 'inv.yaml'),
    ).not.toThrow();
  });

  it('ssh.connect_timeout_s documents the timeout the transport uses', () => {
    const row = doc.split('\n').find((l) => l.startsWith('| `connect_timeout_s` |'))!;
    expect(row.split(' | ')[3]).toBe(`${DEFAULT_CONNECT_TIMEOUT_S}, or ssh_config ConnectTimeout`);
    expect(DEFAULT_CONNECT_TIMEOUT_S).toBe(10);
  });

  it('answers who adds the VIP under keepalived, local addresses and real servers’ dpvs.source', () => {
    expect(doc).toContain('With `keepalived`');
    expect(doc).toMatch(/dpvs-deploy never adds or deletes them/);
    const section = doc.slice(doc.indexOf('## Who adds which address on a balancer')).split('\n## ')[0]!;
    const flat = section.replace(/\n\s*/g, ' ');
    expect(flat).toContain('sets up their sapool itself; they need no entry in `addresses`');
    expect(flat).toContain(
      '**Real servers** build `toa.ko` (and `uoa.ko`) from the kmod/ sources of DPVS: set `dpvs.source`',
    );
  });
});
