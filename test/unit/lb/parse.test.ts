import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalIp, canonicalPrefix, networkOf } from '../../../src/inventory/ip.js';
import { parseDpipAddrShow, parseDpipLinkShow, parseDpipRouteShow } from '../../../src/lb/parse-dpip.js';
import { parseIpvsadmLaddrs, parseIpvsadmList } from '../../../src/lb/parse-ipvsadm.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/lb/${name}`, import.meta.url), 'utf8');

describe('dpip parsers on the tutorial output', () => {
  it('parses dpip addr show', () => {
    expect(parseDpipAddrShow(fixture('tutorial-dpip-addr-show.txt'))).toEqual([
      { family: 'inet', ip: '10.0.96.204', plen: 32, dev: 'dpdk2', scope: 'global', sapool: false },
      { family: 'inet', ip: '192.168.229.204', plen: 32, dev: 'dpdk0', scope: 'global', sapool: false },
    ]);
  });

  it('parses dpip route show', () => {
    const routes = parseDpipRouteShow(fixture('tutorial-dpip-route-show.txt'));
    expect(routes).toHaveLength(5);
    expect(routes[0]).toEqual({
      family: 'inet',
      prefix: '192.168.229.204/32',
      dev: 'dpdk0',
      scope: 'host',
      mtu: 1500,
      metric: 0,
    });
    expect(routes[4]).toEqual({
      family: 'inet',
      prefix: '0.0.0.0/0',
      dev: 'dpdk2',
      via: '10.0.96.254',
      scope: 'global',
      mtu: 1500,
      metric: 0,
    });
  });

  it('parses dpip link show', () => {
    expect(parseDpipLinkShow(fixture('tutorial-dpip-link-show.txt'))).toEqual([
      {
        index: 1,
        name: 'dpdk0',
        socket: 0,
        mtu: 1500,
        rxQueues: 16,
        txQueues: 16,
        state: 'UP',
        speedMbps: 10000,
        mac: 'aa:bb:cc:23:33:33',
      },
    ]);
  });

  it('reads sapool counters, IPv6 addresses and routes with src', () => {
    const addrs = parseDpipAddrShow(
      [
        'inet 192.168.100.200/32 scope global dpdk0',
        '     valid_lft forever preferred_lft forever sa_used 0 sa_free 1032176 sa_miss 0',
        'inet6 2001:DB8:0:0::1/64 scope global dpdk1',
        '     valid_lft forever preferred_lft forever',
      ].join('\n'),
    );
    expect(addrs.map((a) => [a.ip, a.plen, a.sapool, a.family])).toEqual([
      ['192.168.100.200', 32, true, 'inet'],
      ['2001:db8::1', 64, false, 'inet6'],
    ]);
    const routes = parseDpipRouteShow(
      'inet6 2001:db8::/64 via :: src :: dev dpdk1 mtu 1500 scope link metric 0 proto auto\n' +
        'inet 0.0.0.0/0 via 10.0.0.1 src 10.0.0.5 dev dpdk1 mtu 1500 tos 0 scope global metric 0 proto auto\n',
    );
    expect(routes[0]).toMatchObject({ family: 'inet6', prefix: '2001:db8::/64', dev: 'dpdk1' });
    expect(routes[0]?.via).toBeUndefined();
    expect(routes[1]).toMatchObject({ via: '10.0.0.1', src: '10.0.0.5' });
  });

  it('returns nothing for empty output', () => {
    expect(parseDpipAddrShow('')).toEqual([]);
    expect(parseDpipRouteShow('\n')).toEqual([]);
    expect(parseDpipLinkShow('')).toEqual([]);
  });
});

describe('ipvsadm parsers', () => {
  it('parses the tutorial ipvsadm -ln', () => {
    expect(parseIpvsadmList(fixture('tutorial-ipvsadm-ln.txt'))).toEqual({
      services: [{ key: 'tcp:10.0.96.204:80', proto: 'tcp', vip: '10.0.96.204', port: 80, scheduler: 'rr' }],
      realServers: [
        { service: 'tcp:10.0.96.204:80', ip: '192.168.229.1', port: 80, weight: 1, forward: 'fullnat' },
      ],
    });
  });

  it('parses the tutorial ipvsadm -G', () => {
    const { services } = parseIpvsadmList(fixture('tutorial-ipvsadm-ln.txt'));
    expect(parseIpvsadmLaddrs(fixture('tutorial-ipvsadm-G.txt'), services)).toEqual([
      { service: 'tcp:10.0.96.204:80', ip: '192.168.229.204' },
    ]);
  });

  it('parses no services', () => {
    const text =
      'IP Virtual Server version 0.0.0 (size=0)\nProt LocalAddress:Port Scheduler Flags\n' +
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';
    expect(parseIpvsadmList(text)).toEqual({ services: [], realServers: [] });
    expect(
      parseIpvsadmLaddrs('VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS\n'),
    ).toEqual([]);
  });

  it('parses several services, forward names, weights, persistence, IPv6, UDP and SNAT match', () => {
    const text = [
      'IP Virtual Server version 0.0.0 (size=0)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
      'TCP  10.0.0.10:80 wrr persistent 300 conn_timeout 90',
      '  -> 192.168.1.1:8080             FullNat 3      0          0',
      '  -> 192.168.1.2:8080             FullNat 0      0          0',
      'UDP  10.0.0.10:53 rr',
      '  -> 192.168.1.3:53               Route   1      0          0',
      'TCP  10.0.0.11:443 wlc',
      '  -> 192.168.1.4:443              Tunnel  2      0          0',
      '  -> 192.168.1.5:443              Masq    5      0          0',
      'TCP  [2001:db8::10]:80 rr',
      '  -> [2001:db8::1:2]:80           FullNat 1      0          0',
      'MATCH tcp,from=192.168.100.0-192.168.100.254:0-0,oif=dpdk1 rr',
      '  -> 10.0.0.2:0                   SNAT    100    0          0',
      'MATCH proto=udp,src-range=192.168.100.0-192.168.100.254,oif=dpdk1 rr',
    ].join('\n');
    const { services, realServers } = parseIpvsadmList(text);
    expect(services.map((s) => s.key)).toEqual([
      'tcp:10.0.0.10:80',
      'udp:10.0.0.10:53',
      'tcp:10.0.0.11:443',
      'tcp:[2001:db8::10]:80',
      'match:proto=tcp,src-range=192.168.100.0-192.168.100.254,oif=dpdk1',
      'match:proto=udp,src-range=192.168.100.0-192.168.100.254,oif=dpdk1',
    ]);
    expect(services[0]).toMatchObject({ scheduler: 'wrr', persistence: 300, connTimeout: 90 });
    expect(realServers.map((r) => [r.service, r.ip, r.port, r.forward, r.weight])).toEqual([
      ['tcp:10.0.0.10:80', '192.168.1.1', 8080, 'fullnat', 3],
      ['tcp:10.0.0.10:80', '192.168.1.2', 8080, 'fullnat', 0],
      ['udp:10.0.0.10:53', '192.168.1.3', 53, 'dr', 1],
      ['tcp:10.0.0.11:443', '192.168.1.4', 443, 'tun', 2],
      ['tcp:10.0.0.11:443', '192.168.1.5', 443, 'nat', 5],
      ['tcp:[2001:db8::10]:80', '2001:db8::1:2', 80, 'fullnat', 1],
      ['match:proto=tcp,src-range=192.168.100.0-192.168.100.254,oif=dpdk1', '10.0.0.2', 0, 'snat', 100],
    ]);
  });

  it('maps -G blocks to tcp and udp services of the same VIP:port in listing order', () => {
    const { services } = parseIpvsadmList(
      'TCP  10.0.0.10:53 rr\n  -> 1.1.1.1:53  FullNat 1 0 0\nUDP  10.0.0.10:53 rr\n',
    );
    const g = [
      'VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS',
      '10.0.0.10:53         2       ',
      '                              192.168.1.200        0          0',
      '                              192.168.1.201        0          0',
      '10.0.0.10:53         1       ',
      '                              192.168.1.202        0          0',
    ].join('\n');
    expect(parseIpvsadmLaddrs(g, services)).toEqual([
      { service: 'tcp:10.0.0.10:53', ip: '192.168.1.200' },
      { service: 'tcp:10.0.0.10:53', ip: '192.168.1.201' },
      { service: 'udp:10.0.0.10:53', ip: '192.168.1.202' },
    ]);
  });
});

describe('ip helpers', () => {
  it('canonicalises addresses and prefixes', () => {
    expect(canonicalIp('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(canonicalIp('10.0.96.204')).toBe('10.0.96.204');
    expect(canonicalPrefix('default')).toBe('0.0.0.0/0');
    expect(canonicalPrefix('default', 'inet6')).toBe('::/0');
    expect(canonicalPrefix('10.0.96.7/24')).toBe('10.0.96.0/24');
    expect(networkOf('2001:db8:1:2::5', 48)).toBe('2001:db8:1::');
  });
});
