/**
 * nofile: the open-files limit for dpvs. The dpvs unit carries LimitNOFILE (dpvs-service task); this task
 * also sets the limit for root logins (limits.d), which is what the manual procedure's `ulimit -n` gives
 * an operator running dpvs or its tools by hand.
 */
import { isBalancer } from '../inventory/roles.js';
import { managedFile } from '../plan/ops/managed-file.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

export const NOFILE_PATH = '/etc/security/limits.d/90-dpvs-deploy.conf';
export const DEFAULT_NOFILE = 655350;

export function renderLimits(n: number): string {
  return `# managed by dpvs-deploy: open-files limit for dpvs\nroot soft nofile ${n}\nroot hard nofile ${n}\n`;
}

export const nofileTask: Task = {
  name: 'nofile',
  probe: () => ({ files: [NOFILE_PATH] }),
  plan(ctx: PlanContext): TaskPlan {
    if (!isBalancer(ctx.host) && ctx.host.nofile === undefined) return { changes: [] };
    const change = managedFile({
      task: 'nofile',
      id: 'nofile/limits',
      path: NOFILE_PATH,
      content: renderLimits(ctx.host.nofile ?? DEFAULT_NOFILE),
      mode: 0o644,
      current: ctx.facts.files[NOFILE_PATH],
      summary: `${NOFILE_PATH}: nofile ${ctx.host.nofile ?? DEFAULT_NOFILE}`,
    });
    return { changes: change ? [change] : [] };
  },
};
