/**
 * Progress: listr2 (one line per host) on a TTY; plain, greppable lines in CI and when NO_COLOR or a
 * pipe is in use.
 * - gatherProgress: while every host is connected to and probed (facts, plan, verify, and the start of
 *   apply and rollback): "lb1: connecting" → "lb1: reading facts" → "lb1: facts read in 1.2 s" on a TTY;
 *   one "lb1 | facts read (1/5)" line per host on stderr otherwise (stdout stays the result).
 * - progressEvents: during apply/rollback, each host's current task ("lb1 | hugepages | changed").
 */
import { Listr } from 'listr2';
import type { EngineEvents, HostResult } from '../run/apply.js';
import { Deferred } from '../run/pool.js';
import type { Io } from './io.js';

export interface Progress {
  events: EngineEvents;
  start(hosts: string[]): void;
  stop(results: HostResult[]): Promise<void>;
}

/** listr2 only on an interactive terminal, outside CI, with colours wanted. */
export function fancyProgress(io: Io, env: NodeJS.ProcessEnv = process.env): boolean {
  return io.isTTY && env.CI === undefined && env.NO_COLOR === undefined;
}

export interface GatherProgress {
  events: EngineEvents;
  /** before the hosts are connected to: one line each */
  start(hosts: string[]): void;
  /** after: the lines end (nothing else is printed while they are drawn) */
  stop(): Promise<void>;
}

export function gatherProgress(io: Io, o: { fancy?: boolean } = {}): GatherProgress {
  const fancy = o.fancy ?? fancyProgress(io);
  let total = 0;
  let done = 0;
  if (!fancy)
    return {
      events: {
        hostState: (host, state) => {
          if (state === 'probed') io.err(`${host} | facts read (${++done}/${total})`);
          else if (state === 'unreachable') done++; // its error is printed once, with the result
        },
      },
      start: (hosts) => {
        total = hosts.length;
      },
      stop: () => Promise.resolve(),
    };

  const setTitle = new Map<string, (t: string) => void>();
  const pending = new Map<string, string>(); // a title set before its task ran
  const finish = new Map<string, Deferred<void>>();
  const began = new Map<string, number>();
  let running: Promise<unknown> = Promise.resolve();
  const title = (host: string, text: string): void => {
    const set = setTitle.get(host);
    if (set) set(`${host}: ${text}`);
    else pending.set(host, `${host}: ${text}`);
  };
  return {
    events: {
      hostState: (host, state) => {
        if (state === 'connecting') {
          began.set(host, Date.now());
          title(host, 'connecting');
        } else if (state === 'probing') title(host, 'reading facts');
        else if (state === 'probed') {
          const secs = ((Date.now() - (began.get(host) ?? Date.now())) / 1000).toFixed(1);
          title(host, `facts read in ${secs} s`);
          finish.get(host)?.resolve();
        } else if (state === 'unreachable') {
          title(host, 'unreachable (below)');
          finish.get(host)?.reject(new Error('unreachable'));
        }
      },
    },
    start(hosts) {
      for (const h of hosts) finish.set(h, new Deferred<void>());
      const list = new Listr(
        hosts.map((h) => ({
          title: `${h}: waiting`,
          task: async (_ctx: unknown, task: { title: string }) => {
            setTitle.set(h, (t) => {
              task.title = t;
            });
            const early = pending.get(h);
            if (early) task.title = early;
            await finish.get(h)?.promise;
          },
        })),
        {
          concurrent: true,
          exitOnError: false,
          registerSignalListeners: false,
          rendererOptions: { collapseErrors: true, showErrorMessage: false },
        },
      );
      running = list.run().catch(() => undefined);
    },
    async stop() {
      for (const d of finish.values()) d.resolve();
      await running;
    },
  };
}

/** Both sets of events, in order. */
export function bothEvents(a: EngineEvents, b: EngineEvents): EngineEvents {
  return {
    hostState: (h, st) => {
      a.hostState?.(h, st);
      b.hostState?.(h, st);
    },
    taskStart: (h, t, n) => {
      a.taskStart?.(h, t, n);
      b.taskStart?.(h, t, n);
    },
    taskEnd: (h, t, st, e) => {
      a.taskEnd?.(h, t, st, e);
      b.taskEnd?.(h, t, st, e);
    },
    info: (m) => {
      a.info?.(m);
      b.info?.(m);
    },
  };
}

export function progressEvents(io: Io): Progress {
  const fancy = fancyProgress(io);
  const titles = new Map<string, (t: string) => void>();
  const done = new Map<string, Deferred<void>>();
  let running: Promise<unknown> | null = null;
  let started = false;

  const line = (host: string, text: string, failure = false): void => {
    const set = titles.get(host);
    if (fancy && set) set(`${host}: ${text}`);
    else if (started || !fancy) (failure ? io.err : io.out)(`${host} | ${text}`);
  };

  return {
    events: {
      hostState: (host, state) => {
        if (!fancy && state === 'unreachable') io.err(`${host} | ${state}`);
      },
      taskStart: (host, task, n) => line(host, `${task}: applying ${n} change(s)`),
      taskEnd: (host, task, status, error) =>
        line(host, `${task} | ${status}${error ? `: ${error.split('\n')[0]}` : ''}`, status === 'failed'),
      info: (m) => io.out(m),
    },
    start(hosts) {
      started = true;
      if (!fancy) return;
      for (const h of hosts) done.set(h, new Deferred<void>());
      const list = new Listr(
        hosts.map((h) => ({
          title: h,
          task: async (_ctx: unknown, task: { title: string }) => {
            titles.set(h, (t) => {
              task.title = t;
            });
            await done.get(h)?.promise;
          },
        })),
        { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } },
      );
      running = list.run().catch(() => undefined);
    },
    async stop(results) {
      if (!fancy) return;
      for (const r of results) {
        const d = done.get(r.host);
        const set = titles.get(r.host);
        if (set) set(`${r.host}: ${r.status}${r.changed ? ` (${r.changed} change(s))` : ''}`);
        if (r.status === 'failed' || r.status === 'unreachable' || r.status === 'blocked')
          d?.reject(new Error(r.error ?? r.status));
        else d?.resolve();
      }
      await running;
    },
  };
}
