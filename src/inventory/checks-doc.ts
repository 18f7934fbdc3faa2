/**
 * The semantic checks `validate` runs beyond the schema's types, for docs/inventory.md: what is checked,
 * why it matters on a real host, and the fix. Kept next to the checks (semantic-*.ts) so a new check
 * gets its row; rendered by docs.ts.
 */
export interface CheckDoc {
  check: string;
  why: string;
  fix: string;
}

export const SEMANTIC_CHECKS: readonly CheckDoc[] = [
  // references and uniqueness
  {
    check:
      'group members, service `balancers` and `local_addresses` keys name defined hosts; a group lists hosts, not groups',
    why: 'an unknown name silently leaves a host out of a group or a service',
    fix: 'fix the name (a did-you-mean is offered); list a group’s hosts instead of the group',
  },
  {
    check:
      'SSH address:port, service names, VIP:port/protocol (IPv6 compared in canonical form), local addresses, KNI addresses and real servers are unique',
    why: 'two spellings of one IPv6 VIP (2001:db8::1, 2001:DB8:0::1) become one service on the balancer; a shared LIP breaks FullNAT’s return path',
    fix: 'merge the duplicates or change one of them',
  },
  {
    check:
      'every `dev`, `vip_dev`, `keepalived.interface`, `match.iif/oif` and worker port names one of the host’s `nics`; NIC names, pci/mac/ifname matches and KNI names (`kni_name`, default `<port>.kni`) are unique; only balancers have `nics` or `workers`',
    why: 'dpvs refuses an unknown port at start; a second KNI netdev of the same name fails to register; a worker layout on a real server is ignored',
    fix: 'name an existing port; give each port its own `kni_name`; move `nics`/`workers` to the balancers',
  },
  // addresses
  {
    check:
      'the SSH address of a balancer is none of its DPDK addresses (`addresses`, `kni_address`, local addresses, VIPs)',
    why: 'binding the port to DPDK takes the address away from the kernel: the SSH session is cut in the middle of apply',
    fix: 'connect through a management NIC that is not in `nics`',
  },
  {
    check:
      'every route `via` (the default gateway included) lies on a connected prefix of its port: an address’s subnet or a link route (`routes` without `via`)',
    why: 'dpvs cannot resolve an off-link gateway (ARP/ND): the route sends nothing',
    fix: 'add an address in the gateway’s subnet on that port, or a link route, or fix `via`',
  },
  {
    check:
      'a local address is no VIP of the same balancer; a real server is no VIP of its balancers and not the balancer itself (its SSH address, addresses, KNI or local addresses)',
    why: 'FullNAT from a VIP, or to a VIP, loops traffic back into the balancer',
    fix: 'use the real servers’ own addresses and LIPs that are not VIPs',
  },
  {
    check: '`keepalived.kni_address` is none of the host’s dpvs addresses, local addresses or VIPs',
    why: 'dpvs answers for the address on the port, so VRRP on `<port>.kni` breaks',
    fix: 'use a separate address for the KNI',
  },
  {
    check:
      'real servers of `dr`, `tun` and `nat` services are of the VIP’s address family (only `fullnat` translates)',
    why: 'ipvsadm refuses the real server, or the traffic goes nowhere',
    fix: 'use `fullnat`, or real servers of the VIP’s family',
  },
  // modes
  {
    check:
      'a VIP the balancer adds needs `vip_dev` (unless `addresses` lists it or keepalived adds it); `dr` needs a LAN address on `vip_dev`; `tun` needs `src` on the default route (the sentences src/lb/desired.ts returns as problems, caught here)',
    why: 'without them the plan cannot add the VIP, DR has no source for ARP, the tunnel no outer source address',
    fix: 'set `vip_dev`; add `addresses: [{address: <ip>/<len>, dev: <vip_dev>}]`; add `src` to the default route',
  },
  {
    check:
      '`dr` real servers lie on a connected prefix of every balancer; `dr` and `tun` real servers keep the service port',
    why: 'DR rewrites only the MAC (the real server must share the L2 segment); DR and TUN cannot remap ports',
    fix: 'add an address in the real servers’ subnet, or use `fullnat`/`tun`; drop the real server `port`',
  },
  {
    check:
      '`snat` services need `match` (and only they may have one or use port 0); `fullnat` services need `local_addresses` for every balancer, of the real servers’ family',
    why: 'ipvsadm refuses a match service without a range; FullNAT without LIPs drops every connection',
    fix: 'add `match` / `local_addresses`',
  },
  {
    check:
      'keepalived (enabled when the block is present) has virtual_router_id, state, priority, interface and kni_address and `dpvs.kni` on; the hosts of one pair (same virtual_router_id on one KNI subnet, balancing the same services) have distinct priorities and one MASTER; two pairs on one subnet do not share a virtual_router_id',
    why: 'two MASTERs or equal priorities flap the VIPs; pairs sharing an id on one segment take each other’s adverts',
    fix: 'one MASTER and distinct priorities per pair; a virtual_router_id of its own for each pair on a segment',
  },
  // workers, sizes, versions
  {
    check:
      'an explicit worker layout uses each CPU once, every slave serves the same ports with at least one tx queue, and each port’s queue ids run from 0 without gaps or repeats, covering `rx/tx.queues`',
    why: 'dpvs exits at start with netif_lcore_init errors -2 … -7',
    fix: 'fix the layout, or use `workers: auto`',
  },
  {
    check:
      'hugepages per node hold the pools dpvs creates on every socket: `pktpool_size` (rounded to 2^n − 1) mbufs × 2368 B + `conn_pool_size` connections × 576 B (lower bounds from upstream’s sizes; defaults 524287 and 2097152 = 2.3 GiB); every NUMA node gets pages; at most 16 TiB per host; NUMA nodes within `expect.numa_nodes` ≤ `dpvs.max_socket`',
    why: 'dpvs dies with "Cannot init mbuf pool on socket N" or EDPVS_NOMEM after the NICs are bound (reported as a warning: preflight HP-003/HP-004 judge the same memory with the host’s facts and refuse what it cannot give)',
    fix: 'raise `hugepages.per_node`, or lower `dpvs.pktpool_size` / `dpvs.conn_pool_size`',
  },
  {
    check:
      'DPVS/DPDK versions pair; a source tarball’s name, git ref or (local .tar.gz) top directory says the declared version',
    why: 'the build would use one release and record another: wrong patch series, dpvs.conf keywords and upgrade decisions',
    fix: 'point the source at the declared release, or declare the tarball’s version',
  },
  // values that reach files
  {
    check:
      'a host `address` is an IPv4 address (four numbers 0-255), an IPv6 address or a DNS name (300.1.2.3 is none)',
    why: 'SSH would try to resolve it as a name and fail late, per host',
    fix: 'write the real address or name',
  },
  {
    check:
      'values written into files are plain for their format: remote paths (`dpvs.prefix`, `config_path`, `log_file`, `dpdk.build_dir`) use letters, digits and `_ . + @ = , - /`; `hugepages.mount` may hold any character but a line break (it reaches only /etc/fstab, escaped, and quoted commands); a health-check path and a literal `auth_pass` are keepalived tokens; every value is escaped by its format’s rule (src/escape.ts: fstab, dpvs.conf, keepalived.conf, systemd, shell)',
    why: 'a mount path with spaces breaks /etc/fstab (emergency mode at reboot); `} global_defs {` in `log_file` restructures dpvs.conf',
    fix: 'use a plain path or token',
  },
  {
    check:
      'secrets (`ssh.sudo_password`, `keepalived.auth_pass`) written literally are accepted with a warning',
    why: 'the inventory is usually in version control',
    fix: 'use `{env: NAME}` or `{file: PATH}`',
  },
];
