import { describe, expect, it } from 'vitest';
import { loadInventoryBytes } from '../../../src/inventory/load.js';
import { lookupPairing } from '../../../src/versions.js';
import { inventoryErrorLines } from '../../support/inventory-errors.js';

const load = (text: string) => loadInventoryBytes(Buffer.from(text), 'inv.yaml');
const errors = inventoryErrorLines;

const merged = `version: 1
defaults:
  dpvs: { version: 1.9.10, log_level: INFO }
  nics: [{ name: dpdk0, match: { pci: '0000:04:00.0' } }]
groups:
  "2nd":
    hosts: [lb1]
    vars:
      dpvs: { log_level: DEBUG }
  "1st":
    hosts: [lb1]
    vars:
      dpvs: { log_level: ERR, kni: false }
      nics: [{ name: dpdk1, match: { pci: '0000:05:00.0' } }]
hosts:
  lb1:
    address: 10.0.0.11
    roles: [balancer]
    dpvs: { max_socket: 4 }
  rs1:
    address: 10.0.0.21
    roles: [realserver]
    nics: []
`;

describe('host resolution', () => {
  it('merges defaults, then groups in document order, then the host; arrays replace', () => {
    const inv = load(merged);
    const lb1 = inv.hosts.find((h) => h.name === 'lb1');
    // "2nd" comes first in the file (JS would order "1st" first), so "1st" wins.
    expect(lb1?.groups).toEqual(['2nd', '1st']);
    expect(lb1?.dpvs).toEqual({ version: '1.9.10', log_level: 'ERR', kni: false, max_socket: 4 });
    expect(lb1?.nics?.map((n) => n.name)).toEqual(['dpdk1']);
    const rs1 = inv.hosts.find((h) => h.name === 'rs1');
    expect(rs1?.nics).toEqual([]);
    expect(rs1?.dpvs?.log_level).toBe('INFO');
  });

  it('positions resolved values where they were written', () => {
    const inv = load(merged);
    expect(inv.positionOfHostValue('lb1', ['dpvs', 'log_level'])).toEqual({ line: 13, col: 26 });
    expect(inv.positionOfHostValue('lb1', ['dpvs', 'version'])).toEqual({ line: 3, col: 20 });
    expect(inv.positionOfHostValue('lb1', ['nics', 0, 'match', 'pci'])).toEqual({ line: 14, col: 43 });
    expect(inv.positionOf(['hosts', 'rs1', 'address'])).toEqual({ line: 21, col: 14 });
    // missing path: nearest existing parent (the key of hosts.rs1)
    expect(inv.positionOf(['hosts', 'rs1', 'keepalived', 'state'])).toEqual({ line: 20, col: 3 });
  });

  it('reports an error from defaults at the defaults line, for the host it breaks', () => {
    const lines = errors(
      merged
        .replace("name: dpdk1, match: { pci: '0000:05:00.0' }", "name: dpdk0, match: { pci: '0000:05:00.0' }")
        .replace('dpvs: { max_socket: 4 }', 'addresses: [{ address: 10.0.0.1/24, dev: dpdk9 }]'),
    );
    expect(lines).toEqual([
      expect.stringMatching(
        /^inv\.yaml:19:46: hosts\.lb1\.addresses\[0\]\.dev: dev 'dpdk9' is not one of this host's nics \(dpdk0\)$/,
      ),
    ]);
  });
});

describe('diagnostics', () => {
  it('collects all schema problems of a document at once', () => {
    const lines = errors(
      'version: 1\nhosts:\n  lb1:\n    address: 10.0.0.11\n    roles: [balancer]\n    nicss: []\n    nofile: lots\n',
    );
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^inv\.yaml:6:5: hosts\.lb1\.nicss: unknown key 'nicss' .*did you mean 'nics'\?\)$/,
    );
    expect(lines[1]).toMatch(
      /^inv\.yaml:7:13: hosts\.lb1\.nofile: expected a number, got a string \("lots"\)$/,
    );
  });

  it('warns, without failing, about literal secrets', () => {
    const inv = load(
      'version: 1\ndefaults:\n  ssh: { sudo_password: hunter2 }\nhosts:\n  rs1: { address: 10.0.0.2, roles: [realserver] }\n',
    );
    expect(inv.warnings).toEqual([
      expect.objectContaining({
        line: 3,
        col: 25,
        path: 'defaults.ssh.sudo_password',
        message: expect.stringMatching(/literally/),
      }),
    ]);
    expect(JSON.stringify(inv.warnings)).not.toContain('hunter2');
  });

  it('refuses a single-node keepalived setup without MASTER', () => {
    const lines = errors(`version: 1
hosts:
  lb1:
    address: 10.0.0.11
    roles: [balancer]
    nics: [{ name: dpdk0, match: { pci: '0000:04:00.0' } }]
    keepalived: { virtual_router_id: 7, state: BACKUP, priority: 50, interface: dpdk0, kni_address: 10.1.0.2/24 }
`);
    expect(lines).toEqual([
      expect.stringMatching(
        /:7:48: hosts\.lb1\.keepalived\.state: no MASTER among the hosts with virtual_router_id 7/,
      ),
    ]);
  });
});

describe('version matrix', () => {
  it('pairs each DPVS series with its DPDK and refuses the rest with the supported list', () => {
    const p = lookupPairing('1.8.12');
    expect(p.ok && p.pairing.dpdkVersion).toBe('18.11.2');
    expect(p.ok && p.pairing.buildSystem).toBe('make');
    const q = lookupPairing('1.10-2', '24.11');
    expect(q.ok && q.pairing).toMatchObject({ tarballTopDir: 'dpdk-24.11', kni: 'virtio-user' });
    const r = lookupPairing(undefined, '20.11.10');
    expect(r.ok && r.pairing.tarballTopDir).toBe('dpdk-stable-20.11.10');
    const bad = lookupPairing('1.10.2', '20.11.10');
    expect(bad).toMatchObject({ ok: false, field: 'dpdk' });
    expect(!bad.ok && bad.message).toMatch(
      /supported: DPVS 1\.8\.x with DPDK 18\.11\.2, DPVS 1\.9\.8\+ with DPDK 20\.11\.10, DPVS 1\.10\.x with DPDK 24\.11/,
    );
  });
});
