/**
 * An in-memory host for the engine's unit tests: a Transport whose commands act on a small key/value
 * state instead of a shell, plus a prober that reads that state as facts. Commands are a tiny language
 * the test tasks plan (`set KEY VALUE`, `fail MESSAGE`, `hold NAME`), and the engine's own lock
 * protocol (src/run/lock.ts: mkdir of LOCK_DIR with the owner's JSON, removal by the owner) is
 * recognised by its lock directory. Every command is recorded with its start and end time, so tests
 * can assert order and overlap.
 */
import { LOCK_DIR } from '../../src/run/lock.js';
import type { Facts, ProbeRequest } from '../../src/facts/types.js';
import type { ExecResult, Transport, TransportStats } from '../../src/transport/types.js';
import { factsBuilder } from './facts-builder.js';

export interface Exec {
  host: string;
  command: string;
  start: number;
  end: number;
}

/** Shared by every host of one test: the global order of commands and a clock. */
export class MemoryFleet {
  readonly execs: Exec[] = [];
  private tick = 0;
  private readonly holds = new Map<
    string,
    { release: () => void; reached: Promise<void>; arrive: () => void }
  >();
  readonly hosts = new Map<string, MemoryHost>();

  now(): number {
    return ++this.tick;
  }

  host(name: string): MemoryHost {
    let h = this.hosts.get(name);
    if (!h) {
      h = new MemoryHost(name, this);
      this.hosts.set(name, h);
    }
    return h;
  }

  private hold(name: string) {
    let h = this.holds.get(name);
    if (!h) {
      let release!: () => void;
      let arrive!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const reached = new Promise<void>((r) => (arrive = r));
      h = { release, reached, arrive };
      (h as unknown as { released: Promise<void> }).released = released;
      this.holds.set(name, h);
    }
    return h as typeof h & { released: Promise<void> };
  }

  /** Resolves when a command `hold NAME` has started; the command ends when release(NAME) is called. */
  reached(name: string): Promise<void> {
    return this.hold(name).reached;
  }

  release(name: string): void {
    this.hold(name).release();
  }

  async waitHold(name: string): Promise<void> {
    const h = this.hold(name);
    h.arrive();
    await h.released;
  }

  /** Commands of one host, in order, without the lock protocol's. */
  commandsOf(host: string): string[] {
    return this.execs.filter((e) => e.host === host && !e.command.includes(LOCK_DIR)).map((e) => e.command);
  }
}

export class MemoryHost {
  readonly state = new Map<string, string>();
  /** The lock owner's JSON while the apply lock is held. */
  lock: string | null = null;
  /** Connecting fails with this message (an unreachable host). */
  unreachable?: string;
  probes = 0;
  readonly stats: TransportStats = { connections: 0, execs: 0, uploads: 0 };

  constructor(
    readonly name: string,
    private readonly fleet: MemoryFleet,
  ) {}

  transport(): Transport {
    this.stats.connections++;
    return {
      name: this.name,
      stats: this.stats,
      exec: (command) => this.exec(command),
      put: (path, content) => {
        this.state.set(`file:${path}`, content.toString());
        return Promise.resolve();
      },
      get: (path) => Promise.resolve(Buffer.from(this.state.get(`file:${path}`) ?? '')),
      close: () => Promise.resolve(),
    };
  }

  private async exec(command: string): Promise<ExecResult> {
    this.stats.execs++;
    const e: Exec = { host: this.name, command, start: this.fleet.now(), end: 0 };
    this.fleet.execs.push(e);
    const done = (code: number, stdout = '', stderr = ''): ExecResult => {
      e.end = this.fleet.now();
      return { code, stdout, stderr, durationMs: 0 };
    };
    // let other hosts' work interleave, as a network round trip does
    await new Promise((r) => setImmediate(r));
    if (command.includes(LOCK_DIR)) return done(...this.lockCommand(command));
    const [verb, key = '', ...rest] = command.split(' ');
    switch (verb) {
      case 'set':
        this.state.set(key, rest.join(' '));
        return done(0);
      case 'fail':
        return done(1, '', [key, ...rest].join(' '));
      case 'hold':
        await this.fleet.waitHold(key);
        return done(0);
      default:
        return done(127, '', `memory host: unknown command: ${command}`);
    }
  }

  private lockCommand(command: string): [number, string, string?] {
    if (command.startsWith(`rm -rf ${LOCK_DIR}`)) this.lock = null;
    if (command.includes('echo acquired')) {
      if (this.lock !== null) return [75, this.lock];
      const info = /printf '%s(?:\\n|\n)' '(\{.*?\})' >/.exec(command)?.[1];
      this.lock = info ?? '{}';
      return [0, 'acquired'];
    }
    if (command.includes('grep -q')) {
      const pid = /"pid":(\d+)/.exec(command)?.[1];
      if (this.lock !== null && pid !== undefined && this.lock.includes(`"pid":${pid}`)) this.lock = null;
      return [0, ''];
    }
    return [1, '', 'memory host: unknown lock command'];
  }

  /** The host's state as facts: every `set KEY VALUE` is facts.outputs[KEY].stdout. */
  facts(): Facts {
    this.probes++;
    const f = factsBuilder().build();
    const outputs: Facts['outputs'] = {};
    for (const [k, v] of this.state) outputs[k] = { code: 0, stdout: v };
    return { ...f, outputs };
  }
}

/** The Engine's prober for memory hosts: the whole state, whatever was requested. */
export function memoryProber(fleet: MemoryFleet) {
  return (t: Transport, _req: Required<ProbeRequest>): Promise<Facts> => {
    const h = fleet.hosts.get(t.name);
    if (!h) return Promise.reject(new Error(`${t.name}: no such memory host`));
    return Promise.resolve(h.facts());
  };
}
