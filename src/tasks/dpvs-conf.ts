/**
 * dpvs-conf: /etc/dpvs.conf (or dpvs.config_path) from the inventory and the host's facts (src/dpvsconf),
 * compared with the file on the host; the plan shows a unified diff. Written atomically, the previous
 * copy kept (put's .dpvs-deploy.bak) for rollback. dpvs reads it at start: the restart is dpvs-service's.
 */
import { parseDpvsConf, renderDpvsConf } from '../dpvsconf/index.js';
import type { ResolvedHost } from '../inventory/types.js';
import { managedFile, restoreKeptCopy } from '../plan/ops/managed-file.js';
import { desiredConf, sha256 } from './dpvs/desired-conf.js';
import { confBackupPath, restartSteps, rollbackNeeds } from './dpvs/rollback.js';
import { DPVS_UNIT, dpvsActive, isBalancer, layoutOf } from './dpvs/settings.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

export const DPVS_CONF_TASK = 'dpvs-conf';

/** "formatting only" when the file on the host means the same as the wanted one. */
function sameSettings(current: string, wanted: string): boolean {
  try {
    return renderDpvsConf(parseDpvsConf(current)) === renderDpvsConf(parseDpvsConf(wanted));
  } catch {
    return false;
  }
}

export const dpvsConfTask: Task = {
  name: DPVS_CONF_TASK,
  probe(host: ResolvedHost) {
    if (!isBalancer(host)) return {};
    const l = layoutOf(host);
    return { files: [l.confPath, confBackupPath(l.confPath)], services: [DPVS_UNIT] };
  },

  plan(ctx: PlanContext): TaskPlan {
    const { host, facts } = ctx;
    if (!isBalancer(host)) return { changes: [] };
    const l = layoutOf(host);
    const want = desiredConf(host, facts);
    const cur = facts.files[l.confPath];
    const before = cur?.exists ? (cur.content ?? '') : null;
    const note =
      before !== null && sameSettings(before, want.text) ? ' (formatting only, same settings)' : '';
    const change = managedFile({
      task: DPVS_CONF_TASK,
      id: 'dpvs-conf/file',
      path: l.confPath,
      content: want.text,
      mode: 0o644,
      current: cur,
      ...(before !== want.text
        ? {
            summary:
              `${l.confPath}: ${before === null ? 'create' : 'update'} for DPVS ${host.dpvs?.version ?? ''}`.trimEnd() +
              note,
          }
        : {}),
      reversible: before !== null,
      disruptive: dpvsActive(facts),
    });
    if (!change) return { changes: [] };
    const projected = structuredClone(facts);
    projected.files[l.confPath] = { exists: true, sha256: want.sha256, mode: '0644', content: want.text };
    if (before !== null)
      projected.files[confBackupPath(l.confPath)] = {
        exists: true,
        sha256: sha256(before),
        mode: cur?.mode ?? '0644',
        content: before,
      };
    return { changes: [change], projected };
  },

  rollback(ctx: PlanContext): TaskPlan {
    const { host, facts } = ctx;
    if (!isBalancer(host)) return { changes: [] };
    const l = layoutOf(host);
    const needs = rollbackNeeds(ctx);
    if (!needs.conf) return { changes: [] };
    // dpvs-build's rollback (after this one) restarts dpvs when it switches the release too
    const restart = dpvsActive(facts) && !needs.release;
    const change = restoreKeptCopy({
      task: DPVS_CONF_TASK,
      id: 'dpvs-conf/rollback',
      path: l.confPath,
      current: facts.files[l.confPath],
      kept: facts.files[confBackupPath(l.confPath)],
      summary: `${l.confPath}: restore the previous copy (${confBackupPath(l.confPath)})${restart ? ', restart dpvs' : ''}`,
      then: restart ? restartSteps(ctx) : [],
      disruptive: dpvsActive(facts),
    });
    return { changes: change ? [change] : [] };
  },
};
