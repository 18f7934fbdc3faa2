import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Inventory } from '../../src/inventory/schema.js';
import { DEFAULT_OCTET, LAB_INSTANCE, SUBNET_OCTET } from './instance.js';
import { inventoryYaml, labInventory } from './inventory.js';
import { labPaths } from './paths.js';
import { dpdkNics, labProfiles } from './profiles.js';

// inventories/lab.yaml is the DEFAULT lab's, whatever DPVS_LAB_INSTANCE this run has: its paths and
// its 10.241.0.0/16 (another instance's inventory is written by `up`, with its own addresses)
const paths = labPaths(undefined, '');
const invPaths = {
  inventoryFile: paths.defaultInventory,
  identity: paths.identity,
  knownHosts: paths.knownHosts,
  fixtures: paths.www,
};

describe('lab inventory', () => {
  it('inventories/lab.yaml validates against the schema and matches the default lab profiles', () => {
    const doc: unknown = parse(readFileSync(paths.defaultInventory, 'utf8'));
    const r = Inventory.safeParse(doc);
    expect(r.success, r.success ? '' : JSON.stringify(r.error.issues)).toBe(true);
    const profiles = labProfiles(undefined, DEFAULT_OCTET);
    expect(doc).toEqual(labInventory(profiles, invPaths));
    expect(Object.keys((doc as { hosts: object }).hosts)).toEqual(['lb1', 'lb2', 'rs1', 'rs2', 'client1']);
  });

  it('points SSH at the lab key and known_hosts relative to inventories/', () => {
    const inv = labInventory(labProfiles(undefined, DEFAULT_OCTET), invPaths);
    expect(inv.defaults?.ssh?.identity_file).toBe('../.lab/ssh/id_ed25519');
    expect(inv.defaults?.ssh?.known_hosts).toBe('../.lab/ssh/known_hosts');
  });

  it("this run's instance: its own state directory and /16 (the default's when DPVS_LAB_INSTANCE is unset)", () => {
    const own = labPaths();
    const inv = labInventory(labProfiles(), {
      inventoryFile: own.defaultInventory,
      identity: own.identity,
      knownHosts: own.knownHosts,
      fixtures: own.www,
    });
    const hosts = Object.values(inv.hosts ?? {}) as Array<{ address?: string }>;
    expect(hosts.map((h) => h.address)).toEqual([1, 2, 3, 4, 5].map((i) => `10.${SUBNET_OCTET}.1.${i}`));
    if (LAB_INSTANCE) {
      expect(SUBNET_OCTET).not.toBe(DEFAULT_OCTET);
      expect(own.defaultInventory).toBe(own.instanceInventory);
      expect(inv.defaults?.ssh?.identity_file).toBe('ssh/id_ed25519');
    } else {
      expect(SUBNET_OCTET).toBe(DEFAULT_OCTET);
      expect(own.defaultInventory).toBe(paths.defaultInventory);
    }
  });

  it('a 100-host lab inventory validates, with unique addresses and DPDK NICs never the management or Mellanox NIC', () => {
    const profiles = labProfiles({ balancers: 50, realservers: 49 });
    expect(profiles).toHaveLength(100);
    const inv = labInventory(profiles, { ...invPaths, inventoryFile: '/tmp/x/inv.yaml' });
    const r = Inventory.safeParse(parse(inventoryYaml(inv, 'test')));
    expect(r.success).toBe(true);
    expect(new Set(profiles.map((p) => p.address)).size).toBe(100);
    expect(new Set(profiles.map((p) => p.nics.find((n) => n.management)?.mac)).size).toBe(100);
    for (const p of profiles) {
      for (const n of dpdkNics(p)) {
        expect(n.management).toBeFalsy();
        expect(n.driver).not.toBe('mlx5_core');
      }
    }
  });

  it('hosts differ: NUMA nodes, NIC counts, OS; rs1 and rs2 share a kernel', () => {
    const ps = labProfiles();
    const by = Object.fromEntries(ps.map((p) => [p.name, p]));
    expect(new Set(ps.map((p) => p.numaNodes))).toEqual(new Set([1, 2]));
    expect(new Set(ps.map((p) => p.os))).toEqual(new Set(['debian12', 'ubuntu22', 'rocky9', 'centos7']));
    for (const p of ps) expect(p.nics.length).toBeGreaterThanOrEqual(2);
    for (const p of ps) expect(p.nics.length).toBeLessThanOrEqual(4);
    expect(ps.flatMap((p) => p.nics).filter((n) => n.vendor === '15b3')).toHaveLength(1);
    expect(by.rs1?.kernel).toBe(by.rs2?.kernel);
  });
});
