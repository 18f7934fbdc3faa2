/** NUMA checks: NUMA on for multi-socket hosts, DPVS's socket limit, locality of ports, workers, hugepages. */
import type { Facts } from '../../facts/types.js';
import { cpuRanges, finding, type PreflightCheck, listText } from '../check.js';
import { matchNics, resolved } from '../../desired/nic-match.js';
import { isBalancer, maxSocket, pagesForDpvs, hugepageSizeKb } from '../../desired/settings.js';

function nodeCount(facts: Facts): number {
  return Math.max(1, facts.numa.length);
}

export const numaEnabled: PreflightCheck = {
  id: 'NUMA-001',
  title: 'NUMA is off on a multi-socket host',
  severity: 'error',
  howToFix: 'BIOS: Memory Settings → Node Interleaving: Disabled (AMD: NUMA Nodes Per Socket: NPS1).',
  protects:
    'With node interleaving the OS sees one node: hugepages, NIC and workers cannot be kept on one socket, and every packet crosses the inter-socket link.',
  run({ host, facts }) {
    if (!isBalancer(host) || facts.cpu.sockets <= 1 || nodeCount(facts) > 1) return null;
    return finding(
      `${facts.cpu.sockets} sockets but 1 NUMA node`,
      `one NUMA node per socket (${facts.cpu.sockets})`,
      'BIOS: Memory Settings → Node Interleaving: Disabled (this enables NUMA); on AMD EPYC: NUMA Nodes Per Socket: NPS1',
    );
  },
};

export const maxSocketLimit: PreflightCheck = {
  id: 'NUMA-002',
  title: "more NUMA nodes than DPVS's compiled socket limit",
  severity: 'error',
  howToFix:
    'Set dpvs.max_socket to the node count (DPVS is rebuilt), or reduce nodes in the BIOS (NPS1 / Sub-NUMA Clustering off).',
  protects:
    'dpvs exits at start with "DPVS_MAX_SOCKET is smaller than system numa nodes!" (CONFIG_DPVS_MAX_SOCKET).',
  run({ host, facts }) {
    if (!isBalancer(host)) return null;
    const nodes = nodeCount(facts);
    const limit = maxSocket(host);
    if (nodes <= limit) return null;
    return finding(
      `${nodes} NUMA nodes, dpvs.max_socket ${limit}${host.dpvs?.max_socket === undefined ? ' (default)' : ''}`,
      `at most ${limit} NUMA nodes`,
      `set dpvs.max_socket: ${nodes} (DPVS is rebuilt with CONFIG_DPVS_MAX_SOCKET=${nodes}), or reduce the nodes in the BIOS: ` +
        'AMD: NUMA Nodes Per Socket: NPS1; Intel: Sub-NUMA Clustering: Disabled',
    );
  },
};

export const portLocality: PreflightCheck = {
  id: 'NUMA-003',
  title: 'DPDK port, its workers or its hugepages on different NUMA nodes',
  severity: 'warning',
  howToFix:
    'Put each port’s workers and hugepages on the port’s node (workers: auto, hugepages.per_node), or move the NIC.',
  protects:
    'A worker polling a NIC on the other socket, or mbufs allocated on the other node, costs every packet a trip over the inter-socket link.',
  run({ host, facts }) {
    if (!isBalancer(host) || nodeCount(facts) <= 1) return null;
    const cpuNode = new Map<number, number>();
    for (const n of facts.numa) for (const c of n.cpus) cpuNode.set(c, n.id);
    const problems: string[] = [];
    const workers = host.workers;
    for (const r of matchNics(host.nics, facts)) {
      const nic = resolved(r);
      if (!nic || nic.numaNode < 0) continue;
      const node = nic.numaNode;
      const name = r.nic.name;
      if (workers !== undefined && workers !== 'auto') {
        const remote = workers.slaves
          .filter((s) => Object.hasOwn(s.ports, name))
          .map((s) => s.cpu)
          .filter((c) => cpuNode.has(c) && cpuNode.get(c) !== node);
        if (remote.length)
          problems.push(
            `${name} (${nic.pci}) is on node ${node}, its workers on CPUs ${cpuRanges(remote)} are not`,
          );
      }
      if (pagesForDpvs(host, facts, node) === 0)
        problems.push(
          `${name} (${nic.pci}) is on node ${node}, which gets no ${hugepageSizeKb(host)} kB hugepages`,
        );
    }
    if (problems.length === 0) return null;
    return finding(
      listText(problems),
      'each port, the workers polling it and its hugepages on the same NUMA node',
      'give each port workers on its own node (workers: auto does), and hugepages.per_node pages on that node; ' +
        'or move the NIC to a slot of the socket whose cores poll it',
    );
  },
};

export const nicNumaKnown: PreflightCheck = {
  id: 'NUMA-004',
  title: 'platform does not report the NUMA node of a DPDK port',
  severity: 'warning',
  howToFix: 'Enable ACPI SRAT in the BIOS / update firmware; in a VM give the NIC a NUMA node.',
  protects:
    'With numa_node -1 DPDK assumes socket 0 ("EAL: Invalid NUMA socket, default to 0") and may place mbufs and workers on the wrong node.',
  run({ host, facts }) {
    if (!isBalancer(host) || nodeCount(facts) <= 1) return null;
    const unknown = matchNics(host.nics, facts)
      .map((r) => ({ r, nic: resolved(r) }))
      .filter((x) => x.nic !== null && x.nic.numaNode < 0)
      .map((x) => `${x.r.nic.name} (${x.nic?.pci})`);
    if (unknown.length === 0) return null;
    return finding(
      `numa_node -1 for ${listText(unknown)} on a ${nodeCount(facts)}-node host`,
      'every DPDK port reports its NUMA node (/sys/bus/pci/devices/<pci>/numa_node ≥ 0)',
      'BIOS: enable ACPI SRAT/SLIT ("NUMA" / Node Interleaving: Disabled) and update the firmware; in a VM give the NIC a pxb/NUMA node',
    );
  },
};

export const numaChecks: PreflightCheck[] = [numaEnabled, maxSocketLimit, portLocality, nicNumaKnown];
