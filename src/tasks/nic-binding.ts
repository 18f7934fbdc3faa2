/**
 * nic-binding: bind each inventory NIC to the userspace driver with the installed DPDK's
 * usertools/dpdk-devbind.py (never --force), after recording its kernel driver and interface in a state
 * file and bringing the interface down. dpdk-devbind exits 0 even when it refuses an active NIC, so the
 * step re-reads the device's driver link; after a failed bind it clears driver_override (a stale
 * override, typically vfio-pci, keeps the kernel driver off the device) and puts the device back on
 * its kernel driver. Persisted with driverctl set-override when the host has driverctl, else with a
 * oneshot unit (dpvs-deploy-bind.service, Before=network-pre.target) running /etc/dpvs-deploy/bind-nics.sh.
 *
 * driverctl is run WITHOUT --noprobe: its set-override and unset-override always unbind the device
 * first, and --noprobe only skips the re-probe after writing driver_override, so with it the device
 * is left on no driver (Debian's driverctl 0.111-1, test/fixtures/upstream/driverctl/set-override.yaml).
 * With the probe, set-override puts the device back on the driver it names and fails when it cannot;
 * unset-override puts it back on the driver the kernel picks.
 *
 * Never bound: the NIC carrying this SSH session or the default route (refused with an error), and
 * Mellanox ports (vendor 15b3): DPDK's mlx5 PMD works on top of mlx5_core (bifurcated driver).
 * Rollback puts every recorded NIC back on its recorded driver and removes the persistence.
 */
import type { Facts, NicFacts } from '../facts/types.js';
import { driverOverrides } from '../facts/reads/driver-overrides.js';
import type { NicSettings } from '../inventory/schema.js';
import type { Change, Step } from '../plan/change.js';
import { fileWriteSteps, projectedFile } from '../plan/ops/managed-file.js';
import { renderUnit, systemdUnit, type UnitFile } from '../plan/ops/systemd-unit.js';
import { describeNic, matchNic, resolved } from '../desired/nic-match.js';
import { sh } from '../transport/quote.js';
import { failStep } from './dpdk/fail.js';
import { dpdkSpec, type DpdkSpec } from './dpdk/spec.js';
import { ETC_DIR, STATE_DIR } from '../desired/layout.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

/** Rollback of the bindings: dpvs goes down before its ports do (a no-op where dpvs is not running). */
export const STOP_DPVS_IF_ACTIVE =
  'if systemctl is-active --quiet dpvs 2>/dev/null; then systemctl stop dpvs; fi';

const TASK = 'nic-binding';
export const NIC_STATE = `${STATE_DIR}/nic-binding.json`;
export const BIND_SCRIPT = `${ETC_DIR}/bind-nics.sh`;
export const BIND_UNIT = 'dpvs-deploy-bind';
export const BIND_UNIT_PATH = `/etc/systemd/system/${BIND_UNIT}.service`;
/** the raw reading's key (tests) */
export const DRIVERCTL_OUTPUT = driverOverrides.keys[0] as string;
const MELLANOX = '15b3';

export interface RecordedNic {
  name: string;
  driver: string | null;
  ifname: string | null;
  mac: string | null;
  operstate: string | null;
}

export interface NicState {
  nics: Record<string, RecordedNic>;
}

export function parseNicState(facts: Facts): NicState | null {
  const f = facts.files[NIC_STATE];
  if (!f?.exists || !f.content) return null;
  try {
    const s = JSON.parse(f.content) as Partial<NicState>;
    return s && typeof s.nics === 'object' && s.nics ? { nics: s.nics } : null;
  } catch {
    return null;
  }
}

export type NicTarget =
  | { kind: 'bind'; nic: NicSettings; dev: NicFacts }
  | { kind: 'skip'; nic: NicSettings; dev: NicFacts; reason: string }
  | { kind: 'refuse'; nic: NicSettings; dev: NicFacts | null; reason: string };

/** Resolve the inventory NICs against facts (and, for NICs already bound, the recorded state). */
export function nicTargets(nics: readonly NicSettings[], facts: Facts): NicTarget[] {
  const state = parseNicState(facts);
  return nics.map((nic): NicTarget => {
    const r = matchNic(nic, facts.nics);
    let dev = resolved(r);
    if (!dev && state) {
      const pci = Object.entries(state.nics).find(([, v]) => v.name === nic.name)?.[0];
      dev = facts.nics.find((n) => n.pci === pci) ?? null;
    }
    if (!dev) {
      const why = r.conflicts.length
        ? `its matchers disagree: ${r.conflicts.join('; ')}`
        : r.candidates.length + r.unresolved.length > 1
          ? `it matches ${r.candidates.length + r.unresolved.length} NICs`
          : 'no NIC on the host matches';
      return { kind: 'refuse', nic, dev: null, reason: `NIC ${nic.name}: ${why}` };
    }
    if (dev.carriesSsh || dev.defaultRoute)
      return {
        kind: 'refuse',
        nic,
        dev,
        reason: `refusing to bind ${nic.name} = ${describeNic(dev)}: it carries ${dev.carriesSsh ? 'this SSH session' : 'the default route'}`,
      };
    if (dev.vendorId.toLowerCase() === MELLANOX)
      return {
        kind: 'skip',
        nic,
        dev,
        reason: 'Mellanox port: stays on mlx5_core (bifurcated driver)',
      };
    return { kind: 'bind', nic, dev };
  });
}

function bindScript(spec: DpdkSpec, dev: NicFacts, ifname: string | null): string {
  const d = `/sys/bus/pci/devices/${dev.pci}`;
  const drv = spec.driver;
  const lines = [
    sh`[ -x ${spec.devbind} ] || { printf '%s\n' ${`${spec.devbind} is missing: is DPDK ${spec.version} built?`} >&2; exit 1; }`,
  ];
  if (ifname)
    lines.push(sh`if ip link show dev ${ifname} >/dev/null 2>&1; then ip link set dev ${ifname} down; fi`);
  lines.push(
    sh`${spec.devbind} -b ${drv} ${dev.pci}; rc=$?`,
    sh`cur=$(readlink ${`${d}/driver`} 2>/dev/null); cur=\${cur##*/}`,
    sh`if [ "$cur" != ${drv} ]; then`,
    sh`  printf '\n' > ${`${d}/driver_override`} 2>/dev/null`,
  );
  if (dev.driver)
    lines.push(
      sh`  if [ -z "$cur" ]; then echo ${dev.pci} > ${`/sys/bus/pci/drivers/${dev.driver}/bind`} 2>/dev/null; fi`,
    );
  lines.push(
    sh`  printf '%s\n' ${`binding ${dev.pci}${ifname ? ` (${ifname})` : ''} to ${drv} failed: it is on `}"\${cur:-no driver}"${` (dpdk-devbind exit `}"$rc"${'; it refuses interfaces that have addresses or routes)'} >&2`,
    '  exit 1',
    'fi',
  );
  return lines.join('\n');
}

export function renderBindScript(spec: DpdkSpec, pcis: string[]): string {
  return [
    '#!/bin/sh',
    '# managed by dpvs-deploy: bind the DPDK NICs at boot, before the network is configured',
    'set -u',
    `DEVBIND=${sh`${spec.devbind}`}`,
    'rc=0',
    'bind() {',
    '  pci=$1; drv=$2; dev=/sys/bus/pci/devices/$pci',
    '  modprobe "$drv" 2>/dev/null',
    '  cur=$(readlink "$dev/driver" 2>/dev/null); cur=${cur##*/}',
    '  [ "$cur" = "$drv" ] && return 0',
    '  for n in "$dev"/net/*; do [ -e "$n" ] && ip link set dev "${n##*/}" down 2>/dev/null; done',
    '  "$DEVBIND" -b "$drv" "$pci"',
    '  cur=$(readlink "$dev/driver" 2>/dev/null); cur=${cur##*/}',
    '  if [ "$cur" != "$drv" ]; then printf \'\\n\' > "$dev/driver_override" 2>/dev/null; echo "dpvs-deploy: $pci is on ${cur:-no driver}, not $drv" >&2; rc=1; fi',
    '}',
    ...pcis.map((p) => sh`bind ${p} ${spec.driver}`),
    'exit $rc',
    '',
  ].join('\n');
}

export function bindUnit(): UnitFile {
  return {
    comments: ['managed by dpvs-deploy'],
    sections: [
      [
        'Unit',
        [
          ['Description', 'Bind DPDK NICs to their userspace driver (dpvs-deploy)'],
          ['DefaultDependencies', 'no'],
          ['After', ['local-fs.target', 'systemd-modules-load.service']],
          ['Before', ['network-pre.target', 'dpvs.service']],
          ['Wants', ['network-pre.target']],
        ],
      ],
      [
        'Service',
        [
          ['Type', 'oneshot'],
          ['RemainAfterExit', 'yes'],
          ['ExecStart', { exec: [BIND_SCRIPT] }],
        ],
      ],
      ['Install', [['WantedBy', ['multi-user.target']]]],
    ],
  };
}

export function renderBindUnit(): string {
  return renderUnit(bindUnit());
}

/** pci -> the driver it is bound to (null: unbound), for each device driverctl has an override for. */
export function driverctlOverrides(facts: Facts): Map<string, string | null> {
  return new Map(Object.entries(driverOverrides.read(facts)));
}

function hasDriverctl(facts: Facts): boolean {
  return !!facts.commands['driverctl'];
}

export const nicBindingTask: Task = {
  name: TASK,
  probe(host, inventory) {
    if (!dpdkSpec(host, inventory)) return {};
    return {
      files: [NIC_STATE, BIND_SCRIPT, BIND_UNIT_PATH],
      services: [BIND_UNIT],
      commands: ['driverctl'],
      ...driverOverrides.request(),
    };
  },

  plan(ctx: PlanContext): TaskPlan {
    const spec = dpdkSpec(ctx.host, ctx.inventory);
    if (!spec || !ctx.host.nics?.length) return { changes: [] };
    const { facts } = ctx;
    const targets = nicTargets(ctx.host.nics, facts);
    const changes: Change[] = [];
    const projected = structuredClone(facts);
    const state: NicState = parseNicState(facts) ?? { nics: {} };
    let stateChanged = false;

    for (const t of targets) {
      if (t.kind === 'refuse') {
        changes.push({
          id: `${TASK}/${t.nic.name}`,
          task: TASK,
          summary: t.reason,
          action: 'run',
          steps: [failStep(t.reason)],
        });
        continue;
      }
      if (t.kind === 'skip' || t.dev.driver === spec.driver) continue;
      const dev = t.dev;
      if (!state.nics[dev.pci]) {
        state.nics[dev.pci] = {
          name: t.nic.name,
          driver: dev.driver,
          ifname: dev.ifname,
          mac: dev.mac,
          operstate: dev.operstate,
        };
        stateChanged = true;
      }
      changes.push({
        id: `${TASK}/${t.nic.name}`,
        task: TASK,
        summary: `bind ${t.nic.name} = ${describeNic(dev)} to ${spec.driver}${dev.ifname ? ` (${dev.ifname} down)` : ''}`,
        action: 'update',
        before: dev.driver ?? '(no driver)',
        after: spec.driver,
        disruptive: true,
        reversible: true,
        steps: [{ kind: 'exec', command: bindScript(spec, dev, dev.ifname) }],
      });
      const p = projected.nics.find((n) => n.pci === dev.pci);
      if (p)
        Object.assign(p, { driver: spec.driver, ifname: null, mac: null, operstate: null, active: false });
    }

    if (stateChanged) {
      const content = JSON.stringify(state, null, 2) + '\n';
      const first = changes.find((c) => c.disruptive);
      const file = { path: NIC_STATE, content, mode: 0o644, current: facts.files[NIC_STATE] };
      first?.steps.unshift(...fileWriteSteps([file]));
      projected.files[NIC_STATE] = projectedFile(file);
    }

    // persistence: every NIC we manage, bound now or already
    const managed = targets.filter((t): t is Extract<NicTarget, { kind: 'bind' }> => t.kind === 'bind');
    if (managed.length)
      changes.unshift(
        ...persistChanges(
          spec,
          facts,
          managed.map((t) => t.dev.pci),
        ),
      );
    return { changes, projected };
  },

  verify(ctx: PlanContext): string[] {
    const spec = dpdkSpec(ctx.host, ctx.inventory);
    if (!spec || !ctx.host.nics?.length) return [];
    const problems: string[] = [];
    for (const t of nicTargets(ctx.host.nics, ctx.facts)) {
      if (t.kind === 'refuse') problems.push(t.reason);
      else if (t.kind === 'bind' && t.dev.driver !== spec.driver)
        problems.push(
          `${t.nic.name} (${t.dev.pci}) is on ${t.dev.driver ?? 'no driver'}, expected ${spec.driver} (dpdk-devbind refuses an interface with addresses or routes)`,
        );
    }
    const pcis = nicTargets(ctx.host.nics, ctx.facts).flatMap((t) => (t.kind === 'bind' ? [t.dev.pci] : []));
    for (const c of persistChanges(spec, ctx.facts, pcis)) problems.push(`not persisted: ${c.summary}`);
    return problems;
  },

  rollback(ctx: PlanContext): TaskPlan {
    const { facts } = ctx;
    const state = parseNicState(facts);
    const changes: Change[] = [];
    if (state) {
      for (const [pci, rec] of Object.entries(state.nics)) {
        const dev = facts.nics.find((n) => n.pci === pci);
        if (!dev || dev.driver === rec.driver) continue;
        changes.push({
          id: `${TASK}/restore/${rec.name}`,
          task: TASK,
          summary: `put ${rec.name} (${pci}) back on ${rec.driver ?? 'no driver'}${rec.ifname ? ` as ${rec.ifname}` : ''} (now ${dev.driver ?? 'no driver'})`,
          action: 'update',
          before: dev.driver ?? '(no driver)',
          after: rec.driver ?? '(no driver)',
          disruptive: true,
          steps: [{ kind: 'exec', command: restoreScript(pci, rec) }],
        });
      }
    }
    // dpvs cannot keep running on ports that go back to the kernel: stop it first (when it runs)
    const first = changes[0];
    if (first) {
      first.summary += '; stops dpvs first if it runs';
      first.steps.unshift({ kind: 'exec', command: STOP_DPVS_IF_ACTIVE });
    }
    const cleanup: Step[] = [];
    const what: string[] = [];
    if (facts.files[BIND_UNIT_PATH]?.exists || facts.files[BIND_SCRIPT]?.exists) {
      cleanup.push({
        kind: 'exec',
        command: sh`systemctl disable ${BIND_UNIT} >/dev/null 2>&1; rm -f ${BIND_UNIT_PATH} ${BIND_SCRIPT} && systemctl daemon-reload`,
      });
      what.push(`remove ${BIND_UNIT_PATH} and ${BIND_SCRIPT}`);
    }
    const overrides = driverctlOverrides(facts);
    for (const pci of Object.keys(state?.nics ?? {}))
      if (overrides.has(pci)) {
        // with the probe: the device ends on the driver the kernel picks (its kernel driver), not on none
        cleanup.push({ kind: 'exec', command: sh`driverctl unset-override ${pci}` });
        what.push(`driverctl unset-override ${pci}`);
      }
    if (facts.files[NIC_STATE]?.exists) {
      cleanup.push({ kind: 'exec', command: sh`rm -f ${NIC_STATE}` });
      what.push(`forget ${NIC_STATE}`);
    }
    if (cleanup.length)
      changes.push({
        id: `${TASK}/rollback-persist`,
        task: TASK,
        summary: what.join('; '),
        action: 'delete',
        steps: cleanup,
      });
    return { changes };
  },
};

function persistChanges(spec: DpdkSpec, facts: Facts, pcis: string[]): Change[] {
  if (!pcis.length) return [];
  if (hasDriverctl(facts)) {
    const o = driverctlOverrides(facts);
    const missing = pcis.filter((p) => o.get(p) !== spec.driver);
    if (!missing.length) return [];
    return [
      {
        id: `${TASK}/persist`,
        task: TASK,
        summary: `persist across reboot: driverctl set-override ${missing.join(', ')} → ${spec.driver} (driverctl unbinds each and binds it again)`,
        action: 'create',
        reversible: true,
        // driverctl unbinds the device before it writes the override, whatever the flags: without
        // --noprobe it binds it again to spec.driver (and fails when it cannot), so the port is back
        disruptive: true,
        steps: missing.map((p) => ({
          kind: 'exec' as const,
          command: sh`driverctl set-override ${p} ${spec.driver}`,
        })),
      },
    ];
  }
  const script = renderBindScript(spec, pcis);
  const persist = systemdUnit({
    task: TASK,
    id: `${TASK}/persist`,
    name: BIND_UNIT,
    path: BIND_UNIT_PATH,
    unit: bindUnit(),
    facts,
    with: [{ path: BIND_SCRIPT, content: script, mode: 0o755, current: facts.files[BIND_SCRIPT] }],
    summary: `persist across reboot: ${BIND_UNIT}.service runs ${BIND_SCRIPT} before network-pre.target (${pcis.join(', ')} → ${spec.driver})`,
  });
  return persist ? [persist] : [];
}

function restoreScript(pci: string, rec: RecordedNic): string {
  const d = `/sys/bus/pci/devices/${pci}`;
  const lines = [
    sh`if [ -e ${`${d}/driver`} ]; then echo ${pci} > ${`${d}/driver/unbind`}; fi`,
    sh`printf '\n' > ${`${d}/driver_override`} 2>/dev/null || true`,
  ];
  if (rec.driver) {
    lines.push(
      sh`modprobe ${rec.driver} 2>/dev/null; echo ${pci} > ${`/sys/bus/pci/drivers/${rec.driver}/bind`} 2>/dev/null || echo ${pci} > /sys/bus/pci/drivers_probe`,
      sh`cur=$(readlink ${`${d}/driver`} 2>/dev/null); [ "\${cur##*/}" = ${rec.driver} ] || { printf '%s\n' ${`${pci} did not go back to ${rec.driver}`}" (on \${cur##*/})" >&2; exit 1; }`,
    );
  }
  if (rec.ifname && rec.operstate === 'up')
    lines.push(
      sh`for i in 1 2 3 4 5 6 7 8 9 10; do if ip link show dev ${rec.ifname} >/dev/null 2>&1; then ip link set dev ${rec.ifname} up; break; fi; sleep 0.5; done`,
    );
  return lines.join('\n');
}
