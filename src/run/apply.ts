/**
 * Apply: the only code that changes hosts. It runs exactly the planned Changes of each host in order —
 * everything before a host's first disruptive change on all hosts in parallel (stage 1), then the
 * disruptive rest in rolling batches (stage 2) with a health gate between batches — and after the
 * last change of each task re-probes what that task reads and verifies it. A failure stops its host;
 * --max-fail-percent and a failed batch stop new work; host locks keep two runs off one host.
 */
import type { Facts } from '../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import { blockingChecks, type Change, type HostPlan } from '../plan/change.js';
import { verifyTask } from '../plan/planner.js';
import { fleetOf } from '../plan/fleet.js';
import type { Task } from '../plan/task.js';
import type { Transport } from '../transport/types.js';
import { planBatches } from './batches.js';
import { acquireLock, ownLock, releaseLock } from './lock.js';
import { errorText } from './plan-fleet.js';
import { Deferred, mapLimit } from './pool.js';
import { runStep } from './steps.js';
import type { RunDir } from './transcript.js';

/** A host's stage-2 progress, for the hosts that copy artifacts from it. */
interface TaskProgress {
  done(task: string): void;
}

export interface EngineEvents {
  hostState?(host: string, state: string): void;
  taskStart?(host: string, task: string, changes: number): void;
  taskEnd?(host: string, task: string, status: 'changed' | 'failed', error?: string): void;
  info?(message: string): void;
}

export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable' | 'blocked' | 'skipped' | 'stale';

export interface TaskResult {
  task: string;
  status: 'ok' | 'changed' | 'failed' | 'skipped';
  changes: number;
  durationMs: number;
  error?: string;
}

export interface HostResult {
  host: string;
  status: HostStatus;
  changed: number;
  error?: string;
  tasks: TaskResult[];
  connections: number;
  execs: number;
}

export interface ApplyOptions {
  serial?: number | string;
  maxFailPercent?: number;
  command: string;
  breakLock?: boolean;
  lockTimeoutMs?: number;
  /** Rollback run: a task is verified when its rollback planner has nothing left to do. */
  rollback?: boolean;
  /** Aborted (Ctrl-C): start no new step or host; running steps end; locks are still released. */
  signal?: AbortSignal;
}

/** What apply works with: the hosts, their tasks and connections, and the facts it keeps current. */
export interface ApplyContext {
  inventory: LoadedInventory;
  hosts: readonly ResolvedHost[];
  tasks: ReadonlyMap<string, readonly Task[]>;
  transports: ReadonlyMap<string, Transport>;
  /** Updated with each host's re-probed facts as tasks finish. */
  facts: Map<string, Facts>;
  runDir: RunDir;
  forks: number;
  commandTimeoutMs?: number;
  events?: EngineEvents;
  /** Fresh facts after `task` ran on `host` (what the task reads, over the facts from before). */
  reprobe(host: string, task: Task | undefined): Promise<Facts>;
  /**
   * A new connection to `host` (after a reboot), replacing the one in `transports`; rejects while the
   * host does not answer. Without it, a plan with a reboot step fails at that step.
   */
  reconnect?(host: string): Promise<Transport>;
}

/** A result's status for a host that was not applied because of how it came out of planning. */
export function resultStatusOf(p: HostPlan | undefined): HostStatus {
  switch (p?.status) {
    case undefined:
    case 'unreachable':
      return 'unreachable';
    case 'stale':
      return 'stale';
    case 'blocked':
      return 'blocked';
    case 'error':
      return 'failed';
    default:
      return 'ok';
  }
}

function hostOf(x: ApplyContext, name: string): ResolvedHost {
  const h = x.hosts.find((y) => y.name === name);
  if (!h) throw new Error(`unknown host ${name}`);
  return h;
}

/** Apply plans. Hosts that are unreachable, blocked, stale or failed in planning are not touched. */
export async function applyPlans(
  x: ApplyContext,
  plans: ReadonlyMap<string, HostPlan>,
  opts: ApplyOptions,
): Promise<HostResult[]> {
  const results = new Map<string, HostResult>();
  const owner = ownLock(opts.command);
  const stage1Done = new Map<string, Deferred<Transport>>();
  // a host's tasks that run in stage 2 (after its first disruptive change, e.g. a reboot): a host that
  // copies an artifact of task T from it waits until it has finished T, not only its stage 1
  const stage2Tasks = new Map<string, Map<string, Deferred<void>>>();
  const total = x.hosts.length;
  let failed = 0;
  let stopped = false;

  const result = (host: string): HostResult => {
    let r = results.get(host);
    if (!r) {
      const t = x.transports.get(host);
      r = { host, status: 'ok', changed: 0, tasks: [], connections: t?.stats.connections ?? 0, execs: 0 };
      results.set(host, r);
    }
    return r;
  };
  const fail = (host: string, status: HostStatus, error: string): void => {
    const r = result(host);
    if (!['failed', 'unreachable', 'blocked', 'stale'].includes(r.status)) failed++;
    r.status = status;
    r.error ??= error;
    if (opts.maxFailPercent !== undefined && (failed * 100) / total > opts.maxFailPercent) {
      if (!stopped)
        x.events?.info?.(
          `failures ${failed}/${total} exceed --max-fail-percent ${opts.maxFailPercent}: starting no new hosts`,
        );
      stopped = true;
    }
  };

  const work: Array<{ host: string; prefix: Change[]; rest: Change[]; all: Change[] }> = [];
  for (const h of x.hosts) {
    stage1Done.set(h.name, new Deferred<Transport>());
    const p = plans.get(h.name);
    result(h.name);
    if (!p || (p.status !== 'planned' && p.status !== 'blocked')) {
      fail(h.name, resultStatusOf(p), p?.error ?? 'not planned');
      stage1Done.get(h.name)?.reject(new Error(`${h.name} is ${p?.status ?? 'not planned'}`));
      continue;
    }
    const blocking = blockingChecks(p.checks);
    if (blocking.length) {
      fail(
        h.name,
        'blocked',
        `preflight: ${blocking.map((c) => `${c.id} ${c.title} (found: ${c.found})`).join('; ')}`,
      );
      stage1Done.get(h.name)?.reject(new Error(`${h.name} is blocked by preflight`));
      continue;
    }
    const firstDisruptive = p.changes.findIndex((c) => c.disruptive);
    const cut = firstDisruptive < 0 ? p.changes.length : firstDisruptive;
    work.push({
      host: h.name,
      prefix: p.changes.slice(0, cut),
      rest: p.changes.slice(cut),
      all: p.changes,
    });
    stage2Tasks.set(h.name, new Map(p.changes.slice(cut).map((c) => [c.task, new Deferred<void>()])));
  }

  const locked = new Set<string>();
  const lock = async (host: string): Promise<void> => {
    if (locked.has(host)) return;
    const t = x.transports.get(host);
    if (!t) throw new Error('not connected');
    await acquireLock(t, owner, { breakLock: opts.breakLock, timeoutMs: opts.lockTimeoutMs });
    locked.add(host);
    x.runDir.log(host, `${new Date().toISOString()} lock acquired (${owner.controlHost} pid ${owner.pid})`);
  };

  // hosts that other hosts copy artifacts from start first, so a waiting copy never starves its source
  const sources = new Set(
    work.flatMap((w) =>
      w.all.flatMap((c) => c.steps.flatMap((s) => (s.kind === 'copy-from-host' ? [s.sourceHost] : []))),
    ),
  );
  const stage1 = [...work].sort((a, b) => Number(sources.has(b.host)) - Number(sources.has(a.host)));
  const abandon = (host: string, e: unknown): void => {
    for (const d of stage2Tasks.get(host)?.values() ?? []) d.reject(e);
  };
  /** The source host once it has done `task` (its stage 1, and that task if it runs in its stage 2). */
  const artifactReady = async (src: string, task: string): Promise<Transport> => {
    const d = stage1Done.get(src);
    if (!d) throw new Error(`artifact source ${src} is not part of this run`);
    try {
      await d.promise;
      await stage2Tasks.get(src)?.get(task)?.promise;
    } catch (e) {
      throw new Error(`artifact source ${src} failed: ${errorText(e)}`);
    }
    const t = x.transports.get(src);
    if (!t) throw new Error(`artifact source ${src} is not connected`);
    return t;
  };
  const progress = (host: string): TaskProgress => ({
    done: (task) => stage2Tasks.get(host)?.get(task)?.resolve(),
  });

  // Stage 1: everything up to each host's first disruptive change, all hosts in parallel.
  await mapLimit(stage1, x.forks, async (w) => {
    const done = stage1Done.get(w.host) as Deferred<Transport>;
    if (stopped || opts.signal?.aborted) {
      result(w.host).status = 'skipped';
      done.reject(new Error('run stopped'));
      return;
    }
    try {
      if (w.prefix.length) {
        await lock(w.host);
        await runChanges(
          x,
          w.host,
          w.prefix,
          w.all,
          result(w.host),
          artifactReady,
          !!opts.rollback,
          opts.signal,
        );
      }
      done.resolve(x.transports.get(w.host) as Transport);
    } catch (e) {
      fail(w.host, 'failed', errorText(e));
      done.reject(e);
      abandon(w.host, e);
    }
  });

  // Stage 2: disruptive changes in rolling batches; a failed batch stops the next ones.
  // Hosts that others copy from go in the first batches, so a copy never waits on a later batch.
  const disruptive = work.filter((w) => w.rest.length && result(w.host).status !== 'failed');
  const batchesOf = (ws: typeof disruptive): ResolvedHost[][] =>
    ws.length
      ? planBatches(
          ws.map((w) => hostOf(x, w.host)),
          opts.serial,
        )
      : [];
  const batches = [
    ...batchesOf(disruptive.filter((w) => sources.has(w.host))),
    ...batchesOf(disruptive.filter((w) => !sources.has(w.host))),
  ];
  for (const [i, batch] of batches.entries()) {
    if (stopped || opts.signal?.aborted) {
      for (const h of batch) {
        result(h.name).status = 'skipped';
        abandon(h.name, new Error('run stopped'));
      }
      continue;
    }
    if (batches.length > 1)
      x.events?.info?.(`batch ${i + 1}/${batches.length}: ${batch.map((h) => h.name).join(', ')}`);
    let batchFailed = false;
    await mapLimit(batch, x.forks, async (h) => {
      const w = disruptive.find((x) => x.host === h.name);
      if (!w) return;
      try {
        await lock(w.host);
        for (const [j, entry] of batch.entries())
          if (entry.name === h.name)
            x.runDir.log(h.name, `rolling batch ${i + 1}/${batches.length} position ${j + 1}`);
        await runChanges(
          x,
          w.host,
          w.rest,
          w.all,
          result(w.host),
          artifactReady,
          !!opts.rollback,
          opts.signal,
          progress(w.host),
        );
      } catch (e) {
        batchFailed = true;
        fail(w.host, 'failed', errorText(e));
        abandon(w.host, e);
      }
    });
    if (batchFailed && i < batches.length - 1) {
      x.events?.info?.(`batch ${i + 1} failed: stopping the remaining ${batches.length - i - 1} batch(es)`);
      stopped = true;
    }
  }

  // release locks
  await Promise.all(
    [...locked].map(async (host) => {
      const t = x.transports.get(host);
      if (t) await releaseLock(t, owner).catch(() => undefined);
    }),
  );

  return x.hosts.map((h) => {
    const r = result(h.name);
    const t = x.transports.get(h.name);
    r.connections = t?.stats.connections ?? 0;
    r.execs = t?.stats.execs ?? 0;
    if (r.status === 'ok' && r.changed > 0) r.status = 'changed';
    return r;
  });
}

/** Run a host's changes in order; after the last change of each task, re-probe for it and verify it. */
async function runChanges(
  x: ApplyContext,
  host: string,
  changes: Change[],
  all: Change[],
  r: HostResult,
  artifactReady: (src: string, task: string) => Promise<Transport>,
  rollback: boolean,
  signal?: AbortSignal,
  progress?: TaskProgress,
): Promise<void> {
  let t = x.transports.get(host);
  if (!t) throw new Error('not connected');
  const tasks = x.tasks.get(host) ?? [];
  let rebooted = false;
  const hostTimeoutS = hostOf(x, host).ssh?.command_timeout_s;
  const hostTimeoutMs = hostTimeoutS !== undefined ? hostTimeoutS * 1000 : undefined;
  let i = 0;
  while (i < changes.length) {
    const task = (changes[i] as Change).task;
    const group: Change[] = [];
    while (i < changes.length && (changes[i] as Change).task === task) group.push(changes[i++] as Change);
    const started = Date.now();
    x.events?.taskStart?.(host, task, group.length);
    x.runDir.log(host, `${new Date().toISOString()} == task ${task}: ${group.length} change(s)`);
    try {
      for (const c of group) {
        x.runDir.log(host, `-- ${c.id}: ${c.summary}`);
        for (const step of c.steps) {
          if (signal?.aborted) throw new Error(`interrupted: stopped before ${c.id}`);
          const next = await runStep(step, {
            transport: t,
            ...(x.reconnect
              ? { reconnect: () => (x.reconnect as (h: string) => Promise<Transport>)(host) }
              : {}),
            runDir: x.runDir,
            inventoryDir: x.inventory.dir,
            // the host's ssh.command_timeout_s bounds every step that does not set its own
            defaultTimeoutMs: hostTimeoutMs ?? x.commandTimeoutMs ?? 600_000,
            artifactSource: (src) => artifactReady(src, c.task),
          });
          if (next) {
            t = next;
            rebooted = true;
          }
        }
        r.changed++;
      }
      const lastOfTask = all.filter((c) => c.task === task).at(-1);
      if (lastOfTask && group.includes(lastOfTask)) {
        const taskObj = tasks.find((x) => x.name === task);
        // after a reboot every fact may have changed: a full probe
        const fresh = await x.reprobe(host, rebooted ? undefined : taskObj);
        rebooted = false;
        x.facts.set(host, fresh);
        // verified against a fleet of the refreshed facts (its derivations recomputed, if asked for)
        const fleet = fleetOf(x.inventory, x.facts);
        const ctx = { host: hostOf(x, host), inventory: x.inventory, facts: fresh, fleet };
        const problems = !taskObj
          ? []
          : rollback
            ? (taskObj.rollback?.(ctx).changes ?? []).map((c) => `rollback incomplete: ${c.summary}`)
            : verifyTask(taskObj, ctx);
        if (problems.length) throw new Error(`${task}: verification failed:\n  ${problems.join('\n  ')}`);
      }
      if (lastOfTask && group.includes(lastOfTask)) progress?.done(task);
      r.tasks.push({ task, status: 'changed', changes: group.length, durationMs: Date.now() - started });
      x.events?.taskEnd?.(host, task, 'changed');
    } catch (e) {
      const msg = errorText(e);
      r.tasks.push({
        task,
        status: 'failed',
        changes: group.length,
        durationMs: Date.now() - started,
        error: msg,
      });
      x.runDir.log(host, `FAILED ${task}: ${msg}`);
      x.events?.taskEnd?.(host, task, 'failed', msg);
      throw e;
    }
  }
}
