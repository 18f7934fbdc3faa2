/**
 * Fault injection against the lab during `apply` (hugepages + nofile tasks only): sshd killed, link cut,
 * a hanging command, a full disk, permission denied, Ctrl-C. For each: a clear error for that host, the
 * other host finishes, no half-written file, the lock released or breakable, and a rerun converges.
 * Needs root and the lab (run under `flock /tmp/dd-lab.lock`).
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyCommand, planCommand } from '../../src/cli/commands.js';
import { NOFILE_PATH, renderLimits, DEFAULT_NOFILE } from '../../src/tasks/nofile.js';
import { ensureLab, labSsh, stopLab, type LabInfo } from '../lab/harness.js';
import { NAME_PREFIX } from '../lab/instance.js';
import { labPaths } from '../lab/paths.js';
import { captureIo, labInventory, recordResult } from './reliability-support.js';

vi.mock('../../src/run/playbooks.js', async () => {
  const { hugepagesTask } = await import('../../src/tasks/hugepages.js');
  const { nofileTask } = await import('../../src/tasks/nofile.js');
  return {
    playbookTasks: (role: string) => (role === 'balancer' ? ['hugepages', 'nofile'] : []),
    tasksForRoles: (roles: ReadonlyArray<string>) =>
      roles.includes('balancer') ? [hugepagesTask, nofileTask] : [],
  };
});

const SUITE = 'faults';
const HP = '/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages';
const WANT = renderLimits(DEFAULT_NOFILE);
let lab: LabInfo;
let runBase: string;

beforeAll(async () => {
  lab = await ensureLab();
  runBase = mkdtempSync(path.join(tmpdir(), 'dd-faults-runs-'));
});

afterAll(async () => {
  await stopLab();
  rmSync(runBase, { recursive: true, force: true });
});

/** Make both hosts need changes in both tasks again. */
async function unconverge(hosts: string[]): Promise<void> {
  for (const h of hosts) {
    const r = await labSsh(h, `rm -f ${NOFILE_PATH} && echo 0 > ${HP}`);
    expect(r.code, r.stderr).toBe(0);
  }
}

async function apply(inv: string, extra: Record<string, unknown> = {}, onLine?: (l: string) => void) {
  const io = captureIo();
  if (onLine) io.onLine = onLine;
  const code = await applyCommand(inv, { yes: true, runDir: runBase, forks: 10, ...extra }, io);
  return { code, out: io.lines.join('\n'), err: io.errors.join('\n') };
}

async function plan(inv: string): Promise<number> {
  return planCommand(inv, { runDir: runBase, forks: 10 }, captureIo());
}

/** No temp file left anywhere we write, and the nofile file is old (absent) or new content. */
async function assertNoHalfWrites(host: string): Promise<void> {
  const r = await labSsh(
    host,
    `find /etc /var/lib/dpvs-deploy -name '.*.dpvs-deploy.*' 2>/dev/null; echo ---; cat ${NOFILE_PATH} 2>/dev/null || echo ABSENT`,
  );
  const [temps, content] = r.stdout.split('---\n');
  expect(temps?.trim(), `temp files on ${host}`).toBe('');
  expect(['ABSENT\n', WANT]).toContain(content);
}

/** Rerun apply (breaking our own left lock if the fault left one) until plan is empty. */
async function converge(inv: string): Promise<{ brokeLock: boolean }> {
  let r = await apply(inv);
  let brokeLock = false;
  if (r.code !== 0 && /locked by/.test(r.out + r.err)) {
    brokeLock = true;
    r = await apply(inv, { breakLock: true });
  }
  expect(r.code, r.out + r.err).toBe(0);
  expect(await plan(inv)).toBe(0);
  return { brokeLock };
}

/** Plant an executable on a host that shadows `name` (first in root's PATH). */
async function plantScript(host: string, name: string, script: string): Promise<void> {
  const cfg = lab.sshConfig;
  execFileSync(
    'ssh',
    ['-F', cfg, host, '--', `cat > /usr/local/sbin/${name} && chmod 755 /usr/local/sbin/${name}`],
    { input: script },
  );
}

async function unplant(host: string, name: string): Promise<void> {
  await labSsh(host, `rm -f /usr/local/sbin/${name}`);
}

/**
 * A `mount` that, for hugetlbfs, creates `started` and blocks until `go` exists (at most 60 s), then
 * mounts: a fault injected between the two lands mid-step, synchronised on the event, not on a timer.
 */
function blockingMount(started: string, go: string): string {
  return `#!/bin/sh\ncase "$*" in *hugetlbfs*)\n  : > ${started}\n  i=0; while [ ! -e ${go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done;;\nesac\nexec /usr/bin/mount "$@"\n`;
}

/** Resolves when `file` exists (polled every 50 ms); rejects after `timeoutMs`. */
async function waitForFile(file: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(file)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `mount` that is slow for hugetlbfs (so a fault lands mid-apply) and real otherwise. */
const SLOW_MOUNT = `#!/bin/sh\ncase "$*" in *hugetlbfs*) sleep ${'${DD_SLOW:-4}'};; esac\nexec /usr/bin/mount "$@"\n`;

describe('faults during apply', () => {
  it('a command that hangs: the host command timeout fires, the other host finishes', async () => {
    await unconverge(['lb1', 'lb2']);
    await plantScript(
      'lb2',
      'mount',
      '#!/bin/sh\ncase "$*" in *hugetlbfs*) sleep 600;; esac\nexec /usr/bin/mount "$@"\n',
    );
    const inv = labInventory(lab.inventory, ['lb1', 'lb2'], { lb2: { ssh: { command_timeout_s: 3 } } });
    const t0 = Date.now();
    const r = await apply(inv);
    const took = Date.now() - t0;
    await unplant('lb2', 'mount');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/lb2[^\n]*(timed out|timeout)/);
    expect(r.out).toMatch(/lb1\s+changed/);
    expect(took).toBeLessThan(60_000);
    await assertNoHalfWrites('lb2');
    const c = await converge(inv);
    recordResult({
      suite: SUITE,
      name: 'command hangs (hugetlbfs mount never returns, command_timeout_s 3)',
      cases: 2,
      outcome: `lb2 failed with a timeout after ${Math.round(took / 1000)} s, lb1 changed; no temp files; rerun converged${c.brokeLock ? ' (after --break-lock)' : ''}`,
      passed: true,
    });
  });

  it('disk full on a host during a file write', async () => {
    await unconverge(['lb1', 'lb2']);
    const fill = await labSsh(
      'lb2',
      `mount -t tmpfs -o size=16k tmpfs /etc/security/limits.d && (dd if=/dev/zero of=/etc/security/limits.d/fill bs=1k count=64 2>/dev/null; true) && df -k /etc/security/limits.d | tail -1`,
    );
    expect(fill.code, fill.stderr).toBe(0);
    const inv = labInventory(lab.inventory, ['lb1', 'lb2']);
    const r = await apply(inv);
    const leftover = await labSsh('lb2', `ls -A /etc/security/limits.d`);
    await labSsh('lb2', `umount /etc/security/limits.d`);
    expect(r.code).toBe(1);
    // observed: the SFTP write fails with the generic status "Failure" (ssh2 does not name ENOSPC)
    const why = /lb2 \| nofile \| failed: ([^\n]*)/.exec(r.err)?.[1] ?? '';
    expect(why).toMatch(/put \/etc\/security\/limits\.d\/90-dpvs-deploy\.conf .* failed/);
    expect(r.out).toMatch(/lb1\s+changed/);
    expect(leftover.stdout.trim()).toBe('fill');
    await assertNoHalfWrites('lb2');
    const c = await converge(inv);
    recordResult({
      suite: SUITE,
      name: 'disk full (16 KiB tmpfs, full, over /etc/security/limits.d)',
      cases: 2,
      outcome: `lb2 failed at the write ("${why}": the cause, ENOSPC, is not named); only the filler file in the full directory (no temp file); lb1 changed; rerun converged${c.brokeLock ? ' (after --break-lock)' : ''}`,
      passed: true,
    });
  });

  it('sshd killed on one host mid-apply', async () => {
    await unconverge(['lb1', 'lb2']);
    // lb2's hugetlbfs mount (a step of its first task) says it started and waits for the fault:
    // the kill lands while lb2 is mid-step, whatever the machine's speed
    const started = path.join(labPaths().hosts, 'lb2', 'tmp', 'dd-fault-wait');
    const go = path.join(labPaths().hosts, 'lb2', 'tmp', 'dd-fault-go');
    rmSync(started, { force: true });
    rmSync(go, { force: true });
    await plantScript('lb2', 'mount', blockingMount('/tmp/dd-fault-wait', '/tmp/dd-fault-go'));
    // hugetlbfs unmounted, so lb2's plan has the mount step the planted mount blocks in
    const um = await labSsh(
      'lb2',
      'awk \'$3 == "hugetlbfs" {print $2}\' /proc/mounts | xargs -r /usr/bin/umount',
    );
    expect(um.code, um.stderr).toBe(0);
    const inv = labInventory(lab.inventory, ['lb1', 'lb2'], { lb2: { ssh: { command_timeout_s: 30 } } });
    let killed = 0;
    const applying = apply(inv);
    await waitForFile(started, 60_000);
    killed = killSessionSshd(`${NAME_PREFIX}h-lb2`);
    writeFileSync(go, '');
    const r = await applying;
    await unplant('lb2', 'mount');
    rmSync(started, { force: true });
    rmSync(go, { force: true });
    expect(killed).toBeGreaterThan(0);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/lb2[^\n]*(disconnect|closed|lost|reset|ECONNRESET|not connected|connection)/i);
    expect(r.out).toMatch(/lb1\s+changed/);
    await assertNoHalfWrites('lb2');
    const c = await converge(inv);
    recordResult({
      suite: SUITE,
      name: 'sshd (the session processes) killed mid-apply',
      cases: 2,
      outcome: `lb2 failed as disconnected (${killed} sshd process(es) killed), lb1 changed; no temp files; rerun converged${c.brokeLock ? ' (lock left by the dead session: --break-lock removed it)' : ''}`,
      passed: true,
    });
  });

  // The cut comes with the first task's start on lb2 and lasts longer than lb2's command timeout, so
  // whatever lb2 runs next (a step or the re-probe, both bounded by command_timeout_s) times out.
  it('link cut mid-apply and restored', async () => {
    await unconverge(['lb1', 'lb2']);
    await plantScript('lb2', 'mount', SLOW_MOUNT);
    const inv = labInventory(lab.inventory, ['lb1', 'lb2'], { lb2: { ssh: { command_timeout_s: 5 } } });
    let cut = false;
    const restore = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (!cut) return;
        clearInterval(timer);
        setTimeout(() => {
          execFileSync('ip', ['-n', `${NAME_PREFIX}h-lb2`, 'link', 'set', 'eth0', 'up']);
          resolve();
        }, 8000);
      }, 100);
    });
    const r = await apply(inv, {}, (l) => {
      if (!cut && /^lb2 \| hugepages: applying/.test(l)) {
        cut = true;
        execFileSync('ip', ['-n', `${NAME_PREFIX}h-lb2`, 'link', 'set', 'eth0', 'down']);
      }
    });
    await restore;
    await unplant('lb2', 'mount');
    expect(cut).toBe(true);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.err).toMatch(/lb2[^\n]*(timed out|timeout|disconnect)/i);
    expect(r.out).toMatch(/lb1\s+changed/);
    await assertNoHalfWrites('lb2');
    const c = await converge(inv);
    recordResult({
      suite: SUITE,
      name: 'link cut mid-apply (eth0 down 8 s, command_timeout_s 5), then restored',
      cases: 2,
      outcome: `lb2 failed with a timeout, lb1 changed; no temp files; rerun after restore converged${c.brokeLock ? ' (after --break-lock)' : ''}`,
      passed: true,
    });
  });

  it('permission denied: nosudo with sudo: true, and a non-root user without sudo', async () => {
    await unconverge(['lb1', 'lb2']);
    const inv1 = labInventory(lab.inventory, ['lb1', 'lb2'], {
      lb2: { ssh: { user: 'nosudo', sudo: true } },
    });
    const a = await apply(inv1);
    expect(a.code, a.out + a.err).toBe(1);
    expect(a.out + a.err, a.out + a.err).toMatch(/lb2[^\n]*sudo/i);
    expect(a.out).toMatch(/lb1\s+changed/);
    await unconverge(['lb1']);
    const inv2 = labInventory(lab.inventory, ['lb1', 'lb2'], { lb2: { ssh: { user: 'nosudo' } } });
    const b = await apply(inv2);
    expect(b.code, b.out + b.err).toBe(1);
    expect(b.out + b.err, b.out + b.err).toMatch(
      /lb2[^\n]*(Permission denied|permission|EACCES|not permitted)/i,
    );
    expect(b.out).toMatch(/lb1\s+changed/);
    await assertNoHalfWrites('lb2');
    const c = await converge(labInventory(lab.inventory, ['lb1', 'lb2']));
    recordResult({
      suite: SUITE,
      name: 'permission denied (nosudo + sudo: true; non-root without sudo)',
      cases: 2,
      outcome: `lb2 refused with a sudo error, then a permission error; lb1 changed both times; no temp files; rerun as root converged${c.brokeLock ? ' (after --break-lock)' : ''}`,
      passed: true,
    });
  });

  it('Ctrl-C (SIGINT) of the CLI mid-apply: exit 130, locks released, rerun converges', async () => {
    const pkg = cliPackage();
    await unconverge(['lb1', 'lb2']);
    // both hosts' hugetlbfs mounts block (saying so) until the signal is sent: Ctrl-C lands mid-step
    const marks = (h: string) => ({
      started: path.join(labPaths().hosts, h, 'tmp', 'dd-fault-wait'),
      go: path.join(labPaths().hosts, h, 'tmp', 'dd-fault-go'),
    });
    for (const h of ['lb1', 'lb2']) {
      rmSync(marks(h).started, { force: true });
      rmSync(marks(h).go, { force: true });
      await plantScript(h, 'mount', blockingMount('/tmp/dd-fault-wait', '/tmp/dd-fault-go'));
      const um = await labSsh(
        h,
        'awk \'$3 == "hugetlbfs" {print $2}\' /proc/mounts | xargs -r /usr/bin/umount',
      );
      expect(um.code, um.stderr).toBe(0);
    }
    const inv = labInventory(lab.inventory, ['lb1', 'lb2']);
    const child = spawn(
      process.execPath,
      [path.join(pkg, 'dist/src/cli/run.js'), 'apply', inv, '--yes', '--run-dir', runBase],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', CI: '1' } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    await Promise.race([
      waitForFile(marks('lb1').started, 60_000),
      waitForFile(marks('lb2').started, 60_000),
    ]);
    const sent = child.kill('SIGINT');
    // let the blocked mounts finish (the run starts no new step after them)
    for (const h of ['lb1', 'lb2']) writeFileSync(marks(h).go, '');
    const code = await exited;
    for (const h of ['lb1', 'lb2']) {
      await unplant(h, 'mount');
      rmSync(marks(h).started, { force: true });
      rmSync(marks(h).go, { force: true });
    }
    expect(sent, out + err).toBe(true);
    expect(code, out + err).toBe(130);
    expect(err).toMatch(/interrupted: starting no new steps/);
    for (const h of ['lb1', 'lb2']) {
      const lock = await labSsh(h, 'test -e /var/lib/dpvs-deploy/lock && echo LOCKED || echo free');
      expect(lock.stdout.trim(), `${h} lock`).toBe('free');
      await assertNoHalfWrites(h);
    }
    // the interrupted run stopped before nofile: something is left to do
    expect(await plan(inv)).toBe(2);
    await converge(inv);
    recordResult({
      suite: SUITE,
      name: 'Ctrl-C (SIGINT) of the CLI during apply',
      cases: 2,
      outcome:
        'exit 130, no new steps started after the signal, both host locks released, report written, no temp files; rerun converged',
      passed: true,
    });
  });
});

/** Kill the per-connection sshd processes of a lab host (not its PID 1 listener). */
function killSessionSshd(netns: string): number {
  const pids = execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' })
    .split(/\s+/)
    .filter(Boolean);
  let n = 0;
  for (const pid of pids) {
    let comm = '';
    let ppidComm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const ppid = /PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      ppidComm = ppid ? readFileSync(`/proc/${ppid}/comm`, 'utf8').trim() : '';
    } catch {
      continue;
    }
    // the listener's parent is `unshare`; session processes descend from the listener
    if (comm.startsWith('sshd') && ppidComm.startsWith('sshd')) {
      try {
        process.kill(Number(pid), 'SIGKILL');
        n++;
      } catch {
        /* gone already */
      }
    }
  }
  return n;
}

/**
 * The built CLI (dist/) in a package root whose balancer playbook is only hugepages + nofile: a copy
 * of dist/src next to its own playbooks/ (the CLI finds playbooks relative to its own files).
 */
function cliPackage(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'dd-cli-'));
  const dist = path.resolve('dist/src');
  if (!existsSync(path.join(dist, 'cli/interrupt.js'))) throw new Error('run `npm run build` first');
  cpSync(dist, path.join(root, 'dist/src'), { recursive: true });
  mkdirSync(path.join(root, 'playbooks'));
  writeFileSync(path.join(root, 'playbooks/balancer.yaml'), 'role: balancer\ntasks: [hugepages, nofile]\n');
  writeFileSync(path.join(root, 'playbooks/realserver.yaml'), 'role: realserver\ntasks: []\n');
  writeFileSync(path.join(root, 'playbooks/client.yaml'), 'role: client\ntasks: []\n');
  writeFileSync(path.join(root, 'package.json'), '{"type":"module","version":"0.0.0-faults"}\n');
  symlinkSync(path.resolve('node_modules'), path.join(root, 'node_modules'));
  writeFileSync(
    path.join(root, 'dist/src/cli/run.js'),
    "import { main } from './main.js';\nprocess.exitCode = await main(process.argv.slice(2));\n",
  );
  return root;
}
