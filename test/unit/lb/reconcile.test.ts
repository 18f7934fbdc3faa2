import { describe, expect, it } from 'vitest';
import { lbBins } from '../../../src/lb/commands.js';
import { currentState } from '../../../src/lb/current.js';
import { desiredState } from '../../../src/lb/desired.js';
import { emptyState, type LbState } from '../../../src/lb/model.js';
import { parseRecord, renderRecord } from '../../../src/lb/record.js';
import { reconcile, unmanagedObjects } from '../../../src/lb/reconcile.js';
import { dpvsDownOutputs, short, tutorialHost, tutorialOutputs, tutorialService } from './support.js';

const bins = lbBins('/opt/dpvs');
const tutorialDesired = (): LbState => desiredState(tutorialHost(), [tutorialService()]).state;
const commandsOf = (ops: { commands: string[] }[]): string[] => short(ops.flatMap((o) => o.commands));

describe('reconcile', () => {
  it('plans the tutorial command sequence on a fresh dpvs', () => {
    const { ops } = reconcile(tutorialDesired(), emptyState(), emptyState(), { bins, scope: 'all' });
    expect(commandsOf(ops)).toEqual([
      'dpip addr add 10.0.96.204/32 dev dpdk2',
      'dpip route add 10.0.96.0/24 dev dpdk2',
      'dpip route add 192.168.229.0/24 dev dpdk0',
      'dpip route add default via 10.0.96.254 dev dpdk2',
      'ipvsadm -A -t 10.0.96.204:80 -s rr',
      'ipvsadm -a -t 10.0.96.204:80 -r 192.168.229.1:80 -b',
      'ipvsadm --add-laddr -z 192.168.229.204 -t 10.0.96.204:80 -F dpdk0',
    ]);
    expect(ops[0]?.commands[0]).toBe('/opt/dpvs/current/bin/dpip addr add 10.0.96.204/32 dev dpdk2');
  });

  it('plans everything when dpvs does not answer yet (empty projected state)', () => {
    const cur = currentState({ outputs: dpvsDownOutputs() });
    expect(cur.running).toBe(false);
    const { ops } = reconcile(tutorialDesired(), cur.state, emptyState(), { bins, scope: 'all' });
    expect(ops).toHaveLength(7);
  });

  it('plans nothing when the host already matches (tutorial output), with or without a record', () => {
    const cur = currentState({ outputs: tutorialOutputs() });
    expect(cur.running).toBe(true);
    const desired = tutorialDesired();
    for (const record of [emptyState(), desired]) {
      const r = reconcile(desired, cur.state, record, { bins, scope: 'all' });
      expect(r.ops).toEqual([]);
      expect(r.unmanaged).toEqual([]);
    }
  });

  it('deletes exactly one real server removed from the inventory', () => {
    const twoRs = desiredState(tutorialHost(), [
      tutorialService({
        real_servers: [
          { address: '192.168.229.1', port: 80 },
          { address: '192.168.229.2', port: 80 },
        ],
      }),
    ]).state;
    const afterFirstApply = reconcile(twoRs, emptyState(), emptyState(), { bins, scope: 'all' }).record;
    // the host has both RS (simulate by current = desired state)
    const { ops } = reconcile(tutorialDesired(), twoRs, afterFirstApply, { bins, scope: 'all' });
    expect(commandsOf(ops)).toEqual(['ipvsadm -d -t 10.0.96.204:80 -r 192.168.229.2:80']);
    expect(ops[0]?.action).toBe('delete');
  });

  it('edits a weight change with -e and a scheduler change with -E', () => {
    const cur = currentState({ outputs: tutorialOutputs() }).state;
    const desired = desiredState(tutorialHost(), [
      tutorialService({
        scheduler: 'wrr',
        real_servers: [{ address: '192.168.229.1', port: 80, weight: 5 }],
      }),
    ]).state;
    const { ops } = reconcile(desired, cur, desired, { bins, scope: 'all' });
    expect(commandsOf(ops)).toEqual([
      'ipvsadm -E -t 10.0.96.204:80 -s wrr',
      'ipvsadm -e -t 10.0.96.204:80 -r 192.168.229.1:80 -b -w 5',
    ]);
    expect(ops.map((o) => o.action)).toEqual(['update', 'update']);
  });

  it('reports an unmanaged object and does not delete it; deletes it with pruneUnmanaged', () => {
    const outputs = tutorialOutputs();
    const ln = outputs['ipvsadm-ln'];
    if (!ln) throw new Error('fixture');
    ln.stdout += 'TCP  10.0.96.204:8080 rr\n  -> 192.168.229.9:8080            FullNat 1      0          0\n';
    const routes = outputs['dpip-route'];
    if (!routes) throw new Error('fixture');
    routes.stdout +=
      'inet 172.16.0.0/16 via 10.0.96.1 src 0.0.0.0 dev dpdk2 mtu 1500 tos 0 scope global metric 0 proto auto\n';
    const cur = currentState({ outputs }).state;
    const desired = tutorialDesired();
    const r = reconcile(desired, cur, desired, { bins, scope: 'all' });
    expect(r.ops).toEqual([]);
    expect(r.unmanaged.map((u) => [u.object, u.key])).toEqual([
      ['route', '172.16.0.0/16@dpdk2'],
      ['service', 'tcp:10.0.96.204:8080'],
    ]);
    expect(unmanagedObjects(desired, cur, desired, bins)).toHaveLength(2);
    const pruned = reconcile(desired, cur, desired, { bins, scope: 'all', pruneUnmanaged: true });
    expect(commandsOf(pruned.ops)).toEqual([
      'ipvsadm -D -t 10.0.96.204:8080',
      'dpip route del 172.16.0.0/16 via 10.0.96.1 dev dpdk2',
    ]);
  });

  it('deletes a recorded service once (not its RS and LIPs) and then its VIP, in reverse order', () => {
    const cur = currentState({ outputs: tutorialOutputs() }).state;
    const desired = desiredState(tutorialHost(), []).state;
    const { ops, record } = reconcile(desired, cur, tutorialDesired(), { bins, scope: 'all' });
    expect(commandsOf(ops)).toEqual([
      'ipvsadm -D -t 10.0.96.204:80',
      'dpip addr del 10.0.96.204/32 dev dpdk2',
    ]);
    expect(record.services).toEqual([]);
  });

  it('changes a route whose gateway moved with del + add', () => {
    const cur = currentState({ outputs: tutorialOutputs() }).state;
    const host = tutorialHost();
    host.routes = [
      ...(host.routes ?? []).slice(0, 2),
      { prefix: 'default', via: '10.0.96.253', dev: 'dpdk2' },
    ];
    const desired = desiredState(host, [tutorialService()]).state;
    const { ops } = reconcile(desired, cur, desired, { bins, scope: 'network' });
    expect(commandsOf(ops)).toEqual([
      'dpip route del default via 10.0.96.254 dev dpdk2',
      'dpip route add default via 10.0.96.253 dev dpdk2',
    ]);
  });

  it('keeps sections out of scope in the record', () => {
    const desired = tutorialDesired();
    const old = { ...emptyState(), services: [{ key: 'x', proto: 'tcp' as const, scheduler: 'rr' }] };
    const { record } = reconcile(desired, emptyState(), old, { bins, scope: 'network' });
    expect(record.services).toEqual(old.services);
    expect(record.addresses).toEqual(desired.addresses);
    expect(parseRecord(renderRecord(record))).toEqual(record);
    expect(parseRecord('{not json')).toEqual(emptyState());
  });

  it('ignores keepalived VIPs given as foreign addresses', () => {
    const cur = currentState({ outputs: tutorialOutputs() }).state;
    const desired = desiredState(tutorialHost(), [tutorialService()], { vrrpOwnsVips: true }).state;
    expect(desired.addresses).toEqual([]);
    const plain = reconcile(desired, cur, emptyState(), { bins, scope: 'network' });
    expect(plain.unmanaged.map((u) => u.key)).toEqual(['10.0.96.204@dpdk2']);
    const r = reconcile(desired, cur, emptyState(), { bins, scope: 'network', foreignIps: ['10.0.96.204'] });
    expect(r.unmanaged).toEqual([]);
    expect(r.ops).toEqual([]);
  });
});

describe('desired state', () => {
  it('quotes hostile values and builds DR / TUN / NAT / SNAT / UDP / IPv6 commands', () => {
    const host = tutorialHost({
      addresses: [{ address: '192.168.0.5/24', dev: 'dpdk0' }],
      routes: [{ prefix: 'default', via: '10.0.0.1', src: '10.0.0.5', dev: 'dpdk1' }],
    });
    const { state, problems } = desiredState(host, [
      tutorialService({
        name: 'dr',
        mode: 'dr',
        vip: '192.168.0.100',
        vip_dev: 'dpdk0',
        local_addresses: undefined,
      }),
      tutorialService({
        name: 'tun',
        mode: 'tun',
        vip: '10.0.0.100',
        port: 443,
        vip_dev: 'dpdk1',
        local_addresses: undefined,
      }),
      tutorialService({
        name: 'nat',
        mode: 'nat',
        protocol: 'udp',
        vip: '10.0.0.101',
        port: 53,
        vip_dev: 'dpdk1',
        local_addresses: undefined,
      }),
      tutorialService({
        name: 'snat',
        mode: 'snat',
        vip: '10.0.0.9',
        port: 0,
        vip_dev: 'dpdk1',
        scheduler: 'rr',
        local_addresses: undefined,
        real_servers: undefined,
        match: { src_range: '192.168.0.0-192.168.0.254', oif: 'dpdk1' },
      }),
      tutorialService({
        name: 'v6',
        vip: '2001:DB8::10',
        vip_dev: 'dpdk1',
        real_servers: [{ address: '192.168.229.1', port: 80 }],
        local_addresses: { lb1: [{ address: '192.168.229.205', dev: 'dpdk0' }] },
      }),
    ]);
    expect(problems).toEqual([]);
    const { ops } = reconcile(state, emptyState(), emptyState(), { bins, scope: 'all' });
    expect(commandsOf(ops)).toEqual([
      'dpip addr add 192.168.0.5/24 dev dpdk0',
      'dpip addr add 192.168.0.100/32 dev dpdk0',
      'dpip addr add 10.0.0.100/32 dev dpdk1',
      'dpip addr add 10.0.0.101/32 dev dpdk1',
      'dpip addr add 10.0.0.9/32 dev dpdk1 sapool',
      'dpip -6 addr add 2001:db8::10/128 dev dpdk1',
      'dpip route add default via 10.0.0.1 dev dpdk1 src 10.0.0.5',
      'ipvsadm -A -t 192.168.0.100:80 -s rr',
      'ipvsadm -A -t 10.0.0.100:443 -s rr',
      'ipvsadm -A -u 10.0.0.101:53 -s rr',
      'ipvsadm -A -H proto=tcp,src-range=192.168.0.0-192.168.0.254,oif=dpdk1 -s rr',
      "ipvsadm -A -t '[2001:db8::10]:80' -s rr",
      'ipvsadm -a -t 192.168.0.100:80 -r 192.168.229.1:80 -g',
      'ipvsadm -a -t 10.0.0.100:443 -r 192.168.229.1:80 -i',
      'ipvsadm -a -u 10.0.0.101:53 -r 192.168.229.1:80 -m',
      'ipvsadm -a -H proto=tcp,src-range=192.168.0.0-192.168.0.254,oif=dpdk1 -r 10.0.0.9:0 -J',
      "ipvsadm -a -t '[2001:db8::10]:80' -r 192.168.229.1:80 -b",
      "ipvsadm --add-laddr -z 192.168.229.205 -t '[2001:db8::10]:80' -F dpdk0",
    ]);
  });

  it('reports DR without LAN address, TUN without default src, FullNAT without LIPs, missing vip_dev', () => {
    const { problems } = desiredState(tutorialHost({ routes: [] }), [
      tutorialService({ name: 'dr', mode: 'dr', local_addresses: undefined }),
      tutorialService({ name: 'tun', mode: 'tun', vip: '10.0.0.7', local_addresses: undefined }),
      tutorialService({ name: 'fn', vip: '10.0.0.8', local_addresses: {} }),
      tutorialService({ name: 'novd', vip: '10.0.0.9', vip_dev: undefined }),
    ]);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/DR.*LAN address on dpdk2/);
    expect(problems[1]).toMatch(/TUN.*src/);
    expect(problems[2]).toMatch(/no local_addresses/);
    expect(problems[3]).toMatch(/vip_dev is not set/);
  });
});

describe('current state', () => {
  it('takes only IPv6 objects from the -6 listings (a tool ignoring -6 repeats IPv4)', () => {
    const outputs = tutorialOutputs();
    outputs['dpip-addr6'] = { code: 0, stdout: outputs['dpip-addr']?.stdout ?? '' };
    outputs['dpip-route6'] = { code: 0, stdout: outputs['dpip-route']?.stdout ?? '' };
    const cur = currentState({ outputs });
    expect(cur.state.addresses).toHaveLength(2);
    expect(cur.state.routes).toHaveLength(5);
    expect(cur.state.laddrs).toEqual([
      { service: 'tcp:10.0.96.204:80', ip: '192.168.229.204', dev: 'dpdk0' },
    ]);
  });
});
