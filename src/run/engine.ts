/**
 * The engine ties a run together for the CLI: gather (one connection and one probe exec per host),
 * plan (pure, src/run/plan-fleet.ts) and apply exactly the plan (src/run/apply.ts). It owns the run's
 * connections and the facts it keeps current; each stage is its own unit and is tested on its own
 * (test/unit/run/*.test.ts, with an in-memory transport).
 */
import { probeHost, mergeRequests, overlayFacts } from '../facts/probe.js';
import type { Facts, ProbeRequest } from '../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import type { CheckResult, HostPlan } from '../plan/change.js';
import type { Task } from '../plan/task.js';
import { preflightProbe } from '../preflight/index.js';
import type { Transport } from '../transport/types.js';
import { applyPlans, type ApplyOptions, type EngineEvents, type HostResult } from './apply.js';
import { gather, type Connector } from './gather.js';
import { planFleet, planFleetRollback } from './plan-fleet.js';
import { tasksForRoles } from './playbooks.js';
import type { RunDir } from './transcript.js';

export type { ApplyOptions, EngineEvents, HostResult, HostStatus, TaskResult } from './apply.js';
export type { Connector } from './gather.js';
export { errorText } from './plan-fleet.js';
export type { LockOwner } from './lock.js';

/** A probe's time limit when the host sets no ssh.command_timeout_s. */
const PROBE_TIMEOUT_MS = 300_000;

/** Runs a probe request over a transport (default: the one-exec shell probe, src/facts/probe.ts). */
export type Prober = (t: Transport, request: Required<ProbeRequest>, timeoutMs: number) => Promise<Facts>;

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
  /** Each host's tasks; default: its roles' playbooks (filtered by onlyTasks). */
  tasks?: (host: ResolvedHost) => Task[];
  /** How a probe request is read from a host; default probeHost. */
  prober?: Prober;
  /**
   * Close each host's connection right after its probe (plan, verify, facts: nothing runs on a host
   * after it was read). Its closed stand-in keeps the counters for --stats.
   */
  releaseAfterProbe?: boolean;
}

/**
 * A copy of a host's facts that shares no string with the probe's output. A string the parser sliced
 * out of the output keeps the whole output alive in V8 (a sliced string points at its parent), so
 * every host's raw output (about 30 KB on a real host) stayed in memory for the whole run.
 */
function detached(f: Facts): Facts {
  return structuredClone(f);
}

export class Engine {
  readonly transports = new Map<string, Transport>();
  readonly facts = new Map<string, Facts>();
  readonly errors = new Map<string, string>();
  readonly plans = new Map<string, HostPlan>();
  private readonly requests = new Map<string, Required<ProbeRequest>>();
  private readonly tasks = new Map<string, Task[]>();
  private readonly prober: Prober;

  constructor(private readonly o: EngineOptions) {
    this.prober = o.prober ?? probeHost;
    for (const h of o.hosts) {
      const tasks = o.tasks ? o.tasks(h) : tasksForRoles(h.roles, o.onlyTasks);
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
    await gather(
      {
        hosts: this.o.hosts,
        forks: this.o.forks,
        connect: this.o.connect,
        probe: async (host, t) => {
          this.transports.set(host, t);
          return this.probe(host);
        },
        hostState: (h, s) => this.o.events?.hostState?.(h, s),
        log: (h, line) => this.o.runDir.log(h, line),
        ...(this.o.releaseAfterProbe ? { release: true } : {}),
      },
      { transports: this.transports, facts: this.facts, errors: this.errors },
    );
  }

  async probe(host: string): Promise<Facts> {
    const t = this.transports.get(host);
    if (!t) throw new Error(`${host}: not connected`);
    const req = this.requests.get(host);
    if (!req) throw new Error(`${host}: no probe request`);
    const f = detached(await this.prober(t, req, this.probeTimeoutMs(host)));
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
    const f = detached(await this.prober(t, req, this.probeTimeoutMs(host)));
    this.o.runDir.log(host, `${new Date().toISOString()} probe (${task.name}): ${f.probeMs} ms on host`);
    return overlayFacts(previous, f, req);
  }

  private fleetInputs() {
    return {
      inventory: this.o.inventory,
      hosts: this.o.hosts,
      facts: this.facts,
      errors: this.errors,
      tasks: this.tasks,
    };
  }

  private keep(plans: Map<string, HostPlan>): Map<string, HostPlan> {
    this.plans.clear();
    for (const [k, p] of plans) {
      this.plans.set(k, p);
      if (p.status === 'error') this.o.runDir.log(k, `ERROR planning: ${p.error ?? ''}`);
    }
    return this.plans;
  }

  /** Pure planning for every host (unreachable hosts get a plan with that status). */
  plan(): Map<string, HostPlan> {
    return this.keep(planFleet(this.fleetInputs()));
  }

  /** Pure: the inverse changes of every reversible task, in reverse playbook order. */
  planRollback(): Map<string, HostPlan> {
    return this.keep(planFleetRollback(this.fleetInputs()));
  }

  /** Apply plans (default: the ones just computed). */
  apply(opts: ApplyOptions & { plans?: Map<string, HostPlan> }): Promise<HostResult[]> {
    return applyPlans(
      {
        inventory: this.o.inventory,
        hosts: this.o.hosts,
        tasks: this.tasks,
        transports: this.transports,
        facts: this.facts,
        runDir: this.o.runDir,
        forks: this.o.forks,
        ...(this.o.commandTimeoutMs !== undefined ? { commandTimeoutMs: this.o.commandTimeoutMs } : {}),
        ...(this.o.events ? { events: this.o.events } : {}),
        reprobe: (host, task) => this.reprobe(host, task),
        reconnect: (host) => this.reconnect(host),
      },
      opts.plans ?? this.plans,
      opts,
    );
  }

  /** A new connection to a host (after a reboot): the old one is closed and replaced. */
  async reconnect(host: string): Promise<Transport> {
    const old = this.transports.get(host);
    if (old) await old.close().catch(() => undefined);
    const t = await this.o.connect(this.host(host));
    this.transports.set(host, t);
    return t;
  }

  async close(): Promise<void> {
    await Promise.all([...this.transports.values()].map((t) => t.close().catch(() => undefined)));
  }

  checks(host: string): CheckResult[] {
    return this.plans.get(host)?.checks ?? [];
  }
}
