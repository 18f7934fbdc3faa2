/**
 * Failure headlines lead with the cause, and the dpvs health gate gives up as soon as dpvs's main process
 * exited or restarted. The shell of src/tasks/cause.ts runs for real against scripted `journalctl` and
 * `systemctl show` outputs (a bin directory first on PATH), and the engine's wait step runs it through a
 * local transport.
 *
 * The journals are systemd's short format ("Mon DD HH:MM:SS host ident[pid]: message") with what DPDK
 * 20.11.10 and DPVS 1.9.10 print at start (dpdk-stable-20.11.10 from dpdk_20.11.10.orig.tar.xz, sha256
 * 60d1ccd0…cd530):
 * - rte_panic: lib/librte_eal/common/eal_common_debug.c:18 `rte_log(CRIT, EAL, "PANIC in %s():\n")`,
 *   then the message (:20), then abort() (:23): systemd's "code=dumped, status=6/ABRT";
 *   lib/librte_eal/linux/eal.c:1264 `rte_panic("Cannot set affinity\n")` in rte_eal_init;
 * - rte_eal_init_alert: lib/librte_eal/linux/eal.c:927 `fprintf(stderr, "EAL: FATAL: %s\n")` and :928
 *   `RTE_LOG(ERR, EAL, "%s\n")`; :1136 "Cannot get hugepage information.";
 * - rte_exit: eal_common_debug.c:36-37 "Error - exiting with code: %d\n  Cause: " then the message;
 *   v1.9.10:src/main.c:330 "Invalid EAL parameters", v1.9.10:src/netif.c:1113 "Cannot init mbuf pool on
 *   socket %d".
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CommandError, headline } from '../../../src/errors.js';
import type { Step } from '../../../src/plan/change.js';
import { runStep } from '../../../src/run/steps.js';
import type { RunDir } from '../../../src/run/transcript.js';
import {
  journalCauseCommand,
  UNIT_GONE_EXIT,
  unitGoneCommand,
  unitStartCommand,
} from '../../../src/tasks/cause.js';
import { healthWait } from '../../../src/tasks/dpvs/restart.js';
import type { ExecResult, Transport } from '../../../src/transport/types.js';
import { r630Host } from '../../support/facts-builder.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'failure-cause-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const bin = path.join(tmp, 'bin');
const state = path.join(tmp, 'state');
mkdirSync(bin, { recursive: true });

/**
 * systemctl: `show` prints state/show.<n> for its n-th call (the last one once they run out), `start` and
 * `restart` exit with state/start-rc; journalctl prints state/journal.
 */
writeFileSync(
  path.join(bin, 'systemctl'),
  `#!/bin/sh
case $1 in
  show) n=$(cat "$FAKE/show-calls" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$FAKE/show-calls"
        f="$FAKE/show.$n"; [ -f "$f" ] || f=$(ls "$FAKE"/show.* | sort -t. -k2 -n | tail -n 1); cat "$f";;
  start|restart) exit "$(cat "$FAKE/start-rc")";;
esac
`,
);
writeFileSync(path.join(bin, 'journalctl'), '#!/bin/sh\ncat "$FAKE/journal"\n');
for (const f of ['systemctl', 'journalctl']) chmodSync(path.join(bin, f), 0o755);

function run(command: string) {
  return spawnSync('sh', ['-c', command], {
    encoding: 'utf8',
    env: { ...process.env, FAKE: state, PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
}

function journal(lines: string[]): void {
  writeFileSync(path.join(state, 'journal'), lines.map((l) => `${l}\n`).join(''));
}

const sd = (msg: string): string => `Dec 07 12:00:01 lb1 systemd[1]: ${msg}`;
const dpvs = (msg: string): string => `Dec 07 12:00:01 lb1 dpvs[4242]: ${msg}`;

/** `systemctl show` output: systemd prints the properties in its own order, one Key=Value a line. */
function show(p: Record<string, string | number>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

beforeEach(() => {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(path.join(state, 'start-rc'), '0');
});

const PANIC_LOOP = [
  sd('Starting dpvs.service - DPVS...'),
  sd('Started dpvs.service - DPVS.'),
  dpvs('EAL: Detected 4 lcore(s)'),
  dpvs('PANIC in rte_eal_init():'),
  dpvs('Cannot set affinity'),
  dpvs('6: [/opt/dpvs/current/bin/dpvs(rte_dump_stack+0x1b) [0x55d5c4a1c2bb]]'),
  sd('dpvs.service: Main process exited, code=dumped, status=6/ABRT'),
  sd("dpvs.service: Failed with result 'core-dump'."),
  sd('dpvs.service: Scheduled restart job, restart counter is at 1.'),
  sd('Stopped dpvs.service - DPVS.'),
  sd('Starting dpvs.service - DPVS...'),
  sd('Started dpvs.service - DPVS.'),
  dpvs('EAL: Detected 4 lcore(s)'),
];

describe("the journal's cause of dpvs's last exit", () => {
  it('a panic: DPDK\'s "PANIC in f():" with the line after it', () => {
    journal(PANIC_LOOP);
    expect(run(journalCauseCommand('dpvs')).stdout).toBe(
      'cause: PANIC in rte_eal_init(): Cannot set affinity\n',
    );
  });

  it("EAL's init alert (no hugepages): the EAL line, not rte_exit's generic cause", () => {
    journal([
      sd('Starting dpvs.service - DPVS...'),
      dpvs('EAL: FATAL: Cannot get hugepage information.'),
      dpvs('EAL: Cannot get hugepage information.'),
      dpvs('EAL: Error - exiting with code: 1'),
      dpvs('  Cause: Invalid EAL parameters'),
      sd('dpvs.service: Main process exited, code=exited, status=1/FAILURE'),
    ]);
    expect(run(journalCauseCommand('dpvs')).stdout).toBe(
      'cause: EAL: FATAL: Cannot get hugepage information.\n',
    );
  });

  it("rte_exit's cause (mbuf pool); lines of an earlier attempt do not count", () => {
    journal([
      sd('Starting dpvs.service - DPVS...'),
      dpvs('PANIC in rte_eal_init():'),
      dpvs('Cannot set affinity'),
      sd('dpvs.service: Main process exited, code=dumped, status=6/ABRT'),
      sd('Starting dpvs.service - DPVS...'),
      dpvs('EAL: Error - exiting with code: 1'),
      dpvs('  Cause: Cannot init mbuf pool on socket 0'),
      sd('dpvs.service: Main process exited, code=exited, status=1/FAILURE'),
    ]);
    expect(run(journalCauseCommand('dpvs')).stdout).toBe('cause: Cause: Cannot init mbuf pool on socket 0\n');
  });

  it("no line of dpvs's own: systemd's exit line; an empty journal: nothing", () => {
    journal([
      sd('Starting dpvs.service - DPVS...'),
      sd('dpvs.service: Main process exited, code=killed, status=9/KILL'),
    ]);
    expect(run(journalCauseCommand('dpvs')).stdout).toBe(
      'cause: dpvs.service: Main process exited, code=killed, status=9/KILL\n',
    );
    journal([]);
    expect(run(journalCauseCommand('dpvs')).stdout).toBe('');
  });

  it('bare lines (no journal prefix) are read the same way', () => {
    journal(['PANIC in rte_eal_init():', 'Cannot set affinity']);
    expect(run(journalCauseCommand('dpvs')).stdout).toBe(
      'cause: PANIC in rte_eal_init(): Cannot set affinity\n',
    );
  });
});

describe('systemctl start|restart dpvs fails: the cause is in the same exec, and leads the headline', () => {
  it('prints the cause on stderr and keeps systemctl’s exit status', () => {
    journal(PANIC_LOOP.slice(0, 8));
    writeFileSync(path.join(state, 'start-rc'), '1');
    const r = run(unitStartCommand('start', 'dpvs'));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('cause: PANIC in rte_eal_init(): Cannot set affinity\n');
    const e = new CommandError('lb1', unitStartCommand('start', 'dpvs'), r.status, r.stdout, r.stderr);
    expect(e.message.split('\n')[0]).toMatch(
      /^lb1: PANIC in rte_eal_init\(\): Cannot set affinity \(command failed \(exit 1\): systemctl start dpvs /,
    );
  });

  it('a started unit: nothing printed, exit 0', () => {
    const r = run(unitStartCommand('restart', 'dpvs'));
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
  });

  it('a command without a cause line keeps the old headline', () => {
    expect(headline('make', 2, 'out\n', 'err\n')).toBe('command failed (exit 2): make');
    expect(headline('make', 2, 'cause: from stdout\n', 'x\n')).toBe(
      'from stdout (command failed (exit 2): make)',
    );
  });
});

describe("the health gate's unit check", () => {
  const running = {
    ActiveState: 'active',
    SubState: 'running',
    NRestarts: 0,
    ExecMainCode: 0,
    ExecMainStatus: 0,
  };
  const cases: Array<[string, Record<string, string | number>, RegExp | null]> = [
    ['running, never restarted', { ...running, MainPID: 4242 }, null],
    ['starting (ExecStartPre)', { ...running, ActiveState: 'activating', SubState: 'start-pre' }, null],
    [
      'exited, restart scheduled',
      { ...running, ActiveState: 'activating', SubState: 'auto-restart', ExecMainCode: 3, ExecMainStatus: 6 },
      /systemd is waiting to restart it \(activating, auto-restart\); last exit: ExecMainCode=3 ExecMainStatus=6$/,
    ],
    [
      'restarted once and running again',
      { ...running, NRestarts: 1, MainPID: 4300 },
      /systemd restarted it 1 time\(s\) \(NRestarts=1\)/,
    ],
    [
      'failed (restarts exhausted)',
      { ...running, ActiveState: 'failed', SubState: 'failed', ExecMainCode: 1, ExecMainStatus: 1 },
      /systemd is failed \(failed\); last exit: ExecMainCode=1 ExecMainStatus=1$/,
    ],
  ];
  it.each(cases)('%s', (_what, props, gone) => {
    journal(PANIC_LOOP);
    writeFileSync(path.join(state, 'show.1'), show(props));
    const r = run(unitGoneCommand('dpvs'));
    if (!gone) {
      expect([r.status, r.stdout]).toEqual([0, '']);
      return;
    }
    expect(r.status).toBe(UNIT_GONE_EXIT);
    const [cause, state1] = r.stdout.trimEnd().split('\n');
    expect(cause).toBe('cause: PANIC in rte_eal_init(): Cannot set affinity');
    expect(state1).toMatch(/^dpvs's main process exited since the start: /);
    expect(state1).toMatch(gone);
  });

  it('no systemctl answer (not systemd): the gate goes on to the health check', () => {
    writeFileSync(path.join(state, 'show.1'), '');
    expect(run(unitGoneCommand('dpvs')).status).toBe(0);
  });
});

/** A transport running commands here with the scripted systemctl/journalctl first on PATH. */
function localTransport(): Transport & { commands: string[] } {
  const commands: string[] = [];
  return {
    name: 'lb1',
    commands,
    stats: { connections: 0, execs: 0, uploads: 0 },
    exec(command: string): Promise<ExecResult> {
      commands.push(command);
      const r = run(command);
      return Promise.resolve({ stdout: r.stdout, stderr: r.stderr, code: r.status, durationMs: 0 });
    },
    put: () => Promise.reject(new Error('not used')),
    get: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
  };
}

describe('the dpvs health gate gives up on the first crash, with the cause as its headline', () => {
  it('polls while dpvs runs (not healthy yet), stops at the first exit instead of waiting 90 s', async () => {
    journal(PANIC_LOOP.slice(0, 9));
    writeFileSync(
      path.join(state, 'show.1'),
      show({ ActiveState: 'active', SubState: 'running', NRestarts: 0 }),
    );
    writeFileSync(
      path.join(state, 'show.2'),
      show({
        ActiveState: 'activating',
        SubState: 'auto-restart',
        NRestarts: 0,
        ExecMainCode: 3,
        ExecMainStatus: 6,
      }),
    );
    const h = r630Host({ dpvs: { version: '1.9.10', prefix: path.join(tmp, 'no-dpvs') } });
    const step = { ...healthWait(h, 'echo journal follows'), intervalMs: 10 } as Step & { kind: 'wait' };
    expect(step.timeoutMs).toBe(90_000);
    const t = localTransport();
    const err = await runStep(step, {
      transport: t,
      runDir: {} as RunDir,
      inventoryDir: tmp,
      artifactSource: () => Promise.reject(new Error('not used')),
      defaultTimeoutMs: 10_000,
    }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(CommandError);
    const lines = (err as Error).message.split('\n');
    expect(lines[0]).toBe(
      `lb1: PANIC in rte_eal_init(): Cannot set affinity (gave up waiting until ${step.description})`,
    );
    expect(lines).toContain(
      "dpvs's main process exited since the start: systemd is waiting to restart it (activating, auto-restart); last exit: ExecMainCode=3 ExecMainStatus=6",
    );
    expect(lines.at(-1)).toBe('journal follows');
    // the first poll ran the health check (dpvs not answering yet), the second gave up; then onFailure
    expect(readFileSync(path.join(state, 'show-calls'), 'utf8').trim()).toBe('2');
    expect(t.commands.length).toBe(3);
  });
});
