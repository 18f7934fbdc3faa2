import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/inventory/load.js';
import { Inventory } from '../../../src/inventory/schema.js';
import type { LoadedInventory } from '../../../src/inventory/types.js';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { dpvsNetworkTask } from '../../../src/tasks/dpvs-network.js';
import { createKeepalivedTask } from '../../../src/tasks/keepalived.js';
import { lbServicesTask } from '../../../src/tasks/lb-services.js';
import type { PlanContext } from '../../../src/plan/task.js';
import { dpvsDownOutputs, emptyFacts, short } from './support.js';
import { fleetOf } from '../../../src/plan/fleet.js';

const examples = ['fullnat-two-arm', 'ha-pair', 'dr', 'snat'];
const fileOf = (name: string): string =>
  new URL(`../../../inventories/examples/${name}.yaml`, import.meta.url).pathname;

function ctxFor(inv: LoadedInventory, hostName: string): PlanContext {
  const host = inv.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`no host ${hostName}`);
  const facts = emptyFacts({ outputs: dpvsDownOutputs() });
  return { host, inventory: inv, facts, fleet: fleetOf(inv, new Map([[hostName, facts]])) };
}

function lbCommands(ctx: PlanContext): string[] {
  const net = dpvsNetworkTask.plan(ctx);
  const svc = lbServicesTask.plan({ ...ctx, facts: net.projected ?? ctx.facts });
  return short(
    [...net.changes, ...svc.changes].flatMap((c) =>
      c.steps.flatMap((s) => (s.kind === 'exec' ? [s.command] : [])),
    ),
  ).filter((c) => /^(dpip|ipvsadm) /.test(c));
}

describe('example inventories', () => {
  for (const name of examples) {
    it(`${name}.yaml starts with the schema comment, passes the schema and the loader`, async () => {
      const text = readFileSync(fileOf(name), 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../../schemas/inventory.schema.json');
      const parsed = Inventory.safeParse(parse(text));
      expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
      const inv = await loadInventory(fileOf(name));
      expect(inv.hosts.length).toBeGreaterThan(0);
    });
  }

  it('fullnat-two-arm plans the tutorial commands', async () => {
    const inv = await loadInventory(fileOf('fullnat-two-arm'));
    expect(lbCommands(ctxFor(inv, 'lb1'))).toEqual([
      'dpip addr add 10.0.96.204/32 dev dpdk2',
      'dpip route add 10.0.96.0/24 dev dpdk2',
      'dpip route add 192.168.229.0/24 dev dpdk0',
      'dpip route add default via 10.0.96.254 dev dpdk2',
      'ipvsadm -A -t 10.0.96.204:80 -s rr',
      'ipvsadm -a -t 10.0.96.204:80 -r 192.168.229.1:80 -b',
      'ipvsadm --add-laddr -z 192.168.229.204 -t 10.0.96.204:80 -F dpdk0',
    ]);
  });

  it('ha-pair: routes only (keepalived owns VIP and services), a distinct keepalived.conf per node', async () => {
    const inv = await loadInventory(fileOf('ha-pair'));
    const task = createKeepalivedTask({ resolveSecret: () => 'vrrpPW1' });
    const confs = ['lb1', 'lb2'].map((h) => {
      const ctx = ctxFor(inv, h);
      expect(lbCommands(ctx)).toEqual([
        'dpip route add 10.0.96.0/24 dev dpdk1',
        'dpip route add 192.168.229.0/24 dev dpdk0',
        'dpip route add default via 10.0.96.254 dev dpdk1',
        `dpip route add 192.168.229.1${h === 'lb1' ? '1' : '2'}/32 dev dpdk0 scope kni_host`,
      ]);
      const change = task.plan(ctx).changes.find((c) => c.id === 'keepalived/conf');
      const write = change?.steps.find((s) => s.kind === 'write');
      return write?.kind === 'write' ? write.content : '';
    });
    expect(confs[0]).toContain('state MASTER');
    expect(confs[1]).toContain('state BACKUP');
    expect(confs[0]).toContain('192.168.229.204 dpdk0');
    expect(confs[0]).not.toContain('192.168.229.214');
    expect(confs[1]).toContain('192.168.229.214 dpdk0');
  });

  it('dr adds the LAN address before the VIP and uses -g', async () => {
    const inv = await loadInventory(fileOf('dr'));
    const cmds = lbCommands(ctxFor(inv, 'lb1'));
    expect(cmds.slice(0, 2)).toEqual([
      'dpip addr add 192.168.100.1/24 dev dpdk0',
      'dpip addr add 192.168.100.100/32 dev dpdk0',
    ]);
    expect(cmds).toContain('ipvsadm -a -t 192.168.100.100:80 -r 192.168.100.2:80 -g');
  });

  it('snat adds the WAN address with sapool once and match services with WANIP:0 real servers', async () => {
    const inv = await loadInventory(fileOf('snat'));
    const cmds = lbCommands(ctxFor(inv, 'gw1'));
    expect(cmds.filter((c) => c.includes('10.0.0.10/32'))).toEqual([
      'dpip addr add 10.0.0.10/32 dev dpdk1 sapool',
    ]);
    expect(cmds).toContain('ipvsadm -A -H proto=udp,src-range=192.168.100.0-192.168.100.254,oif=dpdk1 -s rr');
    expect(cmds).toContain(
      'ipvsadm -a -H proto=tcp,src-range=192.168.100.0-192.168.100.254,oif=dpdk1 -r 10.0.0.10:0 -J',
    );
  });
});
