/**
 * End to end against the lab's dpip/ipvsadm simulator (test/lab/fixtures/.../dpvssim.py): the daemon
 * side is started directly (no sysfs, no namespaces; four links, a unix socket in a temp dir), the
 * planned commands are run through the real tool front-ends, the outputs are probed with the tasks'
 * own probe commands, and the re-plan must be empty. Then: an RS removed, and a dpvs restart + the
 * restore script. Skipped when the simulator or python3 is absent.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { ServiceEntry } from '../../../src/inventory/schema.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { lbOutputs, RESTORE_SCRIPT_PATH } from '../../../src/lb/current.js';
import type { Change } from '../../../src/plan/change.js';
import { dpvsNetworkTask, lbNotes } from '../../../src/tasks/dpvs-network.js';
import { lbServicesTask } from '../../../src/tasks/lb-services.js';
import { binsFor } from '../../../src/lb/plan-support.js';
import { ctxOf, emptyFacts, tutorialHost, tutorialService } from './support.js';

const SIM = path.resolve('test/lab/fixtures/src/dpvs-common/tools/sim/dpvssim.py');
const VERSION = '1.9.10';
const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'pass']);
    return true;
  } catch {
    return false;
  }
})();

const HARNESS = `
import sys, importlib.util
sys.argv = ['dpvssim', 'dpvs', '${VERSION}', '2025-06-23', '20.11.10', '2', 'n']
spec = importlib.util.spec_from_file_location('dpvssim', ${JSON.stringify(SIM)})
m = importlib.util.module_from_spec(spec)
sys.modules['dpvssim'] = m
spec.loader.exec_module(m)
d = m.Daemon('/nonexistent.conf', sys.stdin.readline().strip(), IPC, [])
d.file_prefix = 'lbtest'
d.pool_hash = 16
for i in range(4):
    d.links.append({'id': i + 1, 'name': 'dpdk%d' % i, 'socket': 0, 'mtu': 1500, 'rxq': 1, 'txq': 1, 'up': True,
                    'speed': 10000, 'mac': 'A0:36:9F:00:00:0%d' % i, 'bdf': '0000:04:00.%d' % i, 'kni': 'dpdk%d.kni' % i,
                    'stats': {}})
d.serve()
`;

describe.skipIf(!existsSync(SIM) || !hasPython)('LB tasks against the dpip/ipvsadm simulator', () => {
  let dir = '';
  let ipc = '';
  let daemon: ChildProcess | null = null;
  let host: ResolvedHost;

  const startDaemon = async (): Promise<void> => {
    const script = HARNESS.replace('IPC', JSON.stringify(ipc));
    daemon = spawn('python3', ['-c', script], { stdio: ['pipe', 'ignore', 'inherit'] });
    daemon.stdin?.end(path.join(dir, 'dpvs.pid') + '\n');
    for (let i = 0; i < 100 && !existsSync(ipc); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(ipc)).toBe(true);
  };
  const stopDaemon = async (): Promise<void> => {
    const d = daemon;
    if (!d?.pid) return;
    const gone = new Promise((r) => d.once('exit', r));
    process.kill(d.pid, 'SIGKILL');
    await gone;
    daemon = null;
    execFileSync('rm', ['-f', ipc]);
  };

  const run = (command: string): void => {
    execFileSync('sh', ['-c', command], { env: { ...process.env, DPVS_IPC_FILE: ipc }, stdio: 'pipe' });
  };
  const probe = (h: ResolvedHost): Facts['outputs'] => {
    const out: Facts['outputs'] = {};
    for (const [k, c] of Object.entries(lbOutputs(binsFor(h)))) {
      try {
        out[k] = {
          code: 0,
          stdout: execFileSync('sh', ['-c', c], { env: { ...process.env, DPVS_IPC_FILE: ipc } }).toString(),
        };
      } catch (e) {
        out[k] = { code: (e as { status: number }).status, stdout: '' };
      }
    }
    return out;
  };
  /** plan both tasks, run their exec steps against the simulator, keep their files; return changes */
  const planAndApply = (services: ServiceEntry[], facts: Facts): { changes: Change[]; facts: Facts } => {
    const ctx = ctxOf(host, services, facts);
    const net = dpvsNetworkTask.plan(ctx);
    const svc = lbServicesTask.plan({ ...ctx, facts: net.projected ?? facts });
    const changes = [...net.changes, ...svc.changes];
    const files = { ...facts.files };
    for (const c of changes)
      for (const s of c.steps) {
        if (s.kind === 'exec' && !s.command.startsWith('mkdir')) run(s.command);
        if (s.kind === 'write')
          files[s.path] = { exists: true, sha256: null, mode: null, content: s.content };
      }
    return { changes, facts: { ...facts, files, outputs: probe(host) } };
  };
  const lbChanges = (cs: Change[]): string[] =>
    cs.filter((c) => /^lb\/(address|route|service|real-server|laddr)\//.test(c.id)).map((c) => c.summary);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'lb-sim-'));
    ipc = path.join(dir, 'dpvs.ipc');
    const bin = path.join(dir, 'dpvs', 'current', 'bin');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['dpip', 'ipvsadm'])
      writeFileSync(
        path.join(bin, tool),
        `#!/bin/sh\nexec python3 ${SIM} ${tool} ${VERSION} 2025-06-23 20.11.10 2 n "$@"\n`,
        { mode: 0o755 },
      );
    host = tutorialHost({ dpvs: { version: VERSION, prefix: path.join(dir, 'dpvs') } });
    await startDaemon();
  });
  afterAll(async () => {
    await stopDaemon();
  });

  it('applies the tutorial plan, then plans nothing; removes one RS; restores after a restart', async () => {
    const two = [
      tutorialService({
        real_servers: [
          { address: '192.168.229.1', port: 80 },
          { address: '192.168.229.2', port: 80, weight: 3 },
        ],
      }),
    ];
    let facts = emptyFacts({ outputs: probe(host) });
    const first = planAndApply(two, facts);
    expect(lbChanges(first.changes)).toHaveLength(8);
    facts = first.facts;

    const again = planAndApply(two, facts);
    expect(again.changes).toEqual([]);
    expect(lbNotes(ctxOf(host, two, facts)).unmanaged).toEqual([]);

    const removed = planAndApply([tutorialService()], facts);
    expect(
      removed.changes
        .flatMap((c) => c.steps.flatMap((s) => (s.kind === 'exec' ? [s.command] : [])))
        .filter((c) => c.includes('ipvsadm')),
    ).toEqual([`${path.join(dir, 'dpvs/current/bin/ipvsadm')} -d -t 10.0.96.204:80 -r 192.168.229.2:80`]);
    facts = removed.facts;

    // dpvs restarts empty; the restore script puts everything back
    await stopDaemon();
    await startDaemon();
    const script = facts.files[RESTORE_SCRIPT_PATH]?.content ?? '';
    const file = path.join(dir, 'restore.sh');
    writeFileSync(file, script);
    run(`sh ${file}`);
    const restored = { ...facts, outputs: probe(host) };
    expect(planAndApply([tutorialService()], restored).changes).toEqual([]);
  }, 600_000); // each simulated tool call starts python (slow on a loaded 2-core machine)
});
