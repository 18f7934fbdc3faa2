/**
 * lb-services: virtual services, real servers and FullNAT local addresses through ipvsadm
 * (`-A/-E/-D`, `-a/-e/-d`, `--add-laddr/--del-laddr`), reconciled like dpvs-network: deletes only what
 * the record says dpvs-deploy created; unmanaged services are reported, not touched.
 * Skipped (no changes) when keepalived owns the services (keepalived.owns_services).
 */
import { isBalancer } from '../inventory/roles.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import { lbProbe } from '../lb/current.js';
import { keepalivedOwnsServices } from '../lb/desired.js';
import {
  binsFor,
  lbView,
  opsToChanges,
  lbOptionsFor,
  reconcileView,
  recordChange,
  type LbTaskOptions,
} from '../lb/plan-support.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

export const LB_SERVICES_TASK = 'lb-services';

export function createLbServicesTask(opts: LbTaskOptions = {}): Task {
  return {
    name: LB_SERVICES_TASK,
    probe: (host: ResolvedHost, _inv: LoadedInventory) => lbProbe(binsFor(host)),
    plan(ctx: PlanContext): TaskPlan {
      if (!isBalancer(ctx.host) || keepalivedOwnsServices(ctx.host)) return { changes: [] };
      const view = lbView(ctx);
      const r = reconcileView(view, 'services', lbOptionsFor(ctx.host, opts));
      const changes = opsToChanges(LB_SERVICES_TASK, r.ops, !view.current.running);
      const rec = recordChange(LB_SERVICES_TASK, ctx.facts, view.recordContent, r.record);
      if (rec.change) changes.push(rec.change);
      return { changes, projected: rec.projected };
    },
  };
}

export const lbServicesTask: Task = createLbServicesTask();
