/**
 * validate refuses what the host's DPVS release cannot do (src/inventory/semantic-series.ts), each rule
 * an upstream sample (test/fixtures/upstream/), with the position of the value and the fix.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError, type Diagnostic } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'inv-series-'));
const base = readFileSync('inventories/examples/snat.yaml', 'utf8');
let n = 0;

/** The SNAT example with its text edited; the diagnostics loading it gives (empty when it loads). */
async function diagnostics(edit: (text: string) => string): Promise<Diagnostic[]> {
  const file = path.join(dir, `inv${++n}.yaml`);
  const text = edit(base);
  expect(text).not.toBe(base);
  writeFileSync(file, text);
  try {
    await loadInventory(file);
    return [];
  } catch (e) {
    if (e instanceof InventoryError) return e.diagnostics;
    throw e;
  }
}

const lineOf = (text: string, needle: string): number =>
  text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('validate: what a DPVS release cannot do', () => {
  it('the example itself is valid', async () => {
    expect(await diagnostics((t) => `${t}\n# unchanged\n`)).toEqual([]);
  });

  it('kni: false on 1.8 (no kni switch; dpvs exits "add KNI port fail" without rte_kni)', async () => {
    const edit = (t: string): string =>
      t
        .replace('version: 20.11.10', 'version: 18.11.2')
        .replace('version: 1.9.10', 'version: 1.8.12\n      kni: false');
    const d = await diagnostics(edit);
    expect(d).toHaveLength(1);
    expect(d[0]?.line).toBe(lineOf(edit(base), 'kni: false'));
    expect(d[0]?.message).toContain("DPVS 1.8.12 has no 'kni' switch");
    expect(d[0]?.message).toContain('remove kni: false');
    // the same on 1.9 is fine
    expect(
      await diagnostics((t) => t.replace('version: 1.9.10', 'version: 1.9.10\n      kni: false')),
    ).toEqual([]);
  });

  it('config_path on 1.8 (it always reads /etc/dpvs.conf)', async () => {
    const edit = (t: string): string =>
      t
        .replace('version: 20.11.10', 'version: 18.11.2')
        .replace('version: 1.9.10', 'version: 1.8.12\n      config_path: /etc/dpvs/lb.conf');
    const d = await diagnostics(edit);
    expect(d.map((x) => x.message)).toEqual([expect.stringContaining('always reads /etc/dpvs.conf')]);
    expect(d[0]?.line).toBe(lineOf(edit(base), 'config_path'));
  });

  it('conn_timeout_s on a 1.8 balancer (--conn-timeout exists from 1.9.6)', async () => {
    const edit = (t: string): string =>
      t
        .replace('version: 20.11.10', 'version: 18.11.2')
        .replace('version: 1.9.10', 'version: 1.8.12')
        .replace('  - name: snat-udp', '    conn_timeout_s: 120\n  - name: snat-udp');
    const d = await diagnostics(edit);
    expect(d.map((x) => x.message)).toEqual([
      expect.stringContaining('--conn-timeout exists from DPVS 1.9.6 on; balancer gw1 runs 1.8.12'),
    ]);
    expect(d[0]?.line).toBe(lineOf(edit(base), 'conn_timeout_s'));
  });

  it('an SNAT match without a range (ipvsadm -H: "illegal match specified")', async () => {
    const d = await diagnostics((t) =>
      t.replace(
        '      src_range: 192.168.100.0-192.168.100.254\n      oif: dpdk1\n  - name: snat-udp',
        '      oif: dpdk1\n  - name: snat-udp',
      ),
    );
    expect(d.map((x) => x.message)).toEqual([
      expect.stringContaining('an SNAT match needs src_range or dst_range'),
    ]);
  });

  it('a metric on an IPv6 route (dpip -6 drops it and never lists one)', async () => {
    const edit = (t: string): string =>
      t.replace(
        '      - { prefix: default, via: 10.0.0.1, dev: dpdk1 }',
        '      - { prefix: default, via: 10.0.0.1, dev: dpdk1 }\n      - { prefix: 2001:db8::/64, dev: dpdk1 }\n      - { prefix: 2001:db8:5::/64, via: 2001:db8::fe, dev: dpdk1, metric: 10 }',
      );
    const d = await diagnostics(edit);
    expect(d.map((x) => x.message)).toEqual([expect.stringContaining("dpip -6 ignores a route's metric")]);
    expect(d[0]?.line).toBe(lineOf(edit(base), 'metric: 10'));
  });
});
