/**
 * hugepages: per-NUMA-node hugepage counts (2 MB or 1 GB) at run time through sysfs, persisted across
 * reboot by a oneshot unit that writes the same counters before dpvs starts, and a hugetlbfs mount for
 * the page size in use (mounted now and listed in /etc/fstab).
 *
 * Verify: the kernel may give fewer pages than asked (fragmented or short memory on a node); the
 * postcondition compares what each node really has with the request and fails with the numbers.
 */
import { fileWriteSteps, managedFile } from '../plan/ops/managed-file.js';
import { renderUnit, systemdUnit, type UnitEntry, type UnitFile } from '../plan/ops/systemd-unit.js';
import type { Facts, NumaNodeFacts } from '../facts/types.js';
import type { ResolvedHost } from '../inventory/types.js';
import type { Change } from '../plan/change.js';
import { sh } from '../transport/quote.js';
import { fstabWithEntry } from './fstab.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

export const HUGEPAGES_UNIT = 'dpvs-hugepages';
export const HUGEPAGES_UNIT_PATH = `/etc/systemd/system/${HUGEPAGES_UNIT}.service`;
export const FSTAB = '/etc/fstab';
/** What the host had before dpvs-deploy's first hugepage change: rollback restores it. */
export const HUGEPAGES_STATE = '/var/lib/dpvs-deploy/state/hugepages.json';

interface HugepagesPrevious {
  sizeKb: number;
  perNode: Record<string, number>;
  unitExisted: boolean;
  fstab: string | null;
  mountExisted: boolean;
  mount: string;
}

export interface HugepageTarget {
  sizeKb: number;
  sizeLabel: '2M' | '1G';
  /** node id -> pages wanted */
  perNode: Map<number, number>;
  mount: string;
  persist: boolean;
}

const SIZE_KB = { '2M': 2048, '1G': 1048576 } as const;

export function nodeHugepagesPath(node: number, sizeKb: number): string {
  return `/sys/devices/system/node/node${node}/hugepages/hugepages-${sizeKb}kB/nr_hugepages`;
}

/** What the inventory asks for on this host, resolved against the host's NUMA nodes. */
export function hugepageTarget(
  host: ResolvedHost,
  numa: ReadonlyArray<NumaNodeFacts>,
): HugepageTarget | null {
  const hp = host.hugepages;
  if (!hp || hp.per_node === undefined) return null;
  const sizeLabel = hp.size ?? '2M';
  const perNode = new Map<number, number>();
  const nodes = numa.length ? numa.map((n) => n.id) : [0];
  if (typeof hp.per_node === 'number') for (const n of nodes) perNode.set(n, hp.per_node);
  else for (const [k, v] of Object.entries(hp.per_node)) perNode.set(Number(k), v);
  return {
    sizeKb: SIZE_KB[sizeLabel],
    sizeLabel,
    perNode,
    mount: hp.mount ?? (sizeLabel === '2M' ? '/dev/hugepages' : '/dev/hugepages1G'),
    persist: hp.persist ?? true,
  };
}

function nodeCount(facts: Facts, node: number, sizeKb: number): { total: number; free: number } | null {
  const n = facts.numa.find((x) => x.id === node);
  const c = n?.hugepages.find((h) => h.sizeKb === sizeKb);
  return c ? { total: c.total, free: c.free } : null;
}

export function hugepagesUnit(t: HugepageTarget): UnitFile {
  const writes = [...t.perNode.entries()]
    .sort(([a], [b]) => a - b)
    .map(([node, count]): UnitEntry => [
      'ExecStart',
      { exec: ['/bin/sh', '-c', sh`echo ${count} > ${nodeHugepagesPath(node, t.sizeKb)}`] },
    ]);
  return {
    comments: ['managed by dpvs-deploy: per-NUMA-node hugepages for dpvs'],
    sections: [
      [
        'Unit',
        [
          ['Description', 'Per-NUMA-node hugepages for DPVS (dpvs-deploy)'],
          ['DefaultDependencies', 'no'],
          ['After', ['local-fs.target']],
          ['Before', ['dpvs.service']],
        ],
      ],
      ['Service', [['Type', 'oneshot'], ['RemainAfterExit', 'yes'], ...writes]],
      ['Install', [['WantedBy', ['multi-user.target']]]],
    ],
  };
}

export function renderHugepagesUnit(t: HugepageTarget): string {
  return renderUnit(hugepagesUnit(t));
}

function mountOptions(t: HugepageTarget): string {
  return `pagesize=${t.sizeLabel}`;
}

function hasMount(facts: Facts, t: HugepageTarget): boolean {
  return facts.mounts.some(
    (m) => m.fstype === 'hugetlbfs' && m.target === t.mount && pagesizeOf(m.options, facts) === t.sizeKb,
  );
}

/** hugetlbfs shows pagesize=2M / 1024M / 1G in its options; without it, the default size. */
function pagesizeOf(options: string, facts: Facts): number {
  const m = /pagesize=(\d+)([KMG])/.exec(options);
  if (!m) return facts.memory.hugepageSizeKb;
  const unit = { K: 1, M: 1024, G: 1024 * 1024 }[m[2] as 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

export const hugepagesTask: Task = {
  name: 'hugepages',
  probe: () => ({ files: [HUGEPAGES_UNIT_PATH, FSTAB, HUGEPAGES_STATE], services: [HUGEPAGES_UNIT] }),

  plan(ctx: PlanContext): TaskPlan {
    const { facts, host } = ctx;
    const t = hugepageTarget(host, facts.numa);
    if (!t) return { changes: [] };
    const changes: Change[] = [];
    const projected: Facts = structuredClone(facts);

    for (const [node, want] of [...t.perNode.entries()].sort(([a], [b]) => a - b)) {
      const have = nodeCount(facts, node, t.sizeKb);
      if (have && have.total === want) continue;
      const path = nodeHugepagesPath(node, t.sizeKb);
      changes.push({
        id: `hugepages/node${node}/${t.sizeKb}kB`,
        task: 'hugepages',
        summary: `node${node} ${t.sizeLabel} hugepages: ${have?.total ?? 'none'} → ${want}`,
        action: 'update',
        before: String(have?.total ?? 0),
        after: String(want),
        reversible: true,
        steps: [{ kind: 'exec', command: sh`echo ${want} > ${path}` }],
      });
      const pn = projected.numa.find((n) => n.id === node);
      const c = pn?.hugepages.find((h) => h.sizeKb === t.sizeKb);
      if (c) {
        c.free = Math.max(0, c.free + (want - c.total));
        c.total = want;
      }
    }

    if (t.persist) {
      const persist = systemdUnit({
        task: 'hugepages',
        id: 'hugepages/persist',
        name: HUGEPAGES_UNIT,
        path: HUGEPAGES_UNIT_PATH,
        unit: hugepagesUnit(t),
        facts,
        summary: `persist hugepages across reboot: ${HUGEPAGES_UNIT_PATH} (enabled)`,
      });
      if (persist) changes.push(persist);
    }

    if (!hasMount(facts, t)) {
      changes.push({
        id: `hugepages/mount${t.mount}`,
        task: 'hugepages',
        summary: `mount hugetlbfs (${mountOptions(t)}) on ${t.mount}`,
        action: 'create',
        after: `nodev ${t.mount} hugetlbfs ${mountOptions(t)}`,
        steps: [
          {
            kind: 'exec',
            command: sh`mkdir -p ${t.mount} && mount -t hugetlbfs -o ${mountOptions(t)} nodev ${t.mount}`,
          },
        ],
      });
      projected.mounts = [
        ...projected.mounts,
        { source: 'nodev', target: t.mount, fstype: 'hugetlbfs', options: `rw,relatime,${mountOptions(t)}` },
      ];
    }

    if (t.persist) {
      const fstab = facts.files[FSTAB];
      const current = fstab?.content ?? '';
      const next = fstabWithEntry(current, {
        spec: 'nodev',
        file: t.mount,
        vfstype: 'hugetlbfs',
        options: mountOptions(t),
      });
      if (next !== current) {
        const entry = managedFile({
          task: 'hugepages',
          id: 'hugepages/fstab',
          path: FSTAB,
          content: next,
          mode: 0o644,
          current: fstab,
          summary: `${FSTAB}: hugetlbfs on ${t.mount}`,
        });
        if (entry) changes.push(entry);
      }
    }
    if (changes.length && !facts.files[HUGEPAGES_STATE]?.exists) {
      const prev: HugepagesPrevious = {
        sizeKb: t.sizeKb,
        perNode: Object.fromEntries(
          [...t.perNode.keys()].map((n) => [String(n), nodeCount(facts, n, t.sizeKb)?.total ?? 0]),
        ),
        unitExisted: !!facts.files[HUGEPAGES_UNIT_PATH]?.exists,
        fstab: facts.files[FSTAB]?.content ?? null,
        mountExisted: hasMount(facts, t),
        mount: t.mount,
      };
      const first = changes[0] as Change;
      first.steps.unshift(
        ...fileWriteSteps([
          {
            path: HUGEPAGES_STATE,
            content: `${JSON.stringify(prev)}\n`,
            mode: 0o644,
            current: facts.files[HUGEPAGES_STATE],
          },
        ]),
      );
    }
    return { changes, projected };
  },

  rollback(ctx: PlanContext): TaskPlan {
    const st = ctx.facts.files[HUGEPAGES_STATE];
    if (!st?.exists || !st.content) return { changes: [] };
    let prev: HugepagesPrevious;
    try {
      prev = JSON.parse(st.content) as HugepagesPrevious;
    } catch {
      return { changes: [] };
    }
    const steps: Change['steps'] = [];
    const what: string[] = [];
    if (!prev.unitExisted && ctx.facts.files[HUGEPAGES_UNIT_PATH]?.exists) {
      steps.push({
        kind: 'exec',
        command: sh`systemctl disable ${HUGEPAGES_UNIT} >/dev/null 2>&1; rm -f ${HUGEPAGES_UNIT_PATH} && systemctl daemon-reload`,
      });
      what.push(`remove ${HUGEPAGES_UNIT_PATH}`);
    }
    if (prev.fstab !== null && ctx.facts.files[FSTAB]?.content !== prev.fstab) {
      steps.push(
        ...fileWriteSteps([
          { path: FSTAB, content: prev.fstab, mode: 0o644, current: ctx.facts.files[FSTAB] },
        ]),
      );
      what.push(`restore ${FSTAB}`);
    }
    if (
      !prev.mountExisted &&
      ctx.facts.mounts.some((m) => m.fstype === 'hugetlbfs' && m.target === prev.mount)
    ) {
      steps.push({ kind: 'exec', command: sh`umount ${prev.mount}` });
      what.push(`unmount ${prev.mount}`);
    }
    for (const [node, count] of Object.entries(prev.perNode)) {
      const have = nodeCount(ctx.facts, Number(node), prev.sizeKb);
      if (have?.total !== count) {
        steps.push({
          kind: 'exec',
          command: sh`echo ${count} > ${nodeHugepagesPath(Number(node), prev.sizeKb)}`,
        });
        what.push(`node${node} → ${count} pages`);
      }
    }
    steps.push({ kind: 'exec', command: sh`rm -f ${HUGEPAGES_STATE}` });
    return {
      changes: [
        {
          id: 'hugepages/rollback',
          task: 'hugepages',
          summary: `restore hugepages as before dpvs-deploy${what.length ? `: ${what.join(', ')}` : ''}`,
          action: 'update',
          steps,
        },
      ],
    };
  },

  verify(ctx: PlanContext): string[] {
    const t = hugepageTarget(ctx.host, ctx.facts.numa);
    if (!t) return [];
    const problems: string[] = [];
    for (const [node, want] of t.perNode) {
      const have = nodeCount(ctx.facts, node, t.sizeKb);
      if (!have) {
        problems.push(`node${node} has no ${t.sizeLabel} hugepage counter (is NUMA node ${node} present?)`);
      } else if (have.total !== want) {
        const n = ctx.facts.numa.find((x) => x.id === node);
        problems.push(
          `node${node}: asked for ${want} ${t.sizeLabel} hugepages, the kernel gave ${have.total} ` +
            `(node free memory ${Math.round((n?.memFreeKb ?? 0) / 1024)} MiB; free memory on that node, or reboot with hugepages on the kernel command line)`,
        );
      }
    }
    if (!hasMount(ctx.facts, t)) problems.push(`no hugetlbfs with ${mountOptions(t)} mounted on ${t.mount}`);
    return problems;
  },
};
