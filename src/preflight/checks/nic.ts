/** NIC checks: each inventory NIC found and unambiguous, never the management NIC, model and queues fit. */
import type { NicFacts } from '../../facts/types.js';
import type { PlanContext } from '../../plan/task.js';
import { finding, type PreflightCheck, listText } from '../check.js';
import {
  describeMatch,
  describeNic,
  matchNics,
  resolved,
  type NicMatchResult,
} from '../../desired/nic-match.js';
import { nicModel } from '../../desired/nic-models.js';
import { bindDriver, isBalancer } from '../../desired/settings.js';
import { effectiveQueues, plannedLayout } from './conf.js';

function balancerNics(ctx: PlanContext): NicMatchResult[] {
  return isBalancer(ctx.host) ? matchNics(ctx.host.nics, ctx.facts) : [];
}

/** Resolved (inventory NIC, facts NIC) pairs of a balancer. */
function boundPairs(ctx: PlanContext): Array<{ r: NicMatchResult; nic: NicFacts }> {
  return balancerNics(ctx)
    .map((r) => ({ r, nic: resolved(r) }))
    .filter((x): x is { r: NicMatchResult; nic: NicFacts } => x.nic !== null);
}

export const nicFound: PreflightCheck = {
  id: 'NIC-001',
  title: 'inventory NIC not found',
  severity: 'error',
  howToFix: 'Correct nics[].match (prefer match.pci; lspci -D).',
  protects:
    'Binding or configuring a NIC that is not there ("No dpdk ports found", port count mismatch at start).',
  run(ctx) {
    const missing = balancerNics(ctx).filter(
      (r) => r.candidates.length === 0 && r.unresolved.length === 0 && r.conflicts.length === 0,
    );
    if (missing.length === 0) return null;
    const seen = ctx.facts.nics.map(describeNic);
    return finding(
      `no NIC matches ${listText(missing.map((r) => `${r.nic.name} (${describeMatch(r.nic)})`))}; ` +
        `the host has ${seen.length ? listText(seen) : 'no PCI network devices'}`,
      'every nics[].match names a NIC of this host',
      'correct nics[].match (lspci -D | grep -i ether; ls -l /sys/class/net/*/device), preferring match.pci',
    );
  },
};

export const nicUnambiguous: PreflightCheck = {
  id: 'NIC-002',
  title: 'inventory NIC ambiguous',
  severity: 'error',
  howToFix: 'Match by PCI address; give every inventory NIC its own device.',
  protects:
    'Binding the wrong port: matchers that disagree, match several NICs, or two inventory NICs naming one device.',
  run(ctx) {
    const problems: string[] = [];
    const byPci = new Map<string, string[]>();
    for (const r of balancerNics(ctx)) {
      const label = `${r.nic.name} (${describeMatch(r.nic)})`;
      if (r.conflicts.length) problems.push(`${label}: ${listText(r.conflicts)}, and no NIC matches all`);
      else if (r.candidates.length > 1)
        problems.push(`${label} matches ${listText(r.candidates.map((n) => n.pci))}`);
      else if (r.candidates.length === 0 && r.unresolved.length > 1)
        problems.push(
          `${label} could be any of ${listText(r.unresolved.map((n) => n.pci))} (bound to a userspace driver, name and MAC unknown)`,
        );
      const nic = resolved(r);
      if (nic) byPci.set(nic.pci, [...(byPci.get(nic.pci) ?? []), r.nic.name]);
    }
    for (const [pci, names] of byPci)
      if (names.length > 1) problems.push(`${listText(names)} all resolve to ${pci}`);
    if (problems.length === 0) return null;
    return finding(
      listText(problems),
      'each inventory NIC resolves to exactly one NIC, and to a different one',
      'match by PCI address (nics[].match.pci) — it survives binding to a userspace driver, names and MACs do not',
    );
  },
};

export const notManagementNic: PreflightCheck = {
  id: 'NIC-003',
  title: 'NIC carrying SSH or the default route is in the bind list',
  severity: 'error',
  howToFix: 'Remove the management NIC from nics; manage the host over a separate NIC.',
  protects: 'Binding the management NIC to a DPDK driver cuts the SSH session and strands the host.',
  run(ctx) {
    const bad = boundPairs(ctx).filter((x) => x.nic.carriesSsh || x.nic.defaultRoute);
    if (bad.length === 0) return null;
    const what = bad.map(
      ({ r, nic }) =>
        `${r.nic.name} is ${nic.pci}${nic.ifname ? ` (${nic.ifname})` : ''}, which carries ` +
        [nic.carriesSsh && 'this SSH session', nic.defaultRoute && 'the default route']
          .filter(Boolean)
          .join(' and '),
    );
    return finding(
      listText(what),
      'DPDK ports never carry the SSH session or the default route',
      'remove that NIC from nics (manage the host over a separate NIC), or move SSH and the default route to another NIC first',
    );
  },
};

export const noMellanoxBind: PreflightCheck = {
  id: 'NIC-004',
  title: 'Mellanox NIC in the bind list',
  severity: 'error',
  howToFix: 'Remove Mellanox (mlx5) NICs from nics: they must stay on mlx5_core.',
  protects:
    'mlx5 NICs use a bifurcated driver: they must stay on mlx5_core; bound to uio/vfio they vanish from DPDK ("No dpdk ports found").',
  run(ctx) {
    const bad = boundPairs(ctx).filter(
      (x) => nicModel(x.nic.vendorId, x.nic.deviceId)?.limit === 'bifurcated',
    );
    if (bad.length === 0) return null;
    return finding(
      listText(
        bad.map(
          ({ r, nic }) => `${r.nic.name} is ${nic.pci} ${nic.vendorId}:${nic.deviceId} (Mellanox mlx5)`,
        ),
      ),
      `ports that ${bindDriver(ctx.host)} can drive (Intel ixgbe/i40e, virtio …)`,
      'remove the Mellanox NIC from nics: dpvs-deploy binds every listed port, and mlx5 must never be bound ' +
        '(it needs rdma-core/MLNX_OFED and DPDK built with mlx5, which dpvs-deploy does not manage)',
    );
  },
};

export const knownModel: PreflightCheck = {
  id: 'NIC-005',
  title: 'NIC model unknown to dpvs-deploy',
  severity: 'warning',
  howToFix: 'Verify the model against DPDK’s NIC guides, then waive NIC-005.',
  protects:
    'A NIC whose PMD, RSS and rte_flow support are unknown may fail at "Start dpdkN failed" or with sapool errors.',
  run(ctx) {
    const unknown = boundPairs(ctx).filter((x) => nicModel(x.nic.vendorId, x.nic.deviceId) === null);
    if (unknown.length === 0) return null;
    return finding(
      listText(unknown.map(({ r, nic }) => `${r.nic.name} is ${nic.vendorId}:${nic.deviceId} at ${nic.pci}`)),
      'a known model: Intel 82599/X540/X550 (ixgbe), X710/XL710/XXV710 (i40e), I350 (igb), virtio-net, e1000, vmxnet3',
      'check the model against DPDK’s supported NICs (doc.dpdk.org/guides/nics) and waive NIC-005 once tested',
    );
  },
};

export const modelLimits: PreflightCheck = {
  id: 'NIC-006',
  title: 'NIC model cannot serve the configured queues or workers',
  severity: 'warning',
  howToFix:
    'One queue on virtio/e1000; one worker with dpvs.sa_pool_flow_enable: false, or dpvs.conn_redirect: true, on NICs without rte_flow.',
  protects:
    'virtio/e1000 have no RSS (more than one queue → "Start dpdk0 failed"); I350/vmxnet3 have no rte_flow (FullNAT/SNAT with several workers → "failed dpdk api(-11)").',
  run(ctx) {
    const problems: string[] = [];
    const planned = plannedLayout(ctx);
    const slaves = 'workers' in planned ? planned.workers.filter((w) => w.type === 'slave').length : null;
    const queues = effectiveQueues(ctx);
    for (const { r, nic } of boundPairs(ctx)) {
      const model = nicModel(nic.vendorId, nic.deviceId);
      if (!model) continue;
      const q = queues.find((x) => x.name === r.nic.name);
      if (!q) continue;
      if (model.limit === 'single-queue' && (q.rxQueues > 1 || q.txQueues > 1))
        problems.push(
          `${r.nic.name} is ${model.name} (no RSS) with ${q.rxQueues} rx / ${q.txQueues} tx queues`,
        );
      if (
        model.limit === 'no-rte-flow' &&
        (q.rxQueues > 1 || (slaves ?? 1) > 1) &&
        ctx.host.dpvs?.conn_redirect !== true
      )
        problems.push(
          `${r.nic.name} is ${model.name} (no rte_flow) with ${q.rxQueues} rx queues and ${slaves ?? 'auto'} workers`,
        );
    }
    if (problems.length === 0) return null;
    return finding(
      listText(problems),
      'one queue on NICs without RSS; one worker (or conn redirect) on NICs without rte_flow',
      'set rx.queues/tx.queues: 1 and a single slave worker with dpvs.sa_pool_flow_enable: false, or dpvs.conn_redirect: true',
    );
  },
};

export const queueCounts: PreflightCheck = {
  id: 'NIC-007',
  title: 'more queues configured than the NIC supports',
  severity: 'error',
  howToFix: 'Lower nics[].rx.queues / tx.queues to the NIC’s maximum.',
  protects:
    'dpvs fails to start a port with more queues than the NIC has ("supports X rx-queues … but Y configured").',
  run(ctx) {
    const problems: string[] = [];
    const queues = effectiveQueues(ctx);
    for (const { r, nic } of boundPairs(ctx)) {
      const q = queues.find((x) => x.name === r.nic.name);
      if (!q) continue;
      if (nic.maxRxQueues !== null && q.rxQueues > nic.maxRxQueues)
        problems.push(`${r.nic.name} (${nic.pci}): ${q.rxQueues} rx queues, the NIC has ${nic.maxRxQueues}`);
      if (nic.maxTxQueues !== null && q.txQueues > nic.maxTxQueues)
        problems.push(`${r.nic.name} (${nic.pci}): ${q.txQueues} tx queues, the NIC has ${nic.maxTxQueues}`);
    }
    if (problems.length === 0) return null;
    return finding(
      listText(problems),
      'rx.queues and tx.queues within the NIC’s maximum',
      'lower nics[].rx.queues / tx.queues (and the workers serving them) to the NIC’s maximum',
    );
  },
};

export const nicChecks: PreflightCheck[] = [
  nicFound,
  nicUnambiguous,
  notManagementNic,
  noMellanoxBind,
  knownModel,
  modelLimits,
  queueCounts,
];
