/**
 * The probe's cost on a host, counted where it runs: the number of processes one balancer probe starts
 * on a lab host (the PID namespace's last pid before and after, read in the same SSH exec). A count,
 * not a time: the one-pass probe reads every file through one grep, one stat/sha256sum/head and one
 * base64, and asks modinfo, dpkg-query, df and systemctl once for all items (issue #23: ≤ 30).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeRequests, parseProbeOutput, probeScript } from '../../src/facts/probe.js';
import { loadInventory } from '../../src/inventory/load.js';
import { preflightProbe } from '../../src/preflight/index.js';
import { tasksForRoles } from '../../src/run/playbooks.js';
import { ensureLab, labSsh, stopLab, type LabInfo } from './harness.js';

let lab: LabInfo;
beforeAll(async () => {
  lab = await ensureLab();
});
afterAll(async () => {
  await stopLab();
});

/** The probe script the engine sends to `host` (every task's and every preflight check's request). */
async function probeOf(host: string): Promise<string> {
  const inv = await loadInventory(lab.inventory);
  const h = inv.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`no ${host} in ${lab.inventory}`);
  const req = mergeRequests([
    preflightProbe(h, inv),
    ...tasksForRoles(h.roles).map((t) => t.probe?.(h, inv) ?? {}),
  ]);
  return probeScript(req);
}

/**
 * Runs `script` on `host` and returns its output and the processes it started: pids the host's PID
 * namespace handed out between two reads of ns_last_pid, less the `cat` of the second read.
 */
async function counted(host: string, script: string): Promise<{ processes: number; stdout: string }> {
  const b64 = Buffer.from(script).toString('base64');
  const cmd = [
    `printf '%s' '${b64}' | base64 -d > /tmp/probe-count.sh`,
    'a=$(cat /proc/sys/kernel/ns_last_pid)',
    'sh -s < /tmp/probe-count.sh > /tmp/probe-count.out 2>/dev/null',
    'b=$(cat /proc/sys/kernel/ns_last_pid)',
    'echo "processes $((b - a - 1))"',
    'cat /tmp/probe-count.out; rm -f /tmp/probe-count.sh /tmp/probe-count.out',
  ].join('; ');
  const r = await labSsh(host, cmd);
  expect(r.code, r.stderr).toBe(0);
  const m = /^processes (\d+)\n/.exec(r.stdout);
  if (!m?.[1]) throw new Error(`no count in ${r.stdout.slice(0, 200)}`);
  return { processes: Number(m[1]), stdout: r.stdout.slice(m[0].length) };
}

describe('the probe on a lab host', () => {
  it('counts what it measures: a script that starts 6 processes counts 6', async () => {
    const r = await counted('lb1', 'true; /bin/true; /bin/true; x=$(/bin/true); /bin/true | /bin/true');
    // sh itself, two /bin/true, the $(...) child (it execs /bin/true), both sides of the pipe
    expect(r.processes).toBe(6);
  });

  it('a balancer probe starts at most 30 processes and reads the whole host', async () => {
    const r = await counted('lb1', await probeOf('lb1'));
    const f = parseProbeOutput(r.stdout);
    expect(f.hostname).toBe('lb1');
    expect(f.nics.length).toBeGreaterThan(0);
    expect(Object.keys(f.files).length).toBeGreaterThan(10);
    expect(f.services.dpvs).toBeDefined();
    console.log(`lb1 probe: ${r.processes} processes`);
    expect(r.processes).toBeLessThanOrEqual(30);
  });
});
