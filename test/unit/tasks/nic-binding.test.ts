import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { onControl } from '../../support/control.js';
import type { Facts } from '../../../src/facts/types.js';
import {
  BIND_SCRIPT,
  BIND_UNIT,
  BIND_UNIT_PATH,
  DRIVERCTL_OUTPUT,
  NIC_STATE,
  nicBindingTask,
  renderBindScript,
  renderBindUnit,
  STOP_DPVS_IF_ACTIVE,
} from '../../../src/tasks/nic-binding.js';
import { dpdkSpec } from '../../../src/tasks/dpdk/spec.js';
import { planContext, R630_PORTS, r630, r630Host } from '../../support/facts-builder.js';

const host = r630Host({ dpdk: { driver: 'uio_pci_generic' } });
const execs = (f: Facts) =>
  nicBindingTask
    .plan(planContext(host, f))
    .changes.flatMap((c) => c.steps.flatMap((s) => (s.kind === 'exec' ? [s.command] : [])))
    .join('\n');

function bound(f: Facts): Facts {
  const g = structuredClone(f);
  for (const n of g.nics)
    if (n.pci === R630_PORTS.dpdk0 || n.pci === R630_PORTS.dpdk1)
      Object.assign(n, { driver: 'uio_pci_generic', ifname: null, mac: null, operstate: null });
  return g;
}

/** dpdk0 bound to uio_pci_generic with a driverctl override, recorded as taken from ixgbe. */
function overriddenOnUio(): Facts {
  const f = bound(
    r630().command('driverctl').output(DRIVERCTL_OUTPUT, `${R630_PORTS.dpdk0} uio_pci_generic\n`).build(),
  );
  f.files[NIC_STATE] = {
    exists: true,
    sha256: null,
    mode: '0644',
    content: JSON.stringify({
      nics: {
        [R630_PORTS.dpdk0]: { name: 'dpdk0', driver: 'ixgbe', ifname: null, mac: null, operstate: null },
      },
    }),
  };
  return f;
}

describe('nic-binding planner', () => {
  it('records drivers, downs the interface and binds each NIC with dpdk-devbind (disruptive, reversible)', () => {
    const f = r630().build();
    const { changes, projected } = nicBindingTask.plan(planContext(host, f));
    expect(changes.map((c) => c.id)).toEqual([
      'nic-binding/persist',
      'nic-binding/dpdk0',
      'nic-binding/dpdk1',
    ]);
    const b0 = changes[1]!;
    expect([b0.disruptive, b0.reversible]).toEqual([true, true]);
    const state = b0.steps.find((s) => s.kind === 'write');
    expect(state?.kind === 'write' && state.path).toBe(NIC_STATE);
    const rec = JSON.parse(state?.kind === 'write' ? state.content : '{}');
    expect(rec.nics[R630_PORTS.dpdk0]).toMatchObject({ name: 'dpdk0', driver: 'ixgbe', ifname: 'enp1s0f0' });
    const cmd = execs(f);
    expect(cmd).toContain('ip link set dev enp1s0f0 down');
    expect(cmd).toContain(
      `/opt/dpvs-deploy/dpdk/20.11.10/src/dpdk-stable-20.11.10/usertools/dpdk-devbind.py -b uio_pci_generic ${R630_PORTS.dpdk0}`,
    );
    expect(cmd).not.toContain('--force');
    expect(cmd).toContain(`/sys/bus/pci/devices/${R630_PORTS.dpdk0}/driver_override`);
    expect(projected?.nics.find((n) => n.pci === R630_PORTS.dpdk0)?.driver).toBe('uio_pci_generic');
  });

  it('persists with a oneshot unit before network-pre.target, or driverctl when present', () => {
    const f = r630().build();
    const persist = nicBindingTask.plan(planContext(host, f)).changes[0]!;
    const unit = persist.steps.find((s) => s.kind === 'write' && s.path === BIND_UNIT_PATH);
    expect(unit?.kind === 'write' && unit.content).toContain('Before=network-pre.target');
    expect(unit?.kind === 'write' && unit.content).toContain(`ExecStart=${BIND_SCRIPT}`);
    const withCtl = r630().command('driverctl', '/usr/sbin/driverctl').build();
    // without --noprobe: driverctl unbinds before it writes the override, and only its probe binds the
    // device again (test/fixtures/upstream/driverctl/set-override.yaml)
    expect(execs(withCtl)).toContain(`driverctl set-override ${R630_PORTS.dpdk0} uio_pci_generic`);
    expect(execs(withCtl)).not.toContain('--noprobe');
  });

  it('plans nothing when bound and persisted; verify reports a NIC left on its kernel driver', () => {
    const f = bound(r630().build());
    const spec = dpdkSpec(host, onControl('/work'))!;
    f.files[BIND_SCRIPT] = {
      exists: true,
      sha256: null,
      mode: '0755',
      content: renderBindScript(spec, [R630_PORTS.dpdk0, R630_PORTS.dpdk1]),
    };
    f.files[BIND_UNIT_PATH] = { exists: true, sha256: null, mode: '0644', content: renderBindUnit() };
    f.services[BIND_UNIT] = { active: true, enabled: true, unitExists: true };
    f.files[NIC_STATE] = {
      exists: true,
      sha256: null,
      mode: '0644',
      content: JSON.stringify({
        nics: {
          [R630_PORTS.dpdk0]: {
            name: 'dpdk0',
            driver: 'ixgbe',
            ifname: 'enp1s0f0',
            mac: null,
            operstate: 'up',
          },
          [R630_PORTS.dpdk1]: {
            name: 'dpdk1',
            driver: 'ixgbe',
            ifname: 'enp130s0f0',
            mac: null,
            operstate: 'down',
          },
        },
      }),
    };
    expect(nicBindingTask.plan(planContext(host, f)).changes).toEqual([]);
    expect(nicBindingTask.verify!(planContext(host, f))).toEqual([]);
    const refused = structuredClone(f);
    refused.nics.find((n) => n.pci === R630_PORTS.dpdk1)!.driver = 'ixgbe';
    expect(nicBindingTask.verify!(planContext(host, refused))[0]).toContain(
      'is on ixgbe, expected uio_pci_generic',
    );

    // rollback: back to the recorded drivers, interface up when it was up, persistence removed
    const rb = nicBindingTask.rollback!(planContext(host, f)).changes;
    expect(rb.map((c) => c.id)).toEqual([
      'nic-binding/restore/dpdk0',
      'nic-binding/restore/dpdk1',
      'nic-binding/rollback-persist',
    ]);
    // dpvs goes down before its ports do
    const stop = rb[0]!.steps[0];
    expect(stop?.kind === 'exec' && stop.command).toBe(STOP_DPVS_IF_ACTIVE);
    expect(rb[1]!.steps.map((s) => (s.kind === 'exec' ? s.command : ''))).not.toContain(STOP_DPVS_IF_ACTIVE);
    const r0 = rb[0]!.steps[1];
    expect(r0?.kind === 'exec' && r0.command).toContain(
      `echo ${R630_PORTS.dpdk0} > /sys/bus/pci/drivers/ixgbe/bind`,
    );
    expect(r0?.kind === 'exec' && r0.command).toContain('ip link set dev enp1s0f0 up');
    const r1 = rb[1]!.steps[0];
    expect(r1?.kind === 'exec' && r1.command).not.toContain('ip link set dev enp130s0f0 up');
    const cleanup = rb[2]!.steps.map((s) => (s.kind === 'exec' ? s.command : '')).join('\n');
    expect(cleanup).toContain(`rm -f ${BIND_UNIT_PATH} ${BIND_SCRIPT}`);
    expect(cleanup).toContain(`rm -f ${NIC_STATE}`);
  });

  it('refuses the management NIC and never binds a Mellanox port', () => {
    const f = r630()
      .nic({ pci: '0000:05:00.0', vendorId: '15b3', deviceId: '1017', driver: 'mlx5_core' })
      .build();
    const mgmt = r630Host({
      nics: [
        { name: 'dpdk0', match: { pci: '0000:03:00.0' } },
        { name: 'dpdk1', match: { pci: '0000:05:00.0' } },
      ],
    });
    const { changes } = nicBindingTask.plan(planContext(mgmt, f));
    expect(changes.map((c) => c.id)).toEqual(['nic-binding/dpdk0']);
    expect(changes[0]!.summary).toContain('refusing to bind dpdk0');
    expect(changes[0]!.summary).toContain('this SSH session');
  });

  it('reads driverctl overrides for rollback', () => {
    const f = overriddenOnUio();
    const rb = nicBindingTask.rollback!(planContext(host, f)).changes;
    expect(
      rb
        .at(-1)!
        .steps.map((s) => (s.kind === 'exec' ? s.command : ''))
        .join('\n'),
    ).toContain(`driverctl unset-override ${R630_PORTS.dpdk0}`);
    expect(rb.flatMap((c) => c.steps).some((s) => s.kind === 'exec' && s.command.includes('--noprobe'))).toBe(
      false,
    );
  });
});

describe('driverctl as its source says it behaves (test/fixtures/upstream/driverctl/set-override.yaml)', () => {
  interface Sample {
    id: string;
    run: string;
    after: { driver: string | null };
  }
  const samples = (
    parse(
      readFileSync(new URL('../../fixtures/upstream/driverctl/set-override.yaml', import.meta.url), 'utf8'),
    ) as { samples: Sample[] }
  ).samples;
  /** The sample whose command is `cmd` for the sample device, the tool's device put in its place. */
  const sampleFor = (cmd: string, pci: string): Sample | undefined =>
    samples.find((x) => x.run.replace('0000:04:00.0', pci) === cmd.replace(/'/g, ''));

  it('the persist command leaves the port on the DPDK driver, and rollback leaves it on its kernel driver', () => {
    const f = r630().command('driverctl', '/usr/sbin/driverctl').build();
    const persist = nicBindingTask
      .plan(planContext(host, f))
      .changes.find((c) => c.id === 'nic-binding/persist');
    const cmds = persist?.steps.flatMap((s) => (s.kind === 'exec' ? [s.command] : [])) ?? [];
    expect(cmds.length).toBe(2);
    for (const c of cmds) {
      const pci = /set-override '?([0-9a-f:.]+)/.exec(c)?.[1] ?? '';
      expect(sampleFor(c, pci)?.after.driver, c).toBe('uio_pci_generic');
    }
    expect(persist?.disruptive).toBe(true);

    const g = overriddenOnUio();
    const unset = nicBindingTask.rollback!(planContext(host, g))
      .changes.flatMap((c) => c.steps)
      .flatMap((s) => (s.kind === 'exec' && s.command.startsWith('driverctl') ? [s.command] : []));
    expect(unset).toHaveLength(1);
    expect(sampleFor(unset[0]!, R630_PORTS.dpdk0)?.after.driver).toBe('ixgbe');
  });
});
