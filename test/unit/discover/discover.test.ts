/**
 * init --discover without SSH: facts (test/support/facts-builder.ts) → the inventory document, which
 * must validate and pass preflight; plus target resolution from an ssh_config and the CLI's errors.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Io } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';
import { checkDiscovered, resolveTarget } from '../../../src/discover/command.js';
import {
  discoverInventory,
  hostNameFor,
  hugepagesForNode,
  proposeNics,
} from '../../../src/discover/inventory.js';
import { UserError } from '../../../src/errors.js';
import type { Facts } from '../../../src/facts/types.js';
import type { HostEntry } from '../../../src/inventory/schema.js';
import { makeStyle } from '../../../src/cli/views/style.js';
import { factsBuilder, r630, R630_PORTS } from '../../support/facts-builder.js';

const SSH = { user: 'root', identity_file: '/keys/id_ed25519', known_hosts: '/keys/known_hosts' };

function balancer(facts: Facts) {
  const d = discoverInventory(facts, { address: '10.0.96.204', role: 'balancer', ssh: SSH });
  const host = d.doc.hosts[d.name] as HostEntry;
  return { d, host };
}

function errors(d: ReturnType<typeof discoverInventory>, facts: Facts) {
  return checkDiscovered(d, facts).filter((r) => r.severity === 'error');
}

describe('discoverInventory: balancers', () => {
  it('the healthy R630: data NICs proposed, management NIC not, hugepages per node, an explicit layout', () => {
    const facts = r630().build();
    const { d, host } = balancer(facts);
    expect(d.name).toBe('lb1');
    expect(host.nics?.map((n) => [n.name, n.match.pci])).toEqual([
      ['dpdk0', R630_PORTS.dpdk0],
      ['dpdk1', R630_PORTS.dpdk1],
    ]);
    expect(host.expect).toEqual({ numa_nodes: 2, smt: false, os: 'debian' });
    // 64 GiB per node: capped at 4 GiB, but the 8192 pages already there (16 GiB) fit and are kept
    expect(host.hugepages).toEqual({ size: '2M', per_node: 8192 });
    const w = host.workers;
    if (w === undefined || w === 'auto') throw new Error('expected an explicit layout');
    expect(w.master).toBe(1);
    expect(w.slaves.map((s) => s.cpu)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(w.slaves[3]?.ports).toEqual({ dpdk0: { rx: [3], tx: [3] }, dpdk1: { rx: [3], tx: [3] } });
    expect(host.nics?.[0]?.rx).toEqual({ queues: 8 });
    expect(host.nofile).toBe(65536);
    expect(host.dpdk).toEqual({ version: '20.11.10', driver: 'uio_pci_generic' });
    expect(d.doc.defaults?.ssh).toEqual(SSH);
    // validates as `apply` loads it, and passes preflight (the cross-node port is a warning)
    expect(errors(d, facts)).toEqual([]);
    expect(checkDiscovered(d, facts).map((r) => r.id)).toEqual(['NUMA-003']);
    // the YAML is the document, with comments
    expect(parse(d.yaml)).toEqual(d.doc);
    expect(d.yaml).toMatch(
      /# not used: 0000:03:00\.0 eno1 .*management NIC \(carries this SSH session, default route\)/,
    );
    expect(d.yaml).toContain('set dpdk.source and dpvs.source before apply');
  });

  it('never proposes Mellanox, the default-route NIC or a NIC the kernel uses', () => {
    const facts = factsBuilder()
      .hostname('edge-lb-07.dc1.example.com')
      .numaNodes(1, { cpusPerNode: 8 })
      .managementNic({ carriesSsh: true, defaultRoute: false })
      .nic({ pci: '0000:04:00.0', defaultRoute: true })
      .nic({ pci: '0000:05:00.0', vendorId: '15b3', deviceId: '1017', driver: 'mlx5_core' })
      .nic({ pci: '0000:06:00.0', active: true })
      .nic({ pci: '0000:07:00.0' })
      .modulesAvailable('uio', 'uio_pci_generic')
      .build();
    const { d, host } = balancer(facts);
    expect(d.name).toBe('edge-lb-07');
    expect(host.nics?.map((n) => n.match.pci)).toEqual(['0000:07:00.0']);
    const notes = Object.fromEntries(d.nics.map((n) => [n.nic.pci, n.note]));
    expect(notes['0000:04:00.0']).toMatch(/management NIC \(default route\)/);
    expect(notes['0000:05:00.0']).toMatch(/mlx5.*never bound/);
    expect(notes['0000:06:00.0']).toMatch(/in use by the kernel/);
    expect(errors(d, facts)).toEqual([]);
  });

  it('hyper-threading on: expect.smt true and a note saying how to turn it off', () => {
    const facts = r630().smt(true).build();
    const { d, host } = balancer(facts);
    expect(host.expect?.smt).toBe(true);
    expect(d.notes.join('\n')).toMatch(/hyper-threading is on.*nosmt/);
    expect(d.yaml).toMatch(/# NOTE: hyper-threading is on/);
    expect(errors(d, facts)).toEqual([]);
  });

  it('hugepages follow each node: a map when nodes differ, a note when a node is small', () => {
    const facts = r630().build();
    facts.numa = facts.numa.map((n) => ({
      ...n,
      memTotalKb: n.id === 0 ? 8 * 1048576 : 2 * 1048576,
      hugepages: [],
    }));
    facts.memory.totalKb = 10 * 1048576;
    const { d, host } = balancer(facts);
    // node 0: (8 GiB - 1 GiB) / 2 = 3.5 GiB = 1792 pages; node 1: (2 - 1) / 2 GiB = 256 pages
    expect(host.hugepages?.per_node).toEqual({ '0': 1792, '1': 256 });
    expect(d.notes.some((n) => /node 1 has 2048 MiB.*HP-004/.test(n))).toBe(true);
    expect(
      hugepagesForNode({ id: 0, cpus: [], memTotalKb: 65536 * 1024, memFreeKb: 0, hugepages: [] }),
    ).toEqual({
      pages: 2048,
    });
  });

  it('caps the slaves at the queues of the smallest port', () => {
    const facts = factsBuilder()
      .numaNodes(1, { cpusPerNode: 16 })
      .managementNic()
      .nic({ pci: '0000:04:00.0', maxRxQueues: 4, maxTxQueues: 4 })
      .nic({ pci: '0000:04:00.1' })
      .modulesAvailable('uio', 'uio_pci_generic')
      .build();
    const { d, host } = balancer(facts);
    const w = host.workers;
    if (w === undefined || w === 'auto') throw new Error('expected an explicit layout');
    expect(w.slaves).toHaveLength(4);
    expect(host.nics?.map((n) => [n.rx?.queues, n.tx?.queues])).toEqual([
      [4, 4],
      [4, 4],
    ]);
    expect(errors(d, facts)).toEqual([]);
  });

  it('more than two NUMA nodes raise dpvs.max_socket', () => {
    const facts = r630().numaNodes(4, { cpusPerNode: 8, memPerNodeMb: 32768 }).build();
    const { host } = balancer(facts);
    expect(host.dpvs?.max_socket).toBe(4);
    expect(host.expect?.numa_nodes).toBe(4);
  });

  it('a balancer without a usable NIC is a UserError naming every NIC', () => {
    const facts = factsBuilder()
      .managementNic()
      .nic({ pci: '0000:05:00.0', vendorId: '15b3', deviceId: '1017', driver: 'mlx5_core' })
      .build();
    expect(() => balancer(facts)).toThrow(UserError);
    expect(() => balancer(facts)).toThrow(/no NIC can be proposed[\s\S]*0000:05:00.0.*mlx5/);
  });

  it('a host with only CPU 0 cannot get a layout: UserError', () => {
    const facts = factsBuilder()
      .numaNodes(1, { cpusPerNode: 1 })
      .managementNic()
      .nic({ pci: '0000:04:00.0' })
      .build();
    expect(() => balancer(facts)).toThrow(/no worker layout fits this host/);
  });
});

describe('discoverInventory: realservers', () => {
  it('toa on, no DPDK settings, validates', () => {
    const facts = factsBuilder()
      .hostname('rs1')
      .os('rocky9')
      .managementNic()
      .nic({ pci: '0000:04:00.0' })
      .build();
    const d = discoverInventory(facts, { address: '10.0.0.3', role: 'realserver', ssh: { user: 'root' } });
    const host = d.doc.hosts.rs1 as HostEntry;
    expect(host.roles).toEqual(['realserver']);
    expect(host.realserver).toEqual({ toa: true });
    expect(host.nics).toBeUndefined();
    expect(host.hugepages).toBeUndefined();
    expect(host.expect?.os).toBe('rocky');
    expect(errors(d, facts)).toEqual([]);
  });

  it('kernel lockdown turns toa off, with why', () => {
    const facts = factsBuilder().os('rocky9').kernel({ lockdown: 'integrity' }).managementNic().build();
    const d = discoverInventory(facts, {
      address: 'rs9',
      role: 'realserver',
      ssh: { user: 'root' },
      name: 'rs9',
    });
    expect((d.doc.hosts.rs9 as HostEntry).realserver).toEqual({ toa: false });
    expect(d.notes.join()).toMatch(/lockdown.*KMOD-004/);
    expect(errors(d, facts)).toEqual([]);
  });
});

describe('helpers', () => {
  it('hostNameFor makes a valid inventory name', () => {
    expect(hostNameFor('LB-01.example.com', 'x')).toBe('lb-01');
    expect(hostNameFor('', '10.0.0.1')).toBe('10.0.0.1');
    expect(hostNameFor('___', '')).toBe('host1');
  });

  it('proposeNics keeps PCI order and numbers the DPDK ports', () => {
    const facts = factsBuilder()
      .nic({ pci: '0000:82:00.0' })
      .nic({ pci: '0000:04:00.0' })
      .managementNic()
      .build();
    expect(proposeNics(facts.nics).map((n) => [n.nic.pci, n.name])).toEqual([
      ['0000:03:00.0', null],
      ['0000:04:00.0', 'dpdk0'],
      ['0000:82:00.0', 'dpdk1'],
    ]);
  });

  it('resolveTarget writes what the ssh_config says into the inventory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dd-discover-'));
    writeFileSync(join(dir, 'key'), 'x');
    const cfg = join(dir, 'ssh_config');
    writeFileSync(
      cfg,
      `Host lb1\n  HostName 10.241.1.1\nHost *\n  User deploy\n  Port 2222\n  IdentityFile ${dir}/key\n  UserKnownHostsFile ${dir}/known_hosts\n`,
    );
    const t = resolveTarget('lb1', { sshConfig: cfg }, 'balancer');
    expect(t.address).toBe('10.241.1.1');
    expect(t.ssh).toEqual({
      user: 'deploy',
      port: 2222,
      identity_file: join(dir, 'key'),
      known_hosts: join(dir, 'known_hosts'),
      sudo: true,
      use_ssh_config: false,
    });
    // connect through the alias, so connectHost applies the same file
    expect(t.connectAs.address).toBe('lb1');
    expect(t.sshConfigPath).toBe(cfg);
    const t2 = resolveTarget('root@10.0.0.9:2200', { sshConfig: cfg, port: 2201 }, 'realserver');
    expect(t2.ssh.user).toBe('root');
    expect(t2.ssh.port).toBe(2201);
    expect(t2.ssh.sudo).toBeUndefined();
    expect(() => resolveTarget('lb1', { sshConfig: join(dir, 'nope') }, 'balancer')).toThrow(/no such file/);
    expect(() => resolveTarget('a b@', {}, 'balancer')).toThrow(UserError);
  });
});

describe('dpvs-deploy init (CLI)', () => {
  function captureIo(): { io: Io; out: () => string; err: () => string } {
    let out = '';
    let err = '';
    const io: Io = {
      out: (t) => (out += t.endsWith('\n') ? t : t + '\n'),
      err: (t) => (err += t.endsWith('\n') ? t : t + '\n'),
      raw: (s, t) => (s === 'out' ? (out += t) : (err += t)),
      debug: () => undefined,
      style: makeStyle(false),
      isTTY: false,
      confirm: () => Promise.resolve(false),
    };
    return { io, out: () => out, err: () => err };
  }

  it('needs --discover, accepts only balancer|realserver, and fails without a stack trace', async () => {
    let c = captureIo();
    expect(await main(['init'], c.io)).toBe(1);
    expect(c.err()).toMatch(/--discover/);
    c = captureIo();
    expect(await main(['init', '--discover', 'root@h', '--role', 'client'], c.io)).toBe(1);
    expect(c.err()).toMatch(/Allowed choices are balancer, realserver/);
    c = captureIo();
    const dir = mkdtempSync(join(tmpdir(), 'dd-discover-'));
    expect(await main(['init', '--discover', 'root@h', '--ssh-config', join(dir, 'missing')], c.io)).toBe(1);
    expect(c.err()).toMatch(/^error: init --discover: --ssh-config .*: no such file/m);
    expect(c.err()).not.toMatch(/\n\s+at /);
  });

  it('an unreachable host is a one-line error', async () => {
    const c = captureIo();
    const dir = mkdtempSync(join(tmpdir(), 'dd-discover-'));
    writeFileSync(join(dir, 'ssh_config'), 'Host *\n  ConnectTimeout 2\n');
    // 127.0.0.1:1 refuses at once
    const code = await main(
      ['init', '--discover', 'root@127.0.0.1', '--port', '1', '--ssh-config', join(dir, 'ssh_config')],
      c.io,
    );
    expect(code).toBe(1);
    expect(c.err()).toMatch(/^error: /);
    expect(c.err()).not.toMatch(/\n\s+at /);
    expect(c.out()).toBe('');
  });
});
