/**
 * What facts, plan, apply and verify share: load the inventory, select hosts, open the run directory,
 * connect and probe every host (one connection, one exec each), and plan.
 */
import { parseTaskFilter } from '../run/playbooks.js';
import { loadInventory } from '../inventory/load.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import { connectHost } from '../transport/connect.js';
import { Engine, type EngineEvents } from '../run/engine.js';
import { inventorySecrets, Redactor } from '../run/redact.js';
import { selectHosts } from '../run/select.js';
import { RunDir } from '../run/transcript.js';
import type { Io } from './io.js';
import { bothEvents, type GatherProgress, gatherProgress } from './progress.js';

export interface CommonOptions {
  limit?: string;
  /** comma-separated task names (`--tasks`) */
  tasks?: string;
  forks?: number;
  runDir?: string;
  acceptNewHostKeys?: boolean;
  sshConfig?: string;
}

export interface Session {
  inventory: LoadedInventory;
  hosts: ResolvedHost[];
  engine: Engine;
  runDir: RunDir;
  redactor: Redactor;
}

export async function openSession(
  file: string,
  command: string,
  o: CommonOptions,
  io: Io,
  events?: EngineEvents,
  /** progress while the hosts are connected to and probed (default: per host, listr2 on a TTY) */
  gather: GatherProgress = gatherProgress(io),
): Promise<Session> {
  const inventory = await loadInventory(file);
  const hosts = selectHosts(inventory.hosts, o.limit);
  const redactor = new Redactor(inventorySecrets(inventory));
  const runDir = new RunDir(o.runDir ?? '.dpvs-deploy/runs', command, redactor);
  const engine = new Engine({
    inventory,
    hosts,
    runDir,
    forks: Math.max(1, o.forks ?? 50),
    // commands that only read the hosts need no connection after the probe
    releaseAfterProbe: command === 'plan' || command === 'verify' || command === 'facts',
    events: events ? bothEvents(gather.events, events) : gather.events,
    ...(o.tasks ? { onlyTasks: parseTaskFilter(o.tasks) } : {}),
    connect: (h) =>
      connectHost(h, {
        inventoryDir: inventory.dir,
        ...(o.acceptNewHostKeys ? { hostKeyPolicy: 'accept-new' as const } : {}),
        ...(o.sshConfig ? { sshConfigPath: o.sshConfig } : {}),
        onNotice: (m) => {
          io.err(`${h.name}: ${m}`);
          runDir.log(h.name, m);
        },
        onTranscript: (e) =>
          runDir.log(
            h.name,
            `${new Date().toISOString()} $ ${e.command}\n${e.stdout ? e.stdout.trimEnd() + '\n' : ''}${e.stderr ? `[stderr] ${e.stderr.trimEnd()}\n` : ''}[exit ${e.code ?? 'signal'} in ${e.durationMs} ms]`,
          ),
      }),
  });
  io.debug(`run directory: ${runDir.dir}`);
  gather.start(hosts.map((h) => h.name));
  try {
    await engine.gather();
  } finally {
    await gather.stop();
  }
  return { inventory, hosts, engine, runDir, redactor };
}
