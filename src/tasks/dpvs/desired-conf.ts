/**
 * The dpvs.conf a host should have, from the inventory and the host's facts: ports in inventory order
 * resolved to PCI addresses and NUMA nodes (facts.nics), workers from `workers` (auto: solved against
 * facts.numa; explicit: validated against the ports and the online CPUs). Shared by dpvs-conf (the file)
 * and dpvs-service (EAL `-a` order and lcores must match the file). Pure; planning errors throw
 * DpvsPlanError with a message the operator can act on.
 */
import { createHash } from 'node:crypto';
import {
  buildDpvsConf,
  LayoutError,
  layoutFromInventory,
  portsOfConf,
  renderDpvsConf,
  validateLayout,
  workerLcores,
  type NicInput,
  type WorkerAssignment,
} from '../../dpvsconf/index.js';
import type { Facts } from '../../facts/types.js';
import type { ResolvedHost } from '../../inventory/types.js';
import { describeMatch, matchNic, resolved } from '../../desired/nic-match.js';
import { configuredQueues } from '../../desired/settings.js';
import { DpvsPlanError, dpvsVersionOf } from './settings.js';

export interface DesiredConf {
  text: string;
  sha256: string;
  workers: WorkerAssignment[];
  /** PCI addresses in device-block order (EAL -a order) */
  pcis: string[];
  lcores: number[];
  mainLcore: number;
  ports: string[];
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export function desiredConf(host: ResolvedHost, facts: Facts): DesiredConf {
  const nics = host.nics ?? [];
  if (nics.length === 0)
    throw new DpvsPlanError('no nics in the inventory: dpvs needs at least one DPDK port');
  const inputs: NicInput[] = nics.map((nic) => {
    const found = resolved(matchNic(nic, facts.nics));
    if (!found)
      throw new DpvsPlanError(`nic ${nic.name} (${describeMatch(nic)}) is not a unique NIC on this host`);
    return {
      name: nic.name,
      pci: found.pci,
      numaNode: found.numaNode,
      ...(nic.rx ? { rx: nic.rx } : {}),
      ...(nic.tx ? { tx: nic.tx } : {}),
      ...(nic.mtu !== undefined ? { mtu: nic.mtu } : {}),
      ...(nic.promisc !== undefined ? { promisc: nic.promisc } : {}),
      ...(nic.kni_name !== undefined ? { kni_name: nic.kni_name } : {}),
    };
  });
  const numa = (facts.numa.length ? facts.numa : [{ id: 0, cpus: facts.cpu.online }]).map((n) => ({
    id: n.id,
    cpus: n.cpus,
  }));
  const layoutPorts = nics.map((nic, i) => ({
    ...configuredQueues(nic),
    numaNode: (inputs[i] as NicInput).numaNode,
  }));
  const explicit = host.workers !== undefined && host.workers !== 'auto';
  let workers: WorkerAssignment[];
  try {
    workers = layoutFromInventory(host.workers ?? 'auto', layoutPorts, {
      numa,
      reservedCpus: host.reserved_cpus ?? [],
    });
  } catch (e) {
    if (e instanceof LayoutError) throw new DpvsPlanError(`workers cannot be laid out: ${e.message}`);
    throw e;
  }
  const s = host.dpvs ?? {};
  const conf = buildDpvsConf({
    dpvsVersion: dpvsVersionOf(host),
    nics: inputs,
    workers,
    settings: {
      ...(s.log_level !== undefined ? { log_level: s.log_level } : {}),
      ...(s.log_file !== undefined ? { log_file: s.log_file } : {}),
      ...(s.kni !== undefined ? { kni: s.kni } : {}),
      ...(s.pktpool_size !== undefined ? { pktpool_size: s.pktpool_size } : {}),
      ...(s.pktpool_cache !== undefined ? { pktpool_cache: s.pktpool_cache } : {}),
      ...(s.conn_pool_size !== undefined ? { conn_pool_size: s.conn_pool_size } : {}),
      ...(s.conn_redirect !== undefined ? { conn_redirect: s.conn_redirect } : {}),
      ...(s.sa_pool_flow_enable !== undefined ? { sa_pool_flow_enable: s.sa_pool_flow_enable } : {}),
    },
  });
  if (explicit) {
    const problems = validateLayout(workers, portsOfConf(conf), { lcores: facts.cpu.online });
    if (problems.length) {
      throw new DpvsPlanError(
        `the workers layout does not fit this host: ${problems
          .map((p) => `${p.message} (${p.code === 0 ? p.rule : `upstream error ${p.code}`})`)
          .join('; ')}`,
      );
    }
  }
  let lc: { lcores: number[]; mainLcore: number };
  try {
    lc = workerLcores(workers);
  } catch (e) {
    if (e instanceof LayoutError) throw new DpvsPlanError(e.message);
    throw e;
  }
  const text = renderDpvsConf(conf);
  return {
    text,
    sha256: sha256(text),
    workers,
    pcis: inputs.map((n) => n.pci),
    lcores: lc.lcores,
    mainLcore: lc.mainLcore,
    ports: inputs.map((n) => n.name),
  };
}
