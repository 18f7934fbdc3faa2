import { describe, expect, it } from 'vitest';
import {
  FSTAB,
  HUGEPAGES_STATE,
  HUGEPAGES_UNIT,
  HUGEPAGES_UNIT_PATH,
  hugepagesTask,
  nodeHugepagesPath,
  renderHugepagesUnit,
  hugepageTarget,
} from '../../../src/tasks/hugepages.js';
import { fstabWithEntry } from '../../../src/tasks/fstab.js';
import { factsBuilder, planContext, r630Host } from '../../support/facts-builder.js';

const host = r630Host({ hugepages: { size: '2M', per_node: 1024 } });

function fresh() {
  const f = factsBuilder()
    .numaNodes(2, { cpusPerNode: 8, memPerNodeMb: 16384 })
    .hugepages({ perNode: 0 })
    .file(FSTAB, 'proc /proc proc defaults 0 0\n')
    .build();
  f.mounts = [];
  return f;
}

function converged() {
  const f = factsBuilder()
    .numaNodes(2, { cpusPerNode: 8, memPerNodeMb: 16384 })
    .hugepages({ perNode: 1024 })
    .file(FSTAB, 'proc /proc proc defaults 0 0\nnodev /dev/hugepages hugetlbfs pagesize=2M 0 0\n')
    .file(
      HUGEPAGES_UNIT_PATH,
      renderHugepagesUnit(
        hugepageTarget(host, [
          { id: 0, cpus: [], memTotalKb: 0, memFreeKb: 0, hugepages: [] },
          { id: 1, cpus: [], memTotalKb: 0, memFreeKb: 0, hugepages: [] },
        ])!,
      ),
    )
    .service(HUGEPAGES_UNIT, { active: true, enabled: true, unitExists: true })
    .build();
  f.mounts = [];
  f.mounts.push({
    source: 'nodev',
    target: '/dev/hugepages',
    fstype: 'hugetlbfs',
    options: 'rw,relatime,pagesize=2M',
  });
  return f;
}

describe('hugepages task', () => {
  it('plans one sysfs write per NUMA node, persistence, the mount and fstab on a fresh host', () => {
    const { changes, projected } = hugepagesTask.plan(planContext(host, fresh()));
    expect(changes.map((c) => c.id)).toEqual([
      'hugepages/node0/2048kB',
      'hugepages/node1/2048kB',
      'hugepages/persist',
      'hugepages/mount/dev/hugepages',
      'hugepages/fstab',
    ]);
    // the first change records what it found (for rollback, an atomic write) before it writes the counter
    expect(changes[0]?.steps[0]).toEqual({ kind: 'exec', command: 'mkdir -p /var/lib/dpvs-deploy/state' });
    expect(changes[0]?.steps[1]).toMatchObject({ kind: 'write', path: HUGEPAGES_STATE, mode: 0o644 });
    const rec = changes[0]?.steps[1];
    expect(JSON.parse(rec?.kind === 'write' ? rec.content : '')).toMatchObject({
      sizeKb: 2048,
      perNode: { '0': 0, '1': 0 },
      unitExisted: false,
    });
    expect(changes[0]?.steps.slice(2)).toEqual([
      { kind: 'exec', command: `echo 1024 > ${nodeHugepagesPath(0, 2048)}` },
    ]);
    expect(changes[1]?.steps).toEqual([
      { kind: 'exec', command: `echo 1024 > ${nodeHugepagesPath(1, 2048)}` },
    ]);
    expect(changes[1]?.summary).toBe('node1 2M hugepages: 0 → 1024');
    // projected facts: the next task sees the pages and the mount
    expect(projected?.numa.map((n) => n.hugepages.find((h) => h.sizeKb === 2048)?.free)).toEqual([
      1024, 1024,
    ]);
    expect(projected?.mounts.some((m) => m.target === '/dev/hugepages')).toBe(true);
  });

  it('plans nothing when the host already matches (idempotent)', () => {
    expect(hugepagesTask.plan(planContext(host, converged())).changes).toEqual([]);
  });

  it('plans only the node that differs', () => {
    const f = converged();
    const n1 = f.numa[1]!.hugepages.find((h) => h.sizeKb === 2048)!;
    n1.total = 512;
    n1.free = 512;
    const { changes } = hugepagesTask.plan(planContext(host, f));
    expect(changes.map((c) => c.summary)).toEqual(['node1 2M hugepages: 512 → 1024']);
  });

  it('1 GB pages use their own counter, mount point and pagesize', () => {
    const h = r630Host({ hugepages: { size: '1G', per_node: { '0': 4 } } });
    const { changes } = hugepagesTask.plan(planContext(h, fresh()));
    expect(changes[0]?.steps.at(-1)).toEqual({
      kind: 'exec',
      command: `echo 4 > ${nodeHugepagesPath(0, 1048576)}`,
    });
    expect(changes.find((c) => c.id.startsWith('hugepages/mount'))?.summary).toBe(
      'mount hugetlbfs (pagesize=1G) on /dev/hugepages1G',
    );
  });

  it('verify fails with the numbers when the kernel gave fewer pages than asked', () => {
    const f = converged();
    const n1 = f.numa[1]!.hugepages.find((h) => h.sizeKb === 2048)!;
    n1.total = 300;
    const problems = hugepagesTask.verify!(planContext(host, f));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/node1: asked for 1024 2M hugepages, the kernel gave 300/);
    expect(hugepagesTask.verify!(planContext(host, converged()))).toEqual([]);
  });

  it('hosts without hugepages in the inventory get no changes', () => {
    const h = r630Host({ hugepages: undefined });
    expect(hugepagesTask.plan(planContext(h, fresh())).changes).toEqual([]);
  });
});

describe('fstab editing', () => {
  const entry = { spec: 'nodev', file: '/dev/hugepages', vfstype: 'hugetlbfs', options: 'pagesize=2M' };
  it('appends, keeps other lines and comments, and is idempotent', () => {
    const cur = '# static\nUUID=x / ext4 defaults 0 1\n';
    const next = fstabWithEntry(cur, entry);
    expect(next).toBe(
      '# static\nUUID=x / ext4 defaults 0 1\nnodev /dev/hugepages hugetlbfs pagesize=2M 0 0\n',
    );
    expect(fstabWithEntry(next, entry)).toBe(next);
  });
  it('replaces a different entry for the same mount point in place', () => {
    const cur = 'nodev /dev/hugepages hugetlbfs defaults 0 0\nUUID=x / ext4 defaults 0 1\n';
    expect(fstabWithEntry(cur, entry)).toBe(
      'nodev /dev/hugepages hugetlbfs pagesize=2M 0 0\nUUID=x / ext4 defaults 0 1\n',
    );
  });
  it('handles an empty or missing file', () => {
    expect(fstabWithEntry('', entry)).toBe('nodev /dev/hugepages hugetlbfs pagesize=2M 0 0\n');
  });
});
