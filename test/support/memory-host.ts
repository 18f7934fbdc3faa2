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
  /** /proc/sys/kernel/random/boot_id; a reboot gives a new one */
  bootId = '';
  boots = 0;
  /** while rebooting: connection attempts that still fail before the host is back */
  downFor = 0;
  /** a reboot leaves the host down for good (it does not come back) */
  neverReturns = false;
  /** connections from before the last reboot are dead */
  private generation = 0;
  /** reboots as [fleet time went down, fleet time back] */
  readonly reboots: Array<[number, number]> = [];
  /** connection attempts needed after a reboot before the host answers again */
  bootAttempts = 2;

  constructor(
    readonly name: string,
    private readonly fleet: MemoryFleet,
  ) {
    this.bootId = bootIdOf(name, 0);
  }

  /** A new connection; rejects while the host is down (rebooting, or never back). */
  connect(): Promise<Transport> {
    if (this.unreachable) return Promise.reject(new Error(this.unreachable));
    if (this.downFor > 0 || (this.neverReturns && this.boots > 0)) {
      this.downFor--;
      if (this.downFor === 0 && !this.neverReturns) this.boot();
      return Promise.reject(new Error(`${this.name}: connect ECONNREFUSED`));
    }
    return Promise.resolve(this.transport());
  }

  private boot(): void {
    this.bootId = bootIdOf(this.name, this.boots);
    this.state.set('booted', String(this.boots));
    const last = this.reboots.at(-1);
    if (last) last[1] = this.fleet.now();
  }

  transport(): Transport {
    this.stats.connections++;
    const gen = this.generation;
    return {
      name: this.name,
      stats: this.stats,
      exec: (command) =>
        gen === this.generation
          ? this.exec(command)
          : Promise.reject(new Error(`${this.name}: the SSH connection closed`)),
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
    if (command === 'cat /proc/sys/kernel/random/boot_id') return done(0, `${this.bootId}\n`);
    if (command.startsWith('nohup sh -c') && command.includes('systemctl reboot')) {
      // the detached reboot: this connection dies, the host is down for a few connection attempts
      this.boots++;
      this.generation++;
      this.downFor = this.bootAttempts;
      this.reboots.push([this.fleet.now(), 0]);
      return done(0);
    }
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

/** A boot id in the kernel's form, distinct per host and boot. */
export function bootIdOf(host: string, boot: number): string {
  const h = [...host]
    .reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7)
    .toString(16)
    .padStart(8, '0');
  return `${h.slice(0, 8)}-0000-4000-8000-${boot.toString(16).padStart(12, '0')}`;
}

/** The Engine's prober for memory hosts: the whole state, whatever was requested. */
export function memoryProber(fleet: MemoryFleet) {
  return (t: Transport, _req: Required<ProbeRequest>): Promise<Facts> => {
    const h = fleet.hosts.get(t.name);
    if (!h) return Promise.reject(new Error(`${t.name}: no such memory host`));
    return Promise.resolve(h.facts());
  };
}
