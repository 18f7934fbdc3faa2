/**
 * dpvs-service: the dpvs systemd unit (src/tasks/dpvs/unit.ts: dpvs in the foreground with -c/-p/-x and EAL
 * args whose -a order is the device blocks' order, LimitNOFILE, restart policy, ExecStartPost the restore
 * script), the keepalived unit bound to it (After/Requires/PartOf: restarted whenever dpvs restarts),
 * daemon-reload, enable, and a (re)start only when the release, dpvs.conf or the unit differ from what
 * dpvs last started with (the running-state record). Every (re)start is disruptive and passes a health
 * gate; on failure the gate prints the dpvs log and, with rollout.rollback_on_health_failure, puts the
 * host back on its previous release and config.
 */
import { ealArgs } from '../dpvsconf/index.js';
import type { Facts } from '../facts/types.js';
import type { ResolvedHost } from '../inventory/types.js';
import { RESTORE_SCRIPT_PATH } from '../lb/current.js';
import { keepalivedEnabled } from '../lb/desired.js';
import { KEEPALIVED_CONF_PATH } from '../lb/keepalived.js';
import type { Change } from '../plan/change.js';
import { managedFile, projectedFile } from '../plan/ops/managed-file.js';
import { systemdUnit } from '../plan/ops/systemd-unit.js';
import { desiredConf, sha256 } from './dpvs/desired-conf.js';
import { onFailureCommand } from './dpvs/health.js';
import { releaseOf } from './dpvs/release.js';
import { restartSteps } from './dpvs/restart.js';
import { renderDpvsUnit, renderKeepalivedUnit } from './dpvs/unit.js';
import {
  DPVS_UNIT,
  DPVS_UNIT_PATH,
  dpvsActive,
  isBalancer,
  KEEPALIVED_UNIT_PATH,
  layoutOf,
  pairingOf,
  rollbackOnHealthFailure,
  startTimeoutS,
} from './dpvs/settings.js';
import { parseRunningState, RUNNING_STATE, type RunningState } from './dpvs/state.js';
import { DEFAULT_NOFILE } from './nofile.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

export const DPVS_SERVICE_TASK = 'dpvs-service';
const KEEPALIVED_UNIT_NAME = 'keepalived';

/** Installed until dpvs-network writes the real one, so ExecStartPost has a script to run. */
export const RESTORE_PLACEHOLDER =
  '#!/bin/sh\n# managed by dpvs-deploy: placeholder until the dpvs-network task writes the restore script\nexit 0\n';

export function renderUnits(host: ResolvedHost, facts: Facts): { dpvs: string; keepalived: string | null } {
  const l = layoutOf(host);
  const conf = desiredConf(host, facts);
  const { dpdkVersion } = pairingOf(host);
  const dpvs = renderDpvsUnit({
    dpvsBinary: `${l.bin}/dpvs`,
    confPath: l.confPath,
    pidFile: l.pidFile,
    ipcFile: l.ipcFile,
    fileOptions: l.fileOptions,
    ipcEnv: l.ipcEnv,
    ealArgs: ealArgs({ dpdkVersion, pcis: conf.pcis, lcores: conf.lcores, mainLcore: conf.mainLcore }),
    nofile: host.nofile ?? DEFAULT_NOFILE,
    restoreScript: RESTORE_SCRIPT_PATH,
    startTimeoutS: startTimeoutS(host),
  });
  const keepalived = keepalivedEnabled(host)
    ? renderKeepalivedUnit({
        keepalivedBinary: `${l.bin}/keepalived`,
        confPath: KEEPALIVED_CONF_PATH,
        ipcFile: l.ipcFile,
        ipcEnv: l.ipcEnv,
        waitTimeoutS: startTimeoutS(host),
      })
    : null;
  return { dpvs, keepalived };
}

/** What dpvs would run with after this plan: the release, config and unit it must have started with. */
export function wantedState(ctx: PlanContext): RunningState {
  const units = renderUnits(ctx.host, ctx.facts);
  return {
    release: releaseOf(ctx.host, ctx.inventory).id,
    confSha256: desiredConf(ctx.host, ctx.facts).sha256,
    unitSha256: sha256(units.dpvs),
  };
}

/** Why dpvs must restart: what differs between the record of its last start and what is wanted. */
export function restartReasons(running: RunningState | null, wanted: RunningState): string[] {
  if (!running) return ['no record of what the running dpvs started with'];
  const out: string[] = [];
  if (running.release !== wanted.release) out.push(`release ${running.release} → ${wanted.release}`);
  if (running.confSha256 !== wanted.confSha256) out.push('dpvs.conf changed');
  if (running.unitSha256 !== wanted.unitSha256) out.push('dpvs unit changed');
  return out;
}

/** A unit file: written when it differs, then daemon-reload (and enable, for dpvs when it is not). */
function unitChange(
  id: string,
  name: string,
  path: string,
  content: string,
  facts: Facts,
  enable: boolean,
  disruptive: boolean,
): Change | null {
  return systemdUnit({
    task: DPVS_SERVICE_TASK,
    id,
    name,
    path,
    unit: content,
    facts,
    enable,
    disruptive,
    reversible: false,
  });
}

export const dpvsServiceTask: Task = {
  name: DPVS_SERVICE_TASK,
  probe(host: ResolvedHost) {
    if (!isBalancer(host)) return {};
    return {
      files: [DPVS_UNIT_PATH, KEEPALIVED_UNIT_PATH, RUNNING_STATE, RESTORE_SCRIPT_PATH],
      services: [DPVS_UNIT],
      processes: ['dpvs'],
    };
  },

  plan(ctx: PlanContext): TaskPlan {
    const { host, facts, inventory } = ctx;
    if (!isBalancer(host)) return { changes: [] };
    const l = layoutOf(host);
    const active = dpvsActive(facts);
    const units = renderUnits(host, facts);
    const changes: Change[] = [];
    const projected = structuredClone(facts);

    const unit = unitChange('dpvs-service/unit', DPVS_UNIT, DPVS_UNIT_PATH, units.dpvs, facts, true, active);
    if (unit) changes.push(unit);
    if (units.keepalived !== null) {
      const k = unitChange(
        'dpvs-service/keepalived-unit',
        KEEPALIVED_UNIT_NAME,
        KEEPALIVED_UNIT_PATH,
        units.keepalived,
        facts,
        false,
        active,
      );
      if (k) changes.push(k);
    }
    if (!facts.files[RESTORE_SCRIPT_PATH]?.exists) {
      const placeholder = { path: RESTORE_SCRIPT_PATH, content: RESTORE_PLACEHOLDER, mode: 0o755 };
      const c = managedFile({
        task: DPVS_SERVICE_TASK,
        id: 'dpvs-service/restore-placeholder',
        ...placeholder,
        current: facts.files[RESTORE_SCRIPT_PATH],
        summary: `${RESTORE_SCRIPT_PATH}: placeholder until dpvs-network writes it (ExecStartPost runs it)`,
        reversible: false,
      });
      if (c) changes.push(c);
      projected.files[RESTORE_SCRIPT_PATH] = {
        ...projectedFile(placeholder),
        sha256: sha256(RESTORE_PLACEHOLDER),
      };
    }

    const wanted = wantedState(ctx);
    const running = parseRunningState(facts.files[RUNNING_STATE]?.content);
    const reasons = active ? restartReasons(running, wanted) : [];
    if (!active || reasons.length) {
      const onFailure = onFailureCommand({
        layout: l,
        ports: (host.nics ?? []).map((n) => n.name),
        timeoutS: startTimeoutS(host),
        previous: running,
        rollback: rollbackOnHealthFailure(inventory),
      });
      changes.push({
        id: active ? 'dpvs-service/restart' : 'dpvs-service/start',
        task: DPVS_SERVICE_TASK,
        summary: active
          ? `restart dpvs (${reasons.join(', ')})${units.keepalived !== null ? '; keepalived restarts with it' : ''}`
          : `start dpvs (release ${wanted.release})`,
        action: 'run',
        disruptive: true,
        steps: restartSteps(host, active ? 'restart' : 'start', onFailure),
      });
      projected.services[DPVS_UNIT] = { active: true, enabled: true, unitExists: true };
      const rec = JSON.stringify(wanted);
      projected.files[RUNNING_STATE] = {
        exists: true,
        sha256: sha256(`${rec}\n`),
        mode: '0644',
        content: `${rec}\n`,
      };
    }
    if (changes.length) {
      projected.files[DPVS_UNIT_PATH] = {
        exists: true,
        sha256: sha256(units.dpvs),
        mode: '0644',
        content: units.dpvs,
      };
      projected.services[DPVS_UNIT] = {
        ...(projected.services[DPVS_UNIT] ?? { active: false, unitExists: true }),
        enabled: true,
        unitExists: true,
      };
      if (units.keepalived !== null)
        projected.files[KEEPALIVED_UNIT_PATH] = {
          exists: true,
          sha256: sha256(units.keepalived),
          mode: '0644',
          content: units.keepalived,
        };
    }
    return { changes, projected: changes.length ? projected : facts };
  },
};
