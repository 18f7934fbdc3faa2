/**
 * Hostile values in the inventory: every free string the schema lets through to a command or a file
 * (hugepages.mount: /etc/fstab escapes it, shell commands quote it) carries shell metacharacters, quotes, $(...),
 * backticks and spaces. `plan` over the full balancer playbook and `apply` of hugepages + nofile must
 * never execute them: no /tmp/pwned* file appears on the host, the mount point is created with its
 * literal name, and the transcripts show the values only quoted. Values the schema must refuse
 * (option-like names, `..` components, newlines, dpvs.conf paths with metacharacters) are refused by
 * `loadInventory`.
 */
import { writeFileSync } from 'node:fs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyCommand, planCommand } from '../../src/cli/commands.js';
import { loadInventory } from '../../src/inventory/load.js';
import { quote } from '../../src/transport/quote.js';
import { buildFixtures } from '../lab/fixtures/build.js';
import { ensureLab, labSsh, stopLab, type LabInfo } from '../lab/harness.js';
import { labPaths } from '../lab/paths.js';
import { captureIo, filesUnder, labInventory, recordResult } from './reliability-support.js';

const mode = vi.hoisted(() => ({ only: null as string[] | null }));
vi.mock('../../src/run/playbooks.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/run/playbooks.js')>();
  return {
    ...real,
    tasksForRoles: (roles: Parameters<typeof real.tasksForRoles>[0]) =>
      real.tasksForRoles(roles).filter((t) => !mode.only || mode.only.includes(t.name)),
  };
});

const SUITE = 'hostile';
/** A parsed inventory, loosely typed on purpose: the cases write values the schema must refuse. */
type Doc = { hosts: Record<string, Host> };
const lb1 = (d: Doc): Host => d.hosts.lb1 as Host;
type Host = {
  keepalived?: Record<string, unknown>;
  nics: Array<Record<string, unknown>>;
  [k: string]: unknown;
};
const MOUNT = `/mnt/dd hp $(touch /tmp/pwned1) \`touch /tmp/pwned2\` ;touch /tmp/pwned3; 'q' "d" -x`;
const LOG = `/var/log/dpvs $(touch /tmp/pwned4);touch /tmp/pwned5 '.log`;
let lab: LabInfo;
let runBase: string;

beforeAll(async () => {
  lab = await ensureLab();
  await buildFixtures(labPaths().www); // the plan checksums the pushed DPDK and DPVS tarballs
  runBase = mkdtempSync(path.join(tmpdir(), 'dd-hostile-runs-'));
}, 600_000);

afterAll(async () => {
  await labSsh('lb1', `umount ${quote(MOUNT)} 2>/dev/null; rmdir ${quote(MOUNT)} 2>/dev/null; true`);
  await stopLab();
  rmSync(runBase, { recursive: true, force: true });
});

function hostileInventory(): string {
  return labInventory(lab.inventory, ['lb1'], {
    lb1: {
      hugepages: { size: '2M', per_node: 16, mount: MOUNT },
      dpvs: { version: '1.9.10' },
    },
  });
}

async function pwned(): Promise<string> {
  const r = await labSsh('lb1', 'ls /tmp/pwned* / 2>/dev/null | grep -c pwned || true');
  return r.stdout.trim();
}

describe('hostile inventory values', () => {
  it('the schema refuses option-like names, .. components and newlines', async () => {
    const cases: Array<[string, (d: Doc) => void]> = [
      [
        'router_id "-oProxyCommand=x"',
        (d) => (lb1(d).keepalived = { enabled: false, router_id: '-oProxyCommand=x' }),
      ],
      ['kni_name "$(id)"', (d) => ((lb1(d).nics[0] as Record<string, unknown>).kni_name = '$(id)')],
      ['hugepages.mount with ..', (d) => (lb1(d).hugepages = { per_node: 1, mount: '/mnt/../etc' })],
      ['hugepages.mount relative "-x"', (d) => (lb1(d).hugepages = { per_node: 1, mount: '-x' })],
      ['dpvs.log_file with a newline', (d) => (lb1(d).dpvs = { log_file: '/var/log/a\ntouch /tmp/x' })],
      // dpvs.conf has no quoting: a log_file with spaces or `} global_defs {` would restructure it
      ['dpvs.log_file with $(), ; and spaces', (d) => (lb1(d).dpvs = { log_file: LOG })],
      [
        'dpvs.log_file with "} global_defs {"',
        (d) => (lb1(d).dpvs = { log_file: '/var/log/d } global_defs {' }),
      ],
      ['nic name "; reboot"', (d) => ((lb1(d).nics[0] as Record<string, unknown>).name = '; reboot')],
      ['host name with $()', (d) => (d.hosts['lb$(id)'] = lb1(d))],
      ['ssh.user "-oProxyCommand"', (d) => (lb1(d).ssh = { user: '-oProxyCommand=touch /tmp/x' })],
    ];
    const dir = mkdtempSync(path.join(tmpdir(), 'dd-hostile-'));
    let refused = 0;
    for (const [name, mutate] of cases) {
      const d = parse(readFileSync(labInventory(lab.inventory, ['lb1'], {}, dir), 'utf8')) as Doc;
      mutate(d);
      const f = path.join(dir, 'bad.yaml');
      writeFileSync(f, stringify(d));
      await expect(loadInventory(f), name).rejects.toThrow();
      refused++;
    }
    recordResult({
      suite: SUITE,
      name: 'option-like / .. / newline / metacharacter values where the schema is strict',
      cases: cases.length,
      outcome: `${refused}/${cases.length} refused by validation before any connection`,
      passed: refused === cases.length,
    });
  });

  it('plan (full balancer playbook) and apply (hugepages, nofile) never execute hostile values', async () => {
    const inv = hostileInventory();
    expect(await pwned()).toBe('0');
    mode.only = null;
    const io1 = captureIo();
    const planCode = await planCommand(inv, { runDir: runBase, json: true }, io1);
    const planText = io1.lines.join('\n');
    expect([0, 2], planText + io1.errors.join('\n')).toContain(planCode);
    expect(planText).toContain('pwned1');
    mode.only = ['hugepages', 'nofile'];
    const io2 = captureIo();
    const code = await applyCommand(inv, { yes: true, runDir: runBase }, io2);
    const out = io2.lines.join('\n') + io2.errors.join('\n');
    mode.only = null;
    expect(await pwned()).toBe('0');
    // the mount point exists under its literal name and hugetlbfs is mounted there
    const m = await labSsh('lb1', `test -d ${quote(MOUNT)} && echo DIR; grep -c hugetlbfs /proc/mounts`);
    expect(m.stdout, out).toMatch(/^DIR/);
    // every transcript line that carries the value carries it quoted
    const logs = filesUnder(runBase).filter((f) => f.endsWith('.log'));
    const cmdLines = logs
      .flatMap((f) => readFileSync(f, 'utf8').split('\n'))
      .filter((l) => l.includes(' $ ') && l.includes('pwned'));
    expect(cmdLines.length).toBeGreaterThan(0);
    for (const l of cmdLines) expect(l, l).toContain(quote(MOUNT).slice(0, 20));
    recordResult({
      suite: SUITE,
      name: 'metacharacters, $(), backticks, quotes, spaces, -x in hugepages.mount',
      cases: 1,
      outcome: `plan exit ${planCode}, apply exit ${code}; ${cmdLines.length} transcript command(s) carry the values, all single-quoted; no /tmp/pwned* on the host; mount point created with its literal name`,
      passed: true,
    });
  });
});
