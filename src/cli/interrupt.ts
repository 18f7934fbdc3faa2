/**
 * Ctrl-C during apply. The first SIGINT aborts `signal`: the engine starts no new step, running steps
 * end (each is bounded by its command timeout, and the whole wind-down by `graceMs`), locks are released
 * and the report is written; the command then exits 130. A second SIGINT (or the grace running out)
 * exits at once with 130, leaving any host lock stale-detectable (`apply --break-lock`).
 */
export const INTERRUPTED_EXIT = 130;

export interface Interrupt {
  readonly signal: AbortSignal;
  readonly interrupted: boolean;
  /** Remove the handlers (call in finally). */
  dispose(): void;
}

export interface InterruptOptions {
  /** Told once, on the first SIGINT. */
  notify(message: string): void;
  /** How long the wind-down may take before exiting anyway (default 60 s). */
  graceMs?: number;
  /** Process exit (injectable for tests). */
  exit?: (code: number) => void;
  /** Where the handler is installed (injectable for tests). */
  target?: NodeJS.EventEmitter;
}

export function installInterrupt(o: InterruptOptions): Interrupt {
  const ac = new AbortController();
  const target = o.target ?? process;
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let timer: NodeJS.Timeout | undefined;
  const onSigint = (): void => {
    if (ac.signal.aborted) {
      o.notify('interrupted again: exiting now (host locks may be left; they are reported as stale)');
      exit(INTERRUPTED_EXIT);
      return;
    }
    ac.abort(new Error('interrupted'));
    o.notify(
      'interrupted: starting no new steps; waiting for running steps to end, then releasing locks (Ctrl-C again to exit now)',
    );
    timer = setTimeout(() => {
      o.notify('interrupted: running steps did not end in time: exiting');
      exit(INTERRUPTED_EXIT);
    }, o.graceMs ?? 60_000);
    timer.unref();
  };
  target.on('SIGINT', onSigint);
  return {
    signal: ac.signal,
    get interrupted() {
      return ac.signal.aborted;
    },
    dispose() {
      target.removeListener('SIGINT', onSigint);
      if (timer) clearTimeout(timer);
    },
  };
}
