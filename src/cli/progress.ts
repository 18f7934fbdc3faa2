/**
 * Progress during apply: listr2 (one line per host, its current task) on a TTY; plain, greppable lines
 * ("lb1 | hugepages | changed") in CI and when NO_COLOR or a pipe is in use.
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

export function progressEvents(io: Io): Progress {
  const fancy = io.isTTY && process.env.CI === undefined && process.env.NO_COLOR === undefined;
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
