import { describe, expect, it } from 'vitest';
import { InventoryError } from '../../../src/errors.js';
import { loadInventoryBytes } from '../../../src/inventory/load.js';

function diagnostics(text: string): string[] {
  try {
    loadInventoryBytes(Buffer.from(text), 'inv.yaml');
  } catch (e) {
    if (e instanceof InventoryError)
      return e.diagnostics.map((d) => `${d.line}:${d.col}: ${d.path}: ${d.message}`);
    throw e;
  }
  return [];
}

describe('a problem in defaults or a group that several hosts inherit', () => {
  it('is reported once, naming the hosts it affects', () => {
    const ds = diagnostics(`version: 1
defaults:
  dpdk: { version: 20.11.1 }
  dpvs: { version: 1.9.10 }
hosts:
  lb1: { address: 10.0.0.1, roles: [balancer] }
  lb2: { address: 10.0.0.2, roles: [balancer] }
  lb3: { address: 10.0.0.3, roles: [balancer] }
`);
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatch(/^3:20: defaults\.dpdk\.version: DPDK 20\.11\.1 does not pair with DPVS 1\.9\.10/);
    expect(ds[0]).toMatch(/ \(hosts lb1, lb2, lb3\)$/);
  });

  it('names the one host when only one inherits it; a host’s own problem stays under its path', () => {
    const ds = diagnostics(`version: 1
groups:
  old: { hosts: [lb1], vars: { dpdk: { version: 20.11.1 }, dpvs: { version: 1.9.10 } } }
hosts:
  lb1: { address: 10.0.0.1, roles: [balancer] }
  lb2: { address: 10.0.0.2, roles: [balancer], dpdk: { version: 18.11.2 }, dpvs: { version: 1.9.10 } }
`);
    expect(ds).toHaveLength(2);
    expect(ds.find((d) => d.includes('groups.old'))).toMatch(/ \(host lb1\)$/);
    expect(ds.find((d) => d.includes('hosts.lb2'))).not.toMatch(/\(hosts? /);
  });
});
