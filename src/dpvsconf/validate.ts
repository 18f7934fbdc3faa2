/**
 * Worker/queue layout checks, mirroring upstream's netif_lcore_init() -> check_lcore_conf() so that a layout
 * dpvs would reject with "netif_lcore_init: bad lcore configuration (error code: -N)" is caught at plan time.
 *
 * Verified by reading iqiyi/dpvs src/netif.c (master and 1.9 LTS; same logic, the older variant also has
 * -1 LCONFCHK_LCORE_NOT_INDEXED, an internal index error that a config cannot cause):
 *   #define LCONFCHK_REPEATED_RX_QUEUE_ID    -2   an rx queue id of a port marked twice (two workers, or twice
 *                                                 in one worker's list)
 *   #define LCONFCHK_REPEATED_TX_QUEUE_ID    -3   same for tx
 *   #define LCONFCHK_DISCONTINUOUS_QUEUE_ID  -4   for every port, every queue 0..queue_number-1 (rx and tx)
 *                                                 must be marked by some worker
 *   #define LCONFCHK_PORT_NOT_ENOUGH         -5   a worker lists more ports than DPDK has
 *   #define LCONFCHK_INCORRECT_TX_QUEUE_NUM  -6   a worker's port count differs from the number of distinct
 *                                                 ports over all workers, or a worker has < 1 tx queue on a port
 *   #define LCONFCHK_NO_SLAVE_LCORES         -7   no worker with ports at all
 * Only workers with ports take part (the master has none; a `kni` worker with ports does take part, so it
 * needs a tx queue on every port). Upstream stops at the first failure; we report all of them. An unknown
 * port name is reported as -5 (upstream cannot map it to a DPDK port).
 *
 * Our own rules (code 0): exactly one master; cpu ids unique; cpu ids below DPVS_MAX_LCORE (64); queue ids
 * per port contiguous from 0 and below the port's queue count; the master owns no queues; every worker's
 * CPU is among the EAL lcores when those are given.
 */
import type { WorkerAssignment } from './layout.js';
import { DPVS_MAX_LCORE } from './model.js';

export interface LayoutProblem {
  code: -2 | -3 | -4 | -5 | -6 | -7 | 0;
  rule: string;
  message: string;
}

export interface PortQueues {
  name: string;
  rxQueues: number;
  txQueues: number;
}

type Dir = 'rx' | 'tx';

export function validateLayout(
  workers: WorkerAssignment[],
  ports: PortQueues[],
  opts: { lcores?: number[] } = {},
): LayoutProblem[] {
  const problems: LayoutProblem[] = [];
  const add = (code: LayoutProblem['code'], rule: string, message: string): void => {
    problems.push({ code, rule, message });
  };
  const portByName = new Map(ports.map((p) => [p.name, p]));

  // ---- our rules on roles and CPUs ----
  const masters = workers.filter((w) => w.type === 'master');
  if (masters.length !== 1) {
    add(0, 'one-master', `exactly one master worker is required, found ${masters.length}`);
  }
  const seenCpu = new Map<number, string>();
  for (const w of workers) {
    const other = seenCpu.get(w.cpuId);
    if (other !== undefined)
      add(0, 'unique-cpu-id', `workers ${other} and ${w.name} both use cpu_id ${w.cpuId}`);
    else seenCpu.set(w.cpuId, w.name);
    if (!Number.isInteger(w.cpuId) || w.cpuId < 0 || w.cpuId >= DPVS_MAX_LCORE) {
      add(0, 'lcore-range', `worker ${w.name}: cpu_id ${w.cpuId} is outside 0..${DPVS_MAX_LCORE - 1}`);
    }
    if (opts.lcores && !opts.lcores.includes(w.cpuId)) {
      add(0, 'lcore-available', `worker ${w.name}: CPU ${w.cpuId} is not among the EAL lcores`);
    }
  }
  for (const m of masters) {
    if (Object.keys(m.ports).length > 0) {
      add(
        0,
        'master-no-queues',
        `master ${m.name} must not own port queues (it owns ${Object.keys(m.ports).join(', ')})`,
      );
    }
  }

  // ---- upstream check_lcore_conf ----
  const fwd = workers.filter((w) => w.type !== 'master' && Object.keys(w.ports).length > 0);
  if (!workers.some((w) => w.type === 'slave' && Object.keys(w.ports).length > 0)) {
    add(
      -7,
      'LCONFCHK_NO_SLAVE_LCORES',
      'no slave worker owns any port queue (dpvs needs at least one slave)',
    );
  }

  const marks = new Map<string, Map<number, string>>(); // `${port}/${dir}` -> queue -> worker
  for (const w of fwd) {
    const names = Object.keys(w.ports);
    if (names.length > ports.length) {
      add(
        -5,
        'LCONFCHK_PORT_NOT_ENOUGH',
        `worker ${w.name} lists ${names.length} ports, only ${ports.length} exist`,
      );
    }
    for (const dev of names) {
      if (!portByName.has(dev)) {
        add(
          -5,
          'LCONFCHK_PORT_NOT_ENOUGH',
          `worker ${w.name} references port ${dev}, which is not configured`,
        );
      }
      const q = w.ports[dev] as { rx: number[]; tx: number[] };
      for (const dir of ['rx', 'tx'] as const) {
        const key = `${dev}/${dir}`;
        const seen = marks.get(key) ?? new Map<number, string>();
        marks.set(key, seen);
        for (const id of q[dir]) {
          const owner = seen.get(id);
          if (owner !== undefined) {
            const code = dir === 'rx' ? -2 : -3;
            const rule = dir === 'rx' ? 'LCONFCHK_REPEATED_RX_QUEUE_ID' : 'LCONFCHK_REPEATED_TX_QUEUE_ID';
            const who = owner === w.name ? `twice by worker ${w.name}` : `by workers ${owner} and ${w.name}`;
            add(code, rule, `port ${dev} ${dir} queue ${id} is used ${who}`);
          } else seen.set(id, w.name);
        }
      }
    }
  }

  for (const p of ports) {
    for (const dir of ['rx', 'tx'] as const) {
      const count = dir === 'rx' ? p.rxQueues : p.txQueues;
      const seen = marks.get(`${p.name}/${dir}`) ?? new Map<number, string>();
      const missing: number[] = [];
      for (let id = 0; id < count; id++) if (!seen.has(id)) missing.push(id);
      if (missing.length) {
        add(
          -4,
          'LCONFCHK_DISCONTINUOUS_QUEUE_ID',
          `port ${p.name} has ${count} ${dir} queues but no worker owns ${dir} queue ${missing.join(', ')}`,
        );
      }
      checkOurQueueRules(p.name, dir, count, [...seen.keys()], add);
    }
  }

  const configured = new Set(fwd.flatMap((w) => Object.keys(w.ports)));
  for (const w of fwd) {
    const names = Object.keys(w.ports);
    if (names.length !== configured.size) {
      const lacking = [...configured].filter((d) => !names.includes(d));
      add(
        -6,
        'LCONFCHK_INCORRECT_TX_QUEUE_NUM',
        `worker ${w.name} lists ${names.length} ports, the workers together use ${configured.size}` +
          (lacking.length ? ` (missing: ${lacking.join(', ')})` : ''),
      );
    }
    for (const dev of names) {
      if ((w.ports[dev]?.tx.length ?? 0) < 1) {
        add(-6, 'LCONFCHK_INCORRECT_TX_QUEUE_NUM', `worker ${w.name} has no tx queue on port ${dev}`);
      }
    }
  }
  for (const w of workers) {
    if (w.type === 'slave' && Object.keys(w.ports).length === 0 && fwd.length > 0) {
      add(
        -6,
        'LCONFCHK_INCORRECT_TX_QUEUE_NUM',
        `slave ${w.name} owns no port (every slave needs a tx queue on every port)`,
      );
    }
  }
  return problems;
}

function checkOurQueueRules(
  port: string,
  dir: Dir,
  count: number,
  ids: number[],
  add: (code: LayoutProblem['code'], rule: string, message: string) => void,
): void {
  const beyond = ids.filter((id) => id >= count || id < 0).sort((a, b) => a - b);
  if (beyond.length) {
    add(
      0,
      'queue-id-in-range',
      `port ${port} has ${count} ${dir} queues; workers use ${dir} queue ${beyond.join(', ')}`,
    );
  }
  if (ids.length === 0) return;
  const max = Math.max(...ids);
  const holes: number[] = [];
  for (let id = 0; id <= max; id++) if (!ids.includes(id)) holes.push(id);
  if (holes.length) {
    add(
      0,
      'contiguous-queue-ids',
      `port ${port} ${dir} queue ids must be contiguous from 0; missing ${holes.join(', ')}`,
    );
  }
}

/** The queue counts a layout implies: per port, one past the highest rx/tx id any worker uses. */
export function impliedQueues(workers: WorkerAssignment[], port: string): { rx: number; tx: number } {
  const rx = workers.flatMap((w) => w.ports[port]?.rx ?? []);
  const tx = workers.flatMap((w) => w.ports[port]?.tx ?? []);
  return { rx: rx.length ? Math.max(...rx) + 1 : 0, tx: tx.length ? Math.max(...tx) + 1 : 0 };
}
