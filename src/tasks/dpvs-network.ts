/**
 * dpvs-network: DPVS addresses and routes (`dpip addr|route add|del`), reconciled against what dpvs
 * holds now and the record of what dpvs-deploy created (deletes only recorded objects), plus the
 * restore script that re-adds everything after a dpvs restart (ExecStartPost of the dpvs unit).
 *
 * When dpvs is not running yet (an earlier task of this run starts it), the plan is made against an
 * empty dpvs and lists every add. Objects present but neither desired nor recorded are "unmanaged":
 * not touched (unless pruneUnmanaged) and reported by `lbNotes` for `verify`.
 */
import { isBalancer } from '../inventory/roles.js';
import type { ResolvedHost } from '../inventory/types.js';
import type { LoadedInventory } from '../inventory/types.js';
import type { Change } from '../plan/change.js';
import { managedFile } from '../plan/ops/managed-file.js';
import { lbProbe, RESTORE_SCRIPT_PATH } from '../lb/current.js';
import { keepalivedEnabled, keepalivedOwnsServices } from '../lb/desired.js';
import { keepalivedSettings } from '../lb/keepalived.js';
import { emptyState } from '../lb/model.js';
import {
  binsFor,
  lbOptionsFor,
  lbView,
  opsToChanges,
  reconcileView,
  recordChange,
  type LbTaskOptions,
  type LbView,
} from '../lb/plan-support.js';
import { reconcile, type Unmanaged } from '../lb/reconcile.js';
import { renderRestoreScript } from '../lb/restore.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

export const DPVS_NETWORK_TASK = 'dpvs-network';

/** The restore script for this host: addresses and routes, and services unless keepalived owns them. */
export function restoreScriptFor(host: ResolvedHost, view: LbView): string {
  const d = view.desired.state;
  const state = keepalivedOwnsServices(host)
    ? { ...emptyState(), addresses: d.addresses, routes: d.routes }
    : d;
  const k = host.keepalived;
  const opts: Parameters<typeof renderRestoreScript>[1] = {
    bins: view.bins,
    timeoutS: host.dpvs?.start_timeout_s ?? 90,
  };
  if (keepalivedEnabled(host) && k?.kni_address)
    opts.kni = { ifname: keepalivedSettings(host).kniName, address: k.kni_address };
  return renderRestoreScript(state, opts);
}

function restoreChange(ctx: PlanContext, view: LbView): Change | null {
  return managedFile({
    task: DPVS_NETWORK_TASK,
    id: 'lb/restore-script',
    path: RESTORE_SCRIPT_PATH,
    content: restoreScriptFor(ctx.host, view),
    mode: 0o755,
    current: ctx.facts.files?.[RESTORE_SCRIPT_PATH],
    summary: `write ${RESTORE_SCRIPT_PATH} (re-adds LB state after dpvs restarts)`,
  });
}

export function createDpvsNetworkTask(base: LbTaskOptions = {}): Task {
  const optsFor = (host: ResolvedHost): LbTaskOptions => lbOptionsFor(host, base);
  return {
    name: DPVS_NETWORK_TASK,
    probe: (host: ResolvedHost, _inv: LoadedInventory) => lbProbe(binsFor(host)),
    drift(ctx: PlanContext): string[] {
      if (!isBalancer(ctx.host) || optsFor(ctx.host).pruneUnmanaged) return [];
      const notes = lbNotes(ctx);
      if (!notes.dpvsRunning) return [];
      return notes.unmanaged.map(
        (u) =>
          `unmanaged ${u.description}: not in the inventory, left alone (prune_unmanaged: true deletes it)`,
      );
    },
    plan(ctx: PlanContext): TaskPlan {
      if (!isBalancer(ctx.host)) return { changes: [] };
      const view = lbView(ctx);
      const r = reconcileView(view, 'network', optsFor(ctx.host));
      const changes = opsToChanges(DPVS_NETWORK_TASK, r.ops, !view.current.running);
      const restore = restoreChange(ctx, view);
      if (restore) changes.push(restore);
      const rec = recordChange(DPVS_NETWORK_TASK, ctx.facts, view.recordContent, r.record);
      if (rec.change) changes.push(rec.change);
      return { changes, projected: rec.projected };
    },
  };
}

export const dpvsNetworkTask: Task = createDpvsNetworkTask();

/** For `plan`/`verify` output: inventory problems and unmanaged objects on this balancer (no Changes). */
export function lbNotes(ctx: PlanContext): {
  problems: string[];
  unmanaged: Unmanaged[];
  dpvsRunning: boolean;
} {
  const view = lbView(ctx);
  const scope = keepalivedOwnsServices(ctx.host) ? 'network' : 'all';
  const r = reconcile(view.desired.state, view.current.state, view.record, {
    bins: view.bins,
    scope,
    foreignIps: view.vrrpIps,
  });
  return { problems: view.desired.problems, unmanaged: r.unmanaged, dpvsRunning: view.current.running };
}
