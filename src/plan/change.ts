/**
 * A Change is data: what a task will change on one host, why, and the steps that make it so.
 * Plans are lists of Changes; they can be rendered, saved (plan.json), fingerprinted and applied later.
 * Apply executes exactly the steps; it never recomputes intent.
 */

export type Step =
  /** run a shell command; non-zero exit fails the change unless okCodes includes it */
  | {
      kind: 'exec';
      command: string;
      timeoutMs?: number;
      okCodes?: number[];
      redact?: string[];
      /** run when the command fails; its output is added to the error (e.g. the unit's journal) */
      onFailure?: string;
      /** set when the planner already knows this step fails (a missing input): the host is blocked */
      problem?: string;
    }
  /** write a file atomically (temp + rename), keeping the previous copy */
  | { kind: 'write'; path: string; content: string; mode: number; owner?: string }
  /** upload a file from the control machine (air-gapped sources, patches) */
  | { kind: 'upload'; localPath: string; path: string; sha256: string; mode: number }
  /** copy an artifact that another host of the same run built (build once per identical target) */
  | {
      kind: 'copy-from-host';
      sourceHost: string;
      sourcePath: string;
      path: string;
      sha256?: string;
      mode: number;
    }
  /** wait until a command succeeds (health gates), polling */
  | {
      kind: 'wait';
      command: string;
      timeoutMs: number;
      intervalMs: number;
      description: string;
      onFailure?: string;
      /**
       * The command's exit code meaning "this will not succeed" (the unit's main process exited): stop
       * waiting at once, with the command's `cause:` line as the failure's headline.
       */
      giveUpCode?: number;
    }
  /**
   * A controlled reboot: note the boot id, run `command` detached (the exec returns before the host goes
   * down), then reconnect until the host answers with a NEW boot id, within timeoutMs. The steps after it
   * run on the new connection; the task's re-probe after it is a full one.
   */
  | {
      kind: 'reboot';
      command: string;
      bootIdPath: string;
      timeoutMs: number;
      intervalMs: number;
      description: string;
    };

export interface Change {
  /** Stable id within a host's plan, e.g. "hugepages/node1/2048kB". */
  id: string;
  /** Task that planned it. */
  task: string;
  /** One line for humans: "node1 2048kB hugepages: 0 → 1024". */
  summary: string;
  action: 'create' | 'update' | 'delete' | 'run';
  before?: string;
  after?: string;
  /** Unified diff for files. */
  diff?: string;
  /** Restarts dpvs, rebinds a NIC, reloads a module: run in rolling batches. */
  disruptive?: boolean;
  /** Has a real inverse that rollback can apply. */
  reversible?: boolean;
  steps: Step[];
}

/**
 * How a host came out of planning, each host in exactly one state:
 * - planned: reached, probed and planned (its changes may be empty);
 * - blocked: planned, but a preflight error (not waived) holds every change back;
 * - unreachable: could not be connected to or probed;
 * - stale: a saved plan's host whose facts changed since it was planned (apply refuses it);
 * - error: reached, but a planner failed on it (the detail is in `error`).
 */
export type HostPlanStatus = 'planned' | 'blocked' | 'unreachable' | 'stale' | 'error';

export interface HostPlan {
  host: string;
  status: HostPlanStatus;
  changes: Change[];
  /** Preflight results (errors block the host). */
  checks: CheckResult[];
  /** sha256 over the facts the changes were planned from */
  factsFingerprint: string;
  /** What went wrong, for unreachable, stale and error. */
  error?: string;
  /** Unmanaged objects found on the host (left alone; `verify` reports them as drift). */
  drift?: string[];
}

export interface CheckResult {
  id: string;
  severity: 'error' | 'warning';
  title: string;
  found: string;
  expected: string;
  fix: string;
  /** Set when the inventory waives it: the reason is printed. */
  waived?: string;
}

/** The preflight results that block a host: errors the inventory does not waive. */
export function blockingChecks(checks: readonly CheckResult[]): CheckResult[] {
  return checks.filter((c) => c.severity === 'error' && c.waived === undefined);
}

/** The status of a host that was planned: blocked when a preflight error holds it back. */
export function plannedStatus(checks: readonly CheckResult[]): 'planned' | 'blocked' {
  return blockingChecks(checks).length ? 'blocked' : 'planned';
}

/** A host that has no plan: unreachable, refused as stale, or failed in a planner. */
export function unplanned(
  host: string,
  status: 'unreachable' | 'stale' | 'error',
  error: string,
  base: Partial<Pick<HostPlan, 'changes' | 'checks' | 'factsFingerprint'>> = {},
): HostPlan {
  return {
    host,
    status,
    changes: base.changes ?? [],
    checks: base.checks ?? [],
    factsFingerprint: base.factsFingerprint ?? '',
    error,
  };
}
