/**
 * `init --discover`: a host's facts → a commented inventory document for that one host. Pure (no I/O,
 * no clock): the CLI (src/discover/command.ts) connects, probes once and prints what this returns.
 *
 * What it proposes:
 * - ssh: the settings discovery itself connected with (user, port, key, known_hosts, jump host).
 * - expect: NUMA node count, hyper-threading and OS as found, so preflight notices a reinstalled or
 *   re-configured box later (HW-001..003).
 * - balancers: every NIC for DPDK except the management NIC (the one carrying the SSH session or the
 *   default route), Mellanox mlx5 (bifurcated: never bound) and NICs in use by the kernel (addresses
 *   or routes); hugepages on every NUMA node (DPVS makes an mbuf pool on each); an explicit worker
 *   layout solved by src/dpvsconf/layout.ts (master + one slave per free CPU of the ports' home node,
 *   one rx/tx queue per slave on every port).
 * - realservers: toa (unless the kernel cannot load it).
 * Everything not discoverable (sources, addresses, routes, keepalived, services) is left as comments.
 */
import { Document, isMap, isSeq, type Node } from 'yaml';
import { nicModel } from '../desired/nic-models.js';
import { solveLayoutWithWarnings, LayoutError, type WorkerAssignment } from '../dpvsconf/layout.js';
import type { Facts, NicFacts, NumaNodeFacts } from '../facts/types.js';
import type { HostEntry, Inventory, NicSettings, SshSettings, WorkerLayout } from '../inventory/schema.js';
import { DEFAULT_DPVS_VERSION, VERSION_MATRIX } from '../versions.js';
import { UserError } from '../errors.js';
import type { ResolvedHost } from '../inventory/types.js';
import { toaProblem, toolchainProblems } from '../preflight/checks/toolchain.js';

export type DiscoverRole = 'balancer' | 'realserver';

export interface DiscoverOptions {
  /** inventory host name (default: the host's hostname, made a valid name) */
  name?: string;
  /** what SSH connects to (address or DNS name) */
  address: string;
  role: DiscoverRole;
  /** SSH settings to write into defaults.ssh (as discovery connected) */
  ssh: SshSettings;
  /** how discovery was invoked, for the header comment */
  command?: string;
}

export interface DiscoveredNic {
  nic: NicFacts;
  /** proposed DPDK device name, or null when left out */
  name: string | null;
  /** why it is (not) proposed */
  note: string;
}

export interface Discovered {
  name: string;
  doc: Inventory;
  nics: DiscoveredNic[];
  /** things the operator should know (also in the YAML as comments) */
  notes: string[];
  yaml: string;
}

const OS_IDS = ['debian', 'ubuntu', 'centos', 'rocky', 'almalinux', 'rhel'] as const;
type ExpectOs = (typeof OS_IDS)[number];

const MIB_KB = 1024;
const GIB_KB = 1024 * 1024;
/** memory left to the OS per node (hugepages.reserve_mb default) */
const RESERVE_KB = 1024 * MIB_KB;
/** hugepages proposed per node: at most this much, and at most half of what the node has beyond the reserve */
const MAX_HUGEPAGES_PER_NODE_KB = 4 * GIB_KB;
/** below this DPVS's default pools do not fit (HP-004) */
const MIN_HUGEPAGES_PER_NODE_KB = GIB_KB;
const PAGE_2M_KB = 2048;
/** DPDK keeps one fd per 2 MiB page (SYS-003): a limit well above any page count proposed here */
const NOFILE = 65536;

/** A valid inventory host name from a hostname: its first label, lowercased, other characters as '-'. */
export function hostNameFor(hostname: string, fallback: string): string {
  const first = (hostname.split('.')[0] ?? '').toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  const trimmed = first.replace(/^[-_]+/, '').slice(0, 63);
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(trimmed)) return trimmed;
  const fb = fallback
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '-')
    .replace(/^[-.]+/, '')
    .slice(0, 63);
  return fb || 'host1';
}

export function isManagementNic(n: NicFacts): boolean {
  return n.carriesSsh || n.defaultRoute;
}

function describeNic(n: NicFacts): string {
  const model = nicModel(n.vendorId, n.deviceId);
  const what = model ? model.name : `unknown model ${n.vendorId}:${n.deviceId}`;
  const iface = n.ifname ? ` ${n.ifname}` : '';
  const mac = n.mac ? ` ${n.mac}` : '';
  return `${n.pci}${iface}${mac} ${what}, driver ${n.driver ?? 'none'}, NUMA node ${n.numaNode}`;
}

/** Which NICs a balancer gets for DPDK, in PCI order, with the reason for each decision. */
export function proposeNics(nics: readonly NicFacts[]): DiscoveredNic[] {
  const sorted = [...nics].sort((a, b) => a.pci.localeCompare(b.pci));
  const out: DiscoveredNic[] = [];
  let next = 0;
  for (const nic of sorted) {
    const model = nicModel(nic.vendorId, nic.deviceId);
    if (isManagementNic(nic)) {
      const why = [nic.carriesSsh ? 'carries this SSH session' : '', nic.defaultRoute ? 'default route' : '']
        .filter(Boolean)
        .join(', ');
      out.push({ nic, name: null, note: `management NIC (${why}): never bound to DPDK` });
    } else if (model?.limit === 'bifurcated') {
      out.push({
        nic,
        name: null,
        note: 'Mellanox mlx5: bifurcated driver, stays on mlx5_core (never bound; NIC-004)',
      });
    } else if (nic.active) {
      out.push({
        nic,
        name: null,
        note: 'in use by the kernel (has addresses or routes): left alone; remove them first to use it for DPDK',
      });
    } else {
      const extra =
        model === null
          ? ' (model unknown to dpvs-deploy: check DPDK’s NIC guides; preflight warns NIC-005)'
          : model.limit === 'single-queue'
            ? ' (no RSS: one queue only)'
            : '';
      out.push({ nic, name: `dpdk${next++}`, note: `proposed for DPDK${extra}` });
    }
  }
  return out;
}

/** Pages of 2 MiB proposed on one node, and why. */
export function hugepagesForNode(node: NumaNodeFacts): { pages: number; note?: string } {
  const budget = Math.max(0, node.memTotalKb - RESERVE_KB);
  const targetKb = Math.min(MAX_HUGEPAGES_PER_NODE_KB, Math.floor(budget / 2));
  let pages = Math.floor(targetKb / PAGE_2M_KB);
  const existing = node.hugepages.find((h) => h.sizeKb === PAGE_2M_KB)?.total ?? 0;
  // never shrink a reservation that is already there and fits
  if (existing > pages && existing * PAGE_2M_KB <= budget) pages = existing;
  if (pages * PAGE_2M_KB < MIN_HUGEPAGES_PER_NODE_KB)
    return {
      pages,
      note: `node ${node.id} has ${Math.floor(node.memTotalKb / 1024)} MiB: only ${pages} x 2 MiB pages fit beside the 1 GiB reserve; lower dpvs.pktpool_size / conn_pool_size (preflight HP-004)`,
    };
  return { pages };
}

function explicitLayout(workers: WorkerAssignment[]): WorkerLayout {
  const master = workers.find((w) => w.type === 'master');
  if (!master) throw new LayoutError('no master worker');
  return {
    master: master.cpuId,
    slaves: workers
      .filter((w) => w.type === 'slave')
      .map((w) => ({
        cpu: w.cpuId,
        ports: Object.fromEntries(
          Object.entries(w.ports).map(([dev, q]) => [dev, { rx: [...q.rx], tx: [...q.tx] }]),
        ),
      })),
  };
}

function cpuList(cpus: readonly number[]): string {
  return cpus.length ? cpus.join(',') : 'none';
}

export function discoverInventory(facts: Facts, o: DiscoverOptions): Discovered {
  const name = o.name ?? hostNameFor(facts.hostname, o.address);
  const notes: string[] = [];
  const smt = facts.cpu.smtActive || facts.cpu.threadsPerCore > 1;
  const entry: HostEntry = { address: o.address, roles: [o.role] };
  const os = (OS_IDS as readonly string[]).includes(facts.os.id) ? (facts.os.id as ExpectOs) : undefined;
  entry.expect = { numa_nodes: Math.max(1, facts.numa.length), smt, ...(os ? { os } : {}) };
  if (!os) notes.push(`OS ${facts.os.prettyName || facts.os.id} is not one dpvs-deploy supports (SYS-004)`);

  let nics: DiscoveredNic[] = [];
  if (o.role === 'balancer') {
    nics = proposeNics(facts.nics);
    const chosen = nics.filter((n): n is DiscoveredNic & { name: string } => n.name !== null);
    if (chosen.length === 0)
      throw new UserError(
        `${name}: no NIC can be proposed for DPDK (a balancer needs at least one port besides the management NIC):\n` +
          (nics.length
            ? nics.map((n) => `  ${describeNic(n.nic)}: ${n.note}`).join('\n')
            : '  no network PCI devices found'),
      );
    if (smt)
      notes.push(
        'hyper-threading is on: DPVS workers want one core each. Turn it off in the BIOS (Processor Settings → ' +
          'Logical Processor: Disabled) or boot with nosmt, then set expect.smt: false; expect.smt: true accepts it (CPU-001)',
      );

    const pairing = VERSION_MATRIX.find((p) => DEFAULT_DPVS_VERSION.startsWith(`${p.dpvsSeries}.`));
    entry.dpdk = {
      ...(pairing ? { version: pairing.dpdkVersion } : {}),
      driver: 'uio_pci_generic',
    };
    entry.dpvs = { version: DEFAULT_DPVS_VERSION };
    const tc = toolchainProblems(
      { name, address: o.address, roles: ['balancer'], groups: [], dpvs: entry.dpvs } as ResolvedHost,
      facts,
    );
    if (tc.flags.length) {
      entry.dpvs.build_env = { CFLAGS: tc.flags.join(' ') };
      notes.push(
        `dpvs.build_env CFLAGS ${tc.flags.join(' ')}: upstream's DPVS ${DEFAULT_DPVS_VERSION} does not compile otherwise (${tc.problems.join('; ')}; BUILD-006, docs/operations.md known issue)`,
      );
    }
    if (facts.kernel.iommuGroups > 0)
      notes.push(
        `the IOMMU is on (${facts.kernel.iommuGroups} groups): dpdk.driver: vfio-pci is the safer choice if the vfio-pci module is available`,
      );
    if (facts.numa.length > 2) {
      entry.dpvs.max_socket = Math.min(8, facts.numa.length);
      notes.push(
        `${facts.numa.length} NUMA nodes: dpvs.max_socket raised to match (NUMA-002; DPVS is built with it)`,
      );
    }

    const nodes = facts.numa.length
      ? facts.numa
      : [{ id: 0, cpus: facts.cpu.online, memTotalKb: facts.memory.totalKb, memFreeKb: 0, hugepages: [] }];
    const perNode = nodes.map((n) => ({ id: n.id, ...hugepagesForNode(n) }));
    for (const p of perNode) if (p.note) notes.push(p.note);
    const counts = new Set(perNode.map((p) => p.pages));
    entry.hugepages = {
      size: '2M',
      per_node:
        counts.size === 1
          ? (perNode[0]?.pages ?? 0)
          : Object.fromEntries(perNode.map((p) => [String(p.id), p.pages])),
    };
    entry.nofile = NOFILE;

    const ports = chosen.map((c) => ({ name: c.name, rxQueues: 0, txQueues: 0, numaNode: c.nic.numaNode }));
    let layout;
    try {
      layout = solveLayoutWithWarnings({
        ports,
        numa: nodes.map((n) => ({ id: n.id, cpus: n.cpus })),
        reservedCpus: [],
      });
    } catch (e) {
      if (e instanceof LayoutError)
        throw new UserError(
          `${name}: no worker layout fits this host (${e.message}); CPUs per NUMA node: ${nodes
            .map((n) => `${n.id}: ${cpuList(n.cpus)}`)
            .join('; ')}`,
        );
      throw e;
    }
    notes.push(...layout.warnings);
    const slaves = layout.workers.filter((w) => w.type === 'slave').length;
    const settings: NicSettings[] = chosen.map((c) => {
      const max = Math.min(c.nic.maxRxQueues ?? slaves, c.nic.maxTxQueues ?? slaves);
      const q = Math.min(slaves, Math.max(1, max));
      return { name: c.name, match: { pci: c.nic.pci }, rx: { queues: q }, tx: { queues: q } };
    });
    const fewest = Math.min(...settings.map((s) => s.rx?.queues ?? slaves));
    if (fewest < slaves) {
      // a port with fewer queues than slaves caps the slaves (every slave needs a tx queue on every port)
      layout = solveLayoutWithWarnings({
        ports: settings.map((s, i) => ({
          name: s.name,
          rxQueues: fewest,
          txQueues: fewest,
          numaNode: chosen[i]?.nic.numaNode ?? 0,
        })),
        numa: nodes.map((n) => ({ id: n.id, cpus: n.cpus })),
        reservedCpus: [],
        slaves: fewest,
      });
      for (const s of settings) {
        s.rx = { queues: fewest };
        s.tx = { queues: fewest };
      }
    }
    entry.nics = settings;
    entry.workers = explicitLayout(layout.workers);
  } else {
    const toaBlocked =
      facts.kernel.lockdown === 'integrity' || facts.kernel.lockdown === 'confidentiality'
        ? `kernel lockdown (${facts.kernel.lockdown}) refuses the unsigned toa.ko (KMOD-004)`
        : !facts.kernel.ipv6
          ? 'the kernel has no IPv6 stack, which toa.ko needs (SYS-006)'
          : null;
    entry.dpvs = { version: DEFAULT_DPVS_VERSION };
    const toaBuild =
      toaBlocked === null
        ? toaProblem(
            { name, address: o.address, roles: ['realserver'], groups: [], dpvs: entry.dpvs } as ResolvedHost,
            facts,
          )
        : null;
    entry.realserver = { toa: toaBlocked === null && toaBuild === null };
    if (toaBlocked) notes.push(`realserver.toa is off: ${toaBlocked}; use proxy protocol instead`);
    if (toaBuild)
      notes.push(`realserver.toa is off: upstream's toa.ko does not build here (${toaBuild}; BUILD-007)`);
    if (!facts.kernel.headersInstalled)
      notes.push(
        `kernel headers for ${facts.kernel.release} are not installed: apply installs them (packages: true), if a repository has them (BUILD-002)`,
      );
  }

  const doc: Inventory = {
    version: 1,
    defaults: { ssh: o.ssh },
    hosts: { [name]: entry },
  };
  return { name, doc, nics, notes, yaml: renderDiscovered(doc, name, facts, nics, notes, o) };
}

function header(facts: Facts, name: string, o: DiscoverOptions): string {
  const lines = [
    ` Inventory for ${name} (${o.role}), discovered${o.command ? ` by: ${o.command}` : ''}`,
    ` ${facts.hostname}: ${facts.os.prettyName || facts.os.id}, kernel ${facts.kernel.release} (${facts.kernel.machine})`,
    ` CPU: ${facts.cpu.model}, ${facts.cpu.online.length} logical CPUs, ${facts.cpu.sockets} socket(s), ` +
      `${facts.cpu.threadsPerCore} thread(s) per core`,
  ];
  for (const n of facts.numa)
    lines.push(
      ` NUMA node ${n.id}: CPUs ${cpuList(n.cpus)}, ${Math.floor(n.memTotalKb / 1024)} MiB, 2 MiB pages now ` +
        `${n.hugepages.find((h) => h.sizeKb === PAGE_2M_KB)?.total ?? 0}`,
    );
  lines.push(
    ' Check it, then: dpvs-deploy validate FILE && dpvs-deploy plan FILE',
    ' Reference: docs/inventory.md; preflight checks: docs/preflight.md',
  );
  return lines.join('\n');
}

/** The document as YAML with comments: a header, notes, one comment per NIC, placeholders for the rest. */
function renderDiscovered(
  doc: Inventory,
  name: string,
  facts: Facts,
  nics: DiscoveredNic[],
  notes: string[],
  o: DiscoverOptions,
): string {
  const d = new Document(doc);
  d.commentBefore = header(facts, name, o);
  const hostNode = d.getIn(['hosts', name], true);
  const entryComment = (path: string[], text: string): void => {
    if (!isMap(hostNode)) return;
    const pair = hostNode.items.find((p) => (p.key as { value?: unknown } | null)?.value === path[0]);
    if (pair && pair.key && typeof pair.key === 'object') (pair.key as Node).commentBefore = text;
  };
  if (notes.length) entryComment(['address'], notes.map((n) => ` NOTE: ${n}`).join('\n'));
  if (o.role === 'balancer') {
    const nicLines = nics.map(
      (n) => ` ${n.name ? `${n.name}: ` : 'not used: '}${describeNic(n.nic)}: ${n.note}`,
    );
    entryComment(
      ['nics'],
      ' DPDK ports (dpvs.conf / EAL order). NICs found:\n' +
        nicLines.join('\n') +
        '\n Queues: one rx/tx queue per slave worker.',
    );
    entryComment(
      ['dpdk'],
      ' Sources are not discoverable: set dpdk.source and dpvs.source before apply, e.g.\n' +
        '   source: { url: https://fast.dpdk.org/rel/dpdk-20.11.10.tar.xz, sha256: <sha256 of the tarball> }\n' +
        ' or { file: ./dpdk-20.11.10.tar.xz } for an air-gapped site.',
    );
    entryComment(
      ['hugepages'],
      ' 2 MiB pages on every NUMA node (DPVS makes an mbuf pool on each): half of what the node has\n' +
        ' beyond a 1 GiB reserve, at most 4 GiB per node.',
    );
    entryComment(
      ['workers'],
      ' Worker layout solved for this host: the master on the first free CPU of the first port’s node,\n' +
        ' one slave per free CPU of the ports’ home node (CPU 0 is left to the OS); `workers: auto`\n' +
        ' re-solves it on every plan instead.',
    );
    // compact: `match: { pci: ... }`, `rx: { queues: N }`, `dpdk0: { rx: [0], tx: [0] }`
    const nicsNode = d.getIn(['hosts', name, 'nics'], true);
    if (isSeq(nicsNode))
      for (const item of nicsNode.items)
        if (isMap(item)) for (const pair of item.items) if (isMap(pair.value)) pair.value.flow = true;
    const slavesNode = d.getIn(['hosts', name, 'workers', 'slaves'], true);
    if (isSeq(slavesNode))
      for (const slave of slavesNode.items) {
        const ports = isMap(slave) ? slave.get('ports', true) : undefined;
        if (isMap(ports)) for (const pair of ports.items) if (isMap(pair.value)) pair.value.flow = true;
      }
    if (isMap(hostNode))
      hostNode.comment =
        ' Not discoverable, add as needed: addresses, routes (DPVS side), keepalived, and top-level services.';
  } else {
    entryComment(
      ['dpvs'],
      ' toa.ko is built from the DPVS source: set dpvs.source before apply, e.g.\n' +
        '   source: { url: https://github.com/iqiyi/dpvs/archive/refs/tags/v1.9.10.tar.gz, sha256: <sha256> }',
    );
  }
  return d.toString({ lineWidth: 0, flowCollectionPadding: false });
}
