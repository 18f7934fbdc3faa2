import { describe, expect, it } from 'vitest';
import { parseDpvsConf } from '../../../src/dpvsconf/index.js';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { dpvsConfTask } from '../../../src/tasks/dpvs-conf.js';
import { desiredConf } from '../../../src/tasks/dpvs/desired-conf.js';
import { DpvsPlanError } from '../../../src/tasks/dpvs/settings.js';
import { planContext, r630, r630Host, R630_PORTS } from '../../support/facts-builder.js';
import { unitStartCommand } from '../../../src/tasks/cause.js';

const CONF = '/etc/dpvs.conf';
const BAK = '/etc/dpvs.conf.dpvs-deploy.bak';

function withFile(f: Facts, path: string, content: string | null): Facts {
  const out = structuredClone(f);
  out.files[path] =
    content === null
      ? { exists: false, sha256: null, mode: null, content: null }
      : { exists: true, sha256: null, mode: '0644', content };
  return out;
}

function active(f: Facts, on: boolean): Facts {
  const out = structuredClone(f);
  out.services.dpvs = { active: on, enabled: on, unitExists: true };
  return out;
}

const queues = (host: ResolvedHost, n: number): ResolvedHost => ({
  ...host,
  nics: (host.nics ?? []).map((nic) => ({ ...nic, rx: { queues: n }, tx: { queues: n } })),
});

describe('dpvs-conf task', () => {
  const host = r630Host();
  const fresh = r630().build();

  it('plans the whole file on a fresh host, devices in inventory order, with a creation diff', () => {
    const { changes, projected } = dpvsConfTask.plan(planContext(host, fresh));
    expect(changes).toHaveLength(1);
    const c = changes[0]!;
    expect(c.action).toBe('create');
    expect(c.disruptive).toBe(false);
    const write = c.steps.find((s) => s.kind === 'write');
    expect(write && write.kind === 'write' && write.path).toBe(CONF);
    const text = write && write.kind === 'write' ? write.content : '';
    const conf = parseDpvsConf(text);
    expect(conf.netif_defs.devices.map((d) => d.name)).toEqual(['dpdk0', 'dpdk1']);
    expect(conf.netif_defs.devices.every((d) => d.rx.queue_number === 4)).toBe(true);
    expect(c.diff).toContain('--- /dev/null');
    expect(c.diff).toContain('+netif_defs {');
    expect(projected?.files[CONF]?.content).toBe(text);
  });

  it('plans nothing when the host has exactly that file', () => {
    const want = desiredConf(host, fresh).text;
    expect(dpvsConfTask.plan(planContext(host, withFile(fresh, CONF, want))).changes).toEqual([]);
  });

  it('a queue count change shows a diff of queue_number, disruptive while dpvs runs', () => {
    const running = active(withFile(fresh, CONF, desiredConf(host, fresh).text), true);
    const { changes } = dpvsConfTask.plan(planContext(queues(host, 2), running));
    expect(changes).toHaveLength(1);
    const c = changes[0]!;
    expect(c.action).toBe('update');
    expect(c.disruptive).toBe(true);
    expect(c.diff).toMatch(/^-\s+queue_number\s+4/m);
    expect(c.diff).toMatch(/^\+\s+queue_number\s+2/m);
    expect(c.reversible).toBe(true);
  });

  it('says "formatting only" when the file means the same', () => {
    const want = desiredConf(host, fresh).text;
    const reformatted = want.replace(/^! dpvs\.conf: .*$/m, '! edited by hand');
    const { changes } = dpvsConfTask.plan(planContext(host, withFile(fresh, CONF, reformatted)));
    expect(changes[0]?.summary).toContain('formatting only');
  });

  it('an explicit layout that does not fit the facts is a planning error for the host', () => {
    const bad: ResolvedHost = {
      ...host,
      workers: {
        master: 1,
        // CPU 99 is not online on the R630; queues 2,3 of a 4-queue port are unserved
        slaves: [
          { cpu: 99, ports: { dpdk0: { rx: [0, 1], tx: [0, 1] }, dpdk1: { rx: [0, 1], tx: [0, 1] } } },
        ],
      },
    };
    expect(() => dpvsConfTask.plan(planContext(bad, fresh))).toThrow(DpvsPlanError);
    expect(() => dpvsConfTask.plan(planContext(bad, fresh))).toThrow(/CPU 99|upstream error -4/);
  });

  it('a NIC the host does not have is a planning error', () => {
    const h: ResolvedHost = { ...host, nics: [{ name: 'dpdk0', match: { pci: '0000:99:00.0' } }] };
    expect(() => dpvsConfTask.plan(planContext(h, fresh))).toThrow(/dpdk0 \(pci 0000:99:00.0\)/);
  });

  it('rollback restores the kept copy and restarts dpvs when it runs', () => {
    const cur = desiredConf(queues(host, 2), fresh).text;
    const prev = desiredConf(host, fresh).text;
    const f = active(withFile(withFile(fresh, CONF, cur), BAK, prev), true);
    const { changes } = dpvsConfTask.rollback!(planContext(host, f));
    expect(changes).toHaveLength(1);
    const steps = changes[0]!.steps;
    // the kept copy goes back through a temp file and a rename (src/plan/ops/managed-file.ts: restoreKeptCopy)
    expect(steps[0]).toEqual({
      kind: 'exec',
      command: `cp -p ${BAK} /etc/.dpvs.conf.dpvs-deploy.restore && mv -f /etc/.dpvs.conf.dpvs-deploy.restore ${CONF}`,
    });
    expect(changes[0]!.diff).toContain(`--- a${CONF}`);
    expect(
      steps.some(
        (s) =>
          s.kind === 'exec' &&
          s.command ===
            `if systemctl is-active --quiet dpvs 2>/dev/null; then ${unitStartCommand('restart', 'dpvs')}; fi`,
      ),
    ).toBe(true);
    expect(steps.some((s) => s.kind === 'wait')).toBe(true);
    // once restored, nothing is left to roll back
    const after = withFile(f, CONF, prev);
    expect(dpvsConfTask.rollback!(planContext(host, after)).changes).toEqual([]);
  });

  it('rollback without a kept copy plans nothing', () => {
    const f = withFile(fresh, CONF, desiredConf(host, fresh).text);
    expect(dpvsConfTask.rollback!(planContext(host, f)).changes).toEqual([]);
  });

  it('uses dpvs.config_path', () => {
    const h: ResolvedHost = { ...host, dpvs: { version: '1.9.10', config_path: '/etc/dpvs/dpvs.conf' } };
    const w = dpvsConfTask.plan(planContext(h, fresh)).changes[0]!.steps.find((s) => s.kind === 'write');
    expect(w && w.kind === 'write' && w.path).toBe('/etc/dpvs/dpvs.conf');
    expect(R630_PORTS.dpdk0).toBe('0000:01:00.0');
  });
});
