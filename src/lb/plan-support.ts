/**
 * What the LB tasks share: reading the desired/current/record state from a PlanContext, turning
 * reconciler ops into Changes, and the record-file Change (with the new record projected into the
 * facts, so the next LB task of the same run builds on it).
 */
import type { Facts } from '../facts/types.js';
import type { ResolvedHost } from '../inventory/types.js';
import type { Change } from '../plan/change.js';
import { fileWriteSteps } from '../plan/ops/managed-file.js';
import { sh } from '../transport/quote.js';
import { lbBins, type LbBins } from './commands.js';
import { currentState, RECORD_PATH, type Current } from './current.js';
import { desiredState, keepalivedEnabled, servicesOf, type Desired } from './desired.js';
import { canonicalIp } from '../inventory/ip.js';
import type { LbState } from './model.js';
import { parseRecord, renderRecord } from './record.js';
import { reconcile, type LbOp, type LbScope, type Reconciled } from './reconcile.js';
import type { PlanContext } from '../plan/task.js';

export interface LbTaskOptions {
  /** delete objects on the host that are neither in the inventory nor in the record (default false) */
  pruneUnmanaged?: boolean;
}

/** The options for one host: the inventory's `prune_unmanaged: true` turns pruning on. */
export function lbOptionsFor(
  host: Pick<ResolvedHost, 'prune_unmanaged'>,
  base: LbTaskOptions,
): LbTaskOptions {
  return host.prune_unmanaged === true ? { ...base, pruneUnmanaged: true } : base;
}

export interface LbView {
  bins: LbBins;
  desired: Desired;
  current: Current;
  record: LbState;
  recordContent: string | null;
  /** VIPs keepalived adds on the master (not ours to add or delete) */
  vrrpIps: string[];
}

export function binsFor(host: Pick<ResolvedHost, 'dpvs'>): LbBins {
  return lbBins(host.dpvs?.prefix ?? '/opt/dpvs');
}

export function lbView(ctx: PlanContext): LbView {
  const { host, inventory, facts } = ctx;
  const services = inventory.services ?? [];
  const vrrp = keepalivedEnabled(host);
  const desired = desiredState(host, services, { vrrpOwnsVips: vrrp });
  const vrrpIps = vrrp
    ? servicesOf(host, services)
        .filter((s) => s.mode !== 'snat')
        .map((s) => canonicalIp(s.vip))
    : [];
  const recordContent = facts.files?.[RECORD_PATH]?.content ?? null;
  return {
    bins: binsFor(host),
    desired,
    current: currentState(facts),
    record: parseRecord(recordContent),
    recordContent,
    vrrpIps,
  };
}

export function reconcileView(v: LbView, scope: LbScope, opts: LbTaskOptions): Reconciled {
  return reconcile(v.desired.state, v.current.state, v.record, {
    bins: v.bins,
    scope,
    pruneUnmanaged: opts.pruneUnmanaged === true,
    foreignIps: v.vrrpIps,
  });
}

/**
 * An add that dpvs may already hold when it runs: planned while dpvs was down, it runs after this apply
 * started dpvs, whose restore script (ExecStartPost) re-adds what dpvs-deploy manages. dpip/ipvsadm
 * answer "already exist(s)" then; anything else still fails the step.
 */
export function addUnlessPresent(command: string): string {
  const present = sh`printf '%s\n' ${`already present (restored when dpvs started): ${command}`}`;
  return `out=$({ ${command}; } 2>&1) || case "$out" in *'already exist'*) ${present} ;; *) printf '%s\n' "$out" >&2; exit 1 ;; esac`;
}

/** Changes for the reconciler's ops; `dpvsDown`: planned against a dpvs that is not running (yet). */
export function opsToChanges(task: string, ops: LbOp[], dpvsDown = false): Change[] {
  return ops.map((op) => {
    const c: Change = {
      id: `lb/${op.object}/${op.key}`,
      task,
      summary: op.summary,
      action: op.action,
      steps: op.commands.map((command) => ({
        kind: 'exec' as const,
        command: dpvsDown && op.action === 'create' ? addUnlessPresent(command) : command,
      })),
    };
    if (op.before !== undefined) c.before = op.before;
    if (op.after !== undefined) c.after = op.after;
    return c;
  });
}

/** The Change that writes the record, or none when it is unchanged; and facts with it projected. */
export function recordChange(
  task: string,
  facts: Facts,
  current: string | null,
  next: LbState,
): { change: Change | null; projected: Facts } {
  const content = renderRecord(next);
  if (content === current) return { change: null, projected: facts };
  const projected: Facts = {
    ...facts,
    files: { ...facts.files, [RECORD_PATH]: { exists: true, sha256: null, mode: '0644', content } },
  };
  return {
    change: {
      id: `lb/record/${task}`,
      task,
      summary: `record the LB objects dpvs-deploy manages (${RECORD_PATH})`,
      action: current === null ? 'create' : 'update',
      steps: fileWriteSteps([{ path: RECORD_PATH, content, mode: 0o644, current: undefined }]),
    },
    projected,
  };
}

export function pendingProblems(changes: Change[]): string[] {
  return changes.map((c) => `not as planned: ${c.summary}`);
}
