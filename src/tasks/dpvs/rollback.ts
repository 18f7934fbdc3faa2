/**
 * What `dpvs-deploy rollback` has to undo for dpvs: `current` back to the previous release (recorded at
 * activation), dpvs.conf back to the copy put kept. dpvs restarts once, in the last rollback change that
 * applies (rollback runs tasks in reverse playbook order: dpvs-conf before dpvs-build).
 */
import { dpvsReleases } from '../../facts/reads/dpvs-releases.js';
import { BACKUP_SUFFIX } from '../../transport/remote-put.js';
import type { Step } from '../../plan/change.js';
import type { PlanContext } from '../../plan/task.js';
import { restartSteps as restart } from './restart.js';
import { layoutOf } from './settings.js';
import { parseReleaseState, RELEASE_STATE } from './state.js';

export function confBackupPath(confPath: string): string {
  return `${confPath}${BACKUP_SUFFIX}`;
}

export function rollbackNeeds(ctx: PlanContext): { release: boolean; conf: boolean } {
  const l = layoutOf(ctx.host);
  const st = parseReleaseState(ctx.facts.files[RELEASE_STATE]?.content);
  const installed = dpvsReleases.read(ctx.facts);
  const release =
    !!st?.previous &&
    installed.current !== `${l.releases}/${st.previous}` &&
    installed.releases.includes(st.previous);
  const bak = ctx.facts.files[confBackupPath(l.confPath)];
  const cur = ctx.facts.files[l.confPath];
  const conf = !!bak?.exists && bak.content !== null && bak.content !== cur?.content;
  return { release, conf };
}

/**
 * The rollback's restart, decided when it runs: dpvs restarts on the previous release and config if it
 * is still running (a rollback of the NIC bindings earlier in the same run stops it: then it stays
 * down, since it has no ports to start on).
 */
export function restartSteps(ctx: PlanContext): Step[] {
  const active = 'systemctl is-active --quiet dpvs 2>/dev/null';
  return restart(ctx.host).map((s): Step => {
    if (s.kind === 'exec') return { ...s, command: `if ${active}; then ${s.command}; fi` };
    if (s.kind === 'wait') return { ...s, command: `! ${active} || { ${s.command}; }` };
    return s;
  });
}
