/**
 * The engine: connect (one SSH connection per host), probe (one exec per host), plan (pure), and apply
 * exactly the plan — per host in playbook order, disruptive changes in rolling batches, each task's
 * postcondition checked on re-probed facts, failures contained to their host.
 */
import { probeHost, mergeRequests, overlayFacts } from '../facts/probe.js';
import type { Facts, ProbeRequest } from '../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import type { Change, CheckResult, HostPlan } from '../plan/change.js';
import { factsFingerprint } from '../plan/fingerprint.js';
import { planHost, verifyTask } from '../plan/planner.js';
import { preflightProbe, runPreflight } from '../preflight/index.js';
import type { PlanContext, Task } from '../plan/task.js';
import type { Transport } from '../transport/types.js';
import { planBatches } from './batches.js';
import { acquireLock, ownLock, releaseLock, type LockOwner } from './lock.js';
import { tasksForRoles } from './playbooks.js';
import { Deferred, mapLimit } from './pool.js';
import { runStep } from './steps.js';
import type { RunDir } from './transcript.js';

/** A probe's time limit when the host sets no ssh.command_timeout_s. */
const PROBE_TIMEOUT_MS = 300_000;

export type Connector = (host: ResolvedHost) => Promise<Transport>;

export interface EngineOptions {
  inventory: LoadedInventory;
  hosts: ResolvedHost[];
  connect: Connector;
  runDir: RunDir;
  forks: number;
  /** Per-command timeout default. */
  commandTimeoutMs?: number;
  events?: EngineEvents;
  /** Only these tasks of each host's playbooks (`--tasks`); default all. */
  onlyTasks?: ReadonlySet<string>;
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
  /** Plans to apply (a saved plan); default: the plans just computed. */
  plans?: Map<string, HostPlan>;
  /** Rollback run: a task is verified when its rollback planner has nothing left to do. */
  rollback?: boolean;
  /** Aborted (Ctrl-C): start no new step or host; running steps end; locks are still released. */
  signal?: AbortSignal;
}

export class Engine {
  readonly transports = new Map<string, Transport>();
  readonly facts = new Map<string, Facts>();
  readonly errors = new Map<string, string>();
  readonly plans = new Map<string, HostPlan>();
  private readonly requests = new Map<string, Required<ProbeRequest>>();
  private readonly tasks = new Map<string, Task[]>();

  constructor(private readonly o: EngineOptions) {
    for (const h of o.hosts) {
      const tasks = tasksForRoles(h.roles, o.onlyTasks);
      this.tasks.set(h.name, tasks);
      this.requests.set(
        h.name,
        mergeRequests([preflightProbe(h, o.inventory), ...tasks.map((t) => t.probe?.(h, o.inventory) ?? {})]),
      );
    }
  }

  host(name: string): ResolvedHost {
    const h = this.o.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`unknown host ${name}`);
    return h;
  }

  /** Connect to every host and probe it: one connection and one exec per host. */
  async gather(): Promise<void> {
    await mapLimit(this.o.hosts, this.o.forks, async (h) => {
      this.o.events?.hostState?.(h.name, 'connecting');
      try {
        const t = await this.o.connect(h);
        this.transports.set(h.name, t);
        this.o.events?.hostState?.(h.name, 'probing');
        this.facts.set(h.name, await this.probe(h.name));
        this.o.events?.hostState?.(h.name, 'probed');
      } catch (e) {
        const msg = errorText(e);
        this.errors.set(h.name, msg);
        this.o.runDir.log(h.name, `ERROR ${msg}`);
        this.o.events?.hostState?.(h.name, 'unreachable');
      }
    });
  }

  async probe(host: string): Promise<Facts> {
    const t = this.transports.get(host);
    if (!t) throw new Error(`${host}: not connected`);
    const req = this.requests.get(host);
    if (!req) throw new Error(`${host}: no probe request`);
    const f = await probeHost(t, req, this.probeTimeoutMs(host));
    this.o.runDir.log(host, `${new Date().toISOString()} probe: ${f.probeMs} ms on host`);
    return f;
  }

  /** The host's ssh.command_timeout_s bounds its probes too (a cut link fails the host, not the run). */
  private probeTimeoutMs(host: string): number {
    const s = this.host(host).ssh?.command_timeout_s;
    return s !== undefined ? s * 1000 : PROBE_TIMEOUT_MS;
  }

  /**
   * After a task ran: re-read the fixed facts and what that task asked for (not every task's request,
   * which on a slow host costs seconds per task), over the facts from before. A task verifies on what
   * it asked for; see overlayFacts.
   */
  private async reprobe(host: string, task: Task | undefined): Promise<Facts> {
    const previous = this.facts.get(host);
    const t = this.transports.get(host);
    if (!task || !previous || !t) return this.probe(host);
    const req = mergeRequests([task.probe?.(this.host(host), this.o.inventory) ?? {}]);
    const f = await probeHost(t, req, this.probeTimeoutMs(host));
    this.o.runDir.log(host, `${new Date().toISOString()} probe (${task.name}): ${f.probeMs} ms on host`);
    return overlayFacts(previous, f, req);
  }

  /** Pure planning for every reachable host. */
  plan(): Map<string, HostPlan> {
    for (const h of this.o.hosts) {
      const err = this.errors.get(h.name);
      const facts = this.facts.get(h.name);
      if (err || !facts) {
        this.plans.set(h.name, {
          host: h.name,
          changes: [],
          checks: [],
          factsFingerprint: '',
          error: err ?? 'no facts',
          unreachable: true,
        });
        continue;
      }
      try {
        this.plans.set(
          h.name,
          planHost({
            host: h,
            inventory: this.o.inventory,
            facts,
            fleet: this.facts,
            tasks: this.tasks.get(h.name) ?? [],
            preflight: runPreflight,
          }),
        );
      } catch (e) {
        // a planner's error about this host (bad layout against its facts, ...) stops only this host
        this.plans.set(h.name, {
          host: h.name,
          changes: [],
          checks: [],
          factsFingerprint: factsFingerprint(facts),
          error: errorText(e),
        });
        this.o.runDir.log(h.name, `ERROR planning: ${errorText(e)}`);
      }
    }
    return this.plans;
  }

  /** Pure: the inverse changes of every reversible task, in reverse playbook order. */
  planRollback(): Map<string, HostPlan> {
    for (const h of this.o.hosts) {
      const err = this.errors.get(h.name);
      const facts = this.facts.get(h.name);
      if (err || !facts) {
        this.plans.set(h.name, {
          host: h.name,
          changes: [],
          checks: [],
          factsFingerprint: '',
          error: err ?? 'no facts',
          unreachable: true,
        });
        continue;
      }
      const ctx = this.ctx(h.name, facts);
      const changes = [...(this.tasks.get(h.name) ?? [])]
        .reverse()
        .flatMap((t) => t.rollback?.(ctx).changes ?? []);
      this.plans.set(h.name, {
        host: h.name,
        changes,
        checks: [],
        factsFingerprint: factsFingerprint(facts),
      });
    }
    return this.plans;
  }

  ctx(host: string, facts: Facts): PlanContext {
    return { host: this.host(host), inventory: this.o.inventory, facts, fleet: this.facts };
  }

  /** Apply plans. Hosts that are unreachable or blocked by preflight are not touched. */
  async apply(opts: ApplyOptions): Promise<HostResult[]> {
    const plans = opts.plans ?? this.plans;
    const results = new Map<string, HostResult>();
    const owner = ownLock(opts.command);
    const stage1Done = new Map<string, Deferred<Transport>>();
    const total = this.o.hosts.length;
    let failed = 0;
    let stopped = false;

    const result = (host: string): HostResult => {
      let r = results.get(host);
      if (!r) {
        const t = this.transports.get(host);
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
          this.o.events?.info?.(
            `failures ${failed}/${total} exceed --max-fail-percent ${opts.maxFailPercent}: starting no new hosts`,
          );
        stopped = true;
      }
    };

    const work: Array<{ host: string; prefix: Change[]; rest: Change[]; all: Change[] }> = [];
    for (const h of this.o.hosts) {
      stage1Done.set(h.name, new Deferred<Transport>());
      const p = plans.get(h.name);
      result(h.name);
      if (!p || p.error) {
        const status: HostStatus = p?.error?.startsWith('stale plan')
          ? 'stale'
          : p && !this.errors.has(h.name) && this.facts.has(h.name)
            ? 'blocked'
            : 'unreachable';
        fail(h.name, status, p?.error ?? 'not planned');
        stage1Done.get(h.name)?.reject(new Error(`${h.name} is unreachable`));
        continue;
      }
      const blocking = p.checks.filter((c) => c.severity === 'error' && !c.waived);
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
    }

    const locked = new Set<string>();
    const lock = async (host: string): Promise<void> => {
      if (locked.has(host)) return;
      const t = this.transports.get(host);
      if (!t) throw new Error('not connected');
      await acquireLock(t, owner, { breakLock: opts.breakLock, timeoutMs: opts.lockTimeoutMs });
      locked.add(host);
      this.o.runDir.log(
        host,
        `${new Date().toISOString()} lock acquired (${owner.controlHost} pid ${owner.pid})`,
      );
    };

    // hosts that other hosts copy artifacts from start first, so a waiting copy never starves its source
    const sources = new Set(
      work.flatMap((w) =>
        w.all.flatMap((c) => c.steps.flatMap((s) => (s.kind === 'copy-from-host' ? [s.sourceHost] : []))),
      ),
    );
    const stage1 = [...work].sort((a, b) => Number(sources.has(b.host)) - Number(sources.has(a.host)));

    // Stage 1: everything up to each host's first disruptive change, all hosts in parallel.
    await mapLimit(stage1, this.o.forks, async (w) => {
      const done = stage1Done.get(w.host) as Deferred<Transport>;
      if (stopped || opts.signal?.aborted) {
        result(w.host).status = 'skipped';
        done.reject(new Error('run stopped'));
        return;
      }
      try {
        if (w.prefix.length) {
          await lock(w.host);
          await this.runChanges(
            w.host,
            w.prefix,
            w.all,
            result(w.host),
            stage1Done,
            !!opts.rollback,
            opts.signal,
          );
        }
        done.resolve(this.transports.get(w.host) as Transport);
      } catch (e) {
        fail(w.host, 'failed', errorText(e));
        done.reject(e);
      }
    });

    // Stage 2: disruptive changes in rolling batches; a failed batch stops the next ones.
    const disruptive = work.filter((w) => w.rest.length && result(w.host).status !== 'failed');
    const batches = planBatches(
      disruptive.map((w) => this.host(w.host)),
      opts.serial,
    );
    for (const [i, batch] of batches.entries()) {
      if (stopped || opts.signal?.aborted) {
        for (const h of batch) result(h.name).status = 'skipped';
        continue;
      }
      if (batches.length > 1)
        this.o.events?.info?.(`batch ${i + 1}/${batches.length}: ${batch.map((h) => h.name).join(', ')}`);
      let batchFailed = false;
      await mapLimit(batch, this.o.forks, async (h) => {
        const w = disruptive.find((x) => x.host === h.name);
        if (!w) return;
        try {
          await lock(w.host);
          for (const [j, entry] of batch.entries())
            if (entry.name === h.name)
              this.o.runDir.log(h.name, `rolling batch ${i + 1}/${batches.length} position ${j + 1}`);
          await this.runChanges(
            w.host,
            w.rest,
            w.all,
            result(w.host),
            stage1Done,
            !!opts.rollback,
            opts.signal,
          );
        } catch (e) {
          batchFailed = true;
          fail(w.host, 'failed', errorText(e));
        }
      });
      if (batchFailed && i < batches.length - 1) {
        this.o.events?.info?.(
          `batch ${i + 1} failed: stopping the remaining ${batches.length - i - 1} batch(es)`,
        );
        stopped = true;
      }
    }

    // release locks
    await Promise.all(
      [...locked].map(async (host) => {
        const t = this.transports.get(host);
        if (t) await releaseLock(t, owner).catch(() => undefined);
      }),
    );

    return this.o.hosts.map((h) => {
      const r = result(h.name);
      const t = this.transports.get(h.name);
      r.connections = t?.stats.connections ?? 0;
      r.execs = t?.stats.execs ?? 0;
      if (r.status === 'ok' && r.changed > 0) r.status = 'changed';
      return r;
    });
  }

  /** Run a host's changes in order; after the last change of each task, re-probe for it and verify it. */
  private async runChanges(
    host: string,
    changes: Change[],
    all: Change[],
    r: HostResult,
    stage1Done: Map<string, Deferred<Transport>>,
    rollback: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const t = this.transports.get(host);
    if (!t) throw new Error('not connected');
    const tasks = this.tasks.get(host) ?? [];
    const hostTimeoutS = this.host(host).ssh?.command_timeout_s;
    const hostTimeoutMs = hostTimeoutS !== undefined ? hostTimeoutS * 1000 : undefined;
    let i = 0;
    while (i < changes.length) {
      const task = (changes[i] as Change).task;
      const group: Change[] = [];
      while (i < changes.length && (changes[i] as Change).task === task) group.push(changes[i++] as Change);
      const started = Date.now();
      this.o.events?.taskStart?.(host, task, group.length);
      this.o.runDir.log(host, `${new Date().toISOString()} == task ${task}: ${group.length} change(s)`);
      try {
        for (const c of group) {
          this.o.runDir.log(host, `-- ${c.id}: ${c.summary}`);
          for (const step of c.steps) {
            if (signal?.aborted) throw new Error(`interrupted: stopped before ${c.id}`);
            await runStep(step, {
              transport: t,
              runDir: this.o.runDir,
              inventoryDir: this.o.inventory.dir,
              // the host's ssh.command_timeout_s bounds every step that does not set its own
              defaultTimeoutMs: hostTimeoutMs ?? this.o.commandTimeoutMs ?? 600_000,
              artifactSource: (src) => {
                const d = stage1Done.get(src);
                if (!d) return Promise.reject(new Error(`artifact source ${src} is not part of this run`));
                return d.promise.catch((e: unknown) => {
                  throw new Error(`artifact source ${src} failed: ${errorText(e)}`);
                });
              },
            });
          }
          r.changed++;
        }
        const lastOfTask = all.filter((c) => c.task === task).at(-1);
        if (lastOfTask && group.includes(lastOfTask)) {
          const taskObj = tasks.find((x) => x.name === task);
          const fresh = await this.reprobe(host, taskObj);
          this.facts.set(host, fresh);
          const ctx = this.ctx(host, fresh);
          const problems = !taskObj
            ? []
            : rollback
              ? (taskObj.rollback?.(ctx).changes ?? []).map((c) => `rollback incomplete: ${c.summary}`)
              : verifyTask(taskObj, ctx);
          if (problems.length) throw new Error(`${task}: verification failed:\n  ${problems.join('\n  ')}`);
        }
        r.tasks.push({ task, status: 'changed', changes: group.length, durationMs: Date.now() - started });
        this.o.events?.taskEnd?.(host, task, 'changed');
      } catch (e) {
        const msg = errorText(e);
        r.tasks.push({
          task,
          status: 'failed',
          changes: group.length,
          durationMs: Date.now() - started,
          error: msg,
        });
        this.o.runDir.log(host, `FAILED ${task}: ${msg}`);
        this.o.events?.taskEnd?.(host, task, 'failed', msg);
        throw e;
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.transports.values()].map((t) => t.close().catch(() => undefined)));
  }

  checks(host: string): CheckResult[] {
    return this.plans.get(host)?.checks ?? [];
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export type { LockOwner };
