import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import { lbBins } from '../../../src/lb/commands.js';
import { RECORD_PATH, RESTORE_SCRIPT_PATH } from '../../../src/lb/current.js';
import { addUnlessPresent } from '../../../src/lb/plan-support.js';
import { desiredState } from '../../../src/lb/desired.js';
import {
  KEEPALIVED_CONF_PATH,
  renderKeepalivedConf,
  sharedLocalAddresses,
} from '../../../src/lb/keepalived.js';
import { renderRestoreScript } from '../../../src/lb/restore.js';
import type { Step } from '../../../src/plan/change.js';
import { createDpvsNetworkTask, dpvsNetworkTask, lbNotes } from '../../../src/tasks/dpvs-network.js';
import { createKeepalivedTask, keepalivedTask } from '../../../src/tasks/keepalived.js';
import { lbServicesTask } from '../../../src/tasks/lb-services.js';
import type { PlanContext } from '../../../src/plan/task.js';
import {
  ctxOf,
  dpvsDownOutputs,
  emptyFacts,
  short,
  tutorialHost,
  tutorialOutputs,
  tutorialService,
} from './support.js';

const execCommands = (steps: Step[]): string[] =>
  short(steps.flatMap((s) => (s.kind === 'exec' ? [s.command] : [])));

/** Apply the write steps of a plan to the facts (what apply would leave behind). */
function applyWrites(facts: Facts, steps: Step[]): Facts {
  const files = { ...facts.files };
  for (const s of steps)
    if (s.kind === 'write') files[s.path] = { exists: true, sha256: null, mode: null, content: s.content };
  return { ...facts, files };
}

function runBoth(ctx: PlanContext) {
  const net = dpvsNetworkTask.plan(ctx);
  const svc = lbServicesTask.plan({ ...ctx, facts: net.projected ?? ctx.facts });
  return { net, svc, changes: [...net.changes, ...svc.changes] };
}

describe('dpvs-network and lb-services tasks', () => {
  it('asks the probe for the dpip/ipvsadm outputs at the install prefix and the record file', () => {
    const host = tutorialHost({ dpvs: { version: '1.9.10', prefix: '/srv/dpvs' } });
    const req = dpvsNetworkTask.probe?.(host, ctxOf(host, [], emptyFacts()).inventory);
    expect(req?.execs).toMatchObject({
      'dpip-addr': ['/srv/dpvs/current/bin/dpip', '-s', 'addr', 'show'],
      'dpip-route': ['/srv/dpvs/current/bin/dpip', 'route', 'show'],
      'ipvsadm-ln': ['/srv/dpvs/current/bin/ipvsadm', '-ln'],
      'ipvsadm-G': ['/srv/dpvs/current/bin/ipvsadm', '-G'],
    });
    expect(req?.files).toContain(RECORD_PATH);
  });

  it('plans every add when dpvs is down, then nothing once the host matches', () => {
    const facts = emptyFacts({ outputs: dpvsDownOutputs() });
    const ctx = ctxOf(tutorialHost(), [tutorialService()], facts);
    const first = runBoth(ctx);
    const cmds = first.changes
      .flatMap((c) => execCommands(c.steps))
      .filter((c) => /^(dpip|ipvsadm) /.test(c));
    expect(cmds).toEqual([
      'dpip addr add 10.0.96.204/32 dev dpdk2',
      'dpip route add 10.0.96.0/24 dev dpdk2',
      'dpip route add 192.168.229.0/24 dev dpdk0',
      'dpip route add default via 10.0.96.254 dev dpdk2',
      'ipvsadm -A -t 10.0.96.204:80 -s rr',
      'ipvsadm -a -t 10.0.96.204:80 -r 192.168.229.1:80 -b',
      'ipvsadm --add-laddr -z 192.168.229.204 -t 10.0.96.204:80 -F dpdk0',
    ]);
    expect(first.changes.map((c) => c.id)).toContain('lb/restore-script');
    expect(first.changes.filter((c) => c.id.startsWith('lb/record/')).map((c) => c.task)).toEqual([
      'dpvs-network',
      'lb-services',
    ]);
    // the services task's record includes the network sections projected by the network task
    const written = applyWrites(
      facts,
      first.changes.flatMap((c) => c.steps),
    );
    const record = JSON.parse(written.files[RECORD_PATH]?.content ?? '{}') as Record<string, unknown[]>;
    expect(record.addresses).toHaveLength(1);
    expect(record.services).toHaveLength(1);

    const after = ctxOf(tutorialHost(), [tutorialService()], { ...written, outputs: tutorialOutputs() });
    expect(runBoth(after).changes).toEqual([]);
    expect(lbNotes(after)).toEqual({ problems: [], unmanaged: [], dpvsRunning: true });
  });

  it('removing a real server from the inventory plans exactly one ipvsadm -d', () => {
    const two = [
      tutorialService({
        real_servers: [
          { address: '192.168.229.1', port: 80 },
          { address: '192.168.229.2', port: 80 },
        ],
      }),
    ];
    const fresh = emptyFacts({ outputs: dpvsDownOutputs() });
    const written = applyWrites(
      fresh,
      runBoth(ctxOf(tutorialHost(), two, fresh)).changes.flatMap((c) => c.steps),
    );
    const outputs = tutorialOutputs();
    const ln = outputs['ipvsadm-ln'];
    if (!ln) throw new Error('fixture');
    ln.stdout += '  -> 192.168.229.2:80              FullNat 1      0          0\n';
    const { changes } = runBoth(ctxOf(tutorialHost(), [tutorialService()], { ...written, outputs }));
    const lbCmds = changes.flatMap((c) => execCommands(c.steps)).filter((c) => /^(dpip|ipvsadm) /.test(c));
    expect(lbCmds).toEqual(['ipvsadm -d -t 10.0.96.204:80 -r 192.168.229.2:80']);
  });

  it('lb-services is skipped when keepalived owns the services; the VIP is left to VRRP', () => {
    const host = tutorialHost({ keepalived: { enabled: true, owns_services: true, interface: 'dpdk0' } });
    const ctx = ctxOf(host, [tutorialService()], emptyFacts({ outputs: dpvsDownOutputs() }));
    expect(lbServicesTask.plan(ctx).changes).toEqual([]);
    const net = dpvsNetworkTask.plan(ctx).changes.flatMap((c) => execCommands(c.steps));
    expect(net.some((c) => c.includes('addr add 10.0.96.204'))).toBe(false);
  });

  it('prunes unmanaged objects only when asked', () => {
    const outputs = tutorialOutputs();
    const addr = outputs['dpip-addr'];
    if (!addr) throw new Error('fixture');
    addr.stdout += 'inet 10.0.96.99/32 scope global dpdk2\n     valid_lft forever preferred_lft forever\n';
    const ctx = ctxOf(tutorialHost(), [tutorialService()], emptyFacts({ outputs }));
    const ids = (cs: { id: string }[]) => cs.map((c) => c.id).filter((id) => id.startsWith('lb/address'));
    expect(ids(dpvsNetworkTask.plan(ctx).changes)).toEqual([]);
    expect(lbNotes(ctx).unmanaged.map((u) => u.key)).toEqual(['10.0.96.99@dpdk2']);
    expect(ids(createDpvsNetworkTask({ pruneUnmanaged: true }).plan(ctx).changes)).toEqual([
      'lb/address/10.0.96.99@dpdk2',
    ]);
  });

  it('reports unmanaged objects as drift (plan shows them, verify counts them), unless the host prunes them', () => {
    const outputs = tutorialOutputs();
    const ln = outputs['ipvsadm-ln'];
    if (!ln) throw new Error('fixture');
    ln.stdout += 'TCP  10.0.96.205:8080 rr\n';
    const ctx = ctxOf(tutorialHost(), [tutorialService()], emptyFacts({ outputs }));
    const drift = dpvsNetworkTask.drift?.(ctx) ?? [];
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatch(
      /^unmanaged .*10\.0\.96\.205:8080.*left alone \(prune_unmanaged: true deletes it\)$/,
    );
    // no change deletes it by default
    const all = runBoth(ctx).changes.flatMap((c) => execCommands(c.steps));
    expect(all.some((c) => c.includes('10.0.96.205'))).toBe(false);

    const pruning = ctxOf(
      tutorialHost({ prune_unmanaged: true }),
      [tutorialService()],
      emptyFacts({ outputs }),
    );
    expect(dpvsNetworkTask.drift?.(pruning)).toEqual([]);
    const pruned = runBoth(pruning).changes.flatMap((c) => execCommands(c.steps));
    expect(pruned).toContain('ipvsadm -D -t 10.0.96.205:8080');

    // dpvs down: nothing can be told about the host's objects
    expect(
      dpvsNetworkTask.drift?.(ctxOf(tutorialHost(), [], emptyFacts({ outputs: dpvsDownOutputs() }))),
    ).toEqual([]);
  });
});

describe('restore script', () => {
  const desired = desiredState(tutorialHost(), [tutorialService()]).state;
  const script = renderRestoreScript(desired, {
    bins: lbBins('/opt/dpvs'),
    timeoutS: 5,
    kni: { ifname: 'dpdk0.kni', address: '192.168.229.50/24' },
  });

  it('is valid POSIX sh (sh -n) and re-adds everything in order', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lb-restore-'));
    const file = path.join(dir, 'restore.sh');
    writeFileSync(file, script);
    execFileSync('sh', ['-n', file]);
    const runs = script.split('\n').filter((l) => l.startsWith('run '));
    expect(runs[0]).toBe('run /opt/dpvs/current/bin/dpip addr add 10.0.96.204/32 dev dpdk2');
    expect(runs.slice(-3, -2)[0]).toBe(
      'run /opt/dpvs/current/bin/ipvsadm --add-laddr -z 192.168.229.204 -t 10.0.96.204:80 -F dpdk0',
    );
    expect(runs).toHaveLength(7 + 2);
    expect(script).toContain('timeout=5');
  });

  it('treats "exists" answers as success, reports other failures, and gives up when dpvs never answers', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lb-restore-'));
    const bin = path.join(dir, 'current', 'bin');
    execFileSync('mkdir', ['-p', bin]);
    // fake dpip: "link show" answers; "route add default" fails; everything else says it exists
    writeFileSync(
      path.join(bin, 'dpip'),
      '#!/bin/sh\ncase "$*" in\n"link show") exit 0;;\n*default*) echo "dpip: no route to gateway" >&2; exit 1;;\n*) echo "File exists" >&2; exit 1;;\nesac\n',
      { mode: 0o755 },
    );
    writeFileSync(path.join(bin, 'ipvsadm'), '#!/bin/sh\necho "Service already exists" >&2\nexit 1\n', {
      mode: 0o755,
    });
    const s = renderRestoreScript(desired, { bins: lbBins(dir), timeoutS: 3 });
    const file = path.join(dir, 'restore.sh');
    writeFileSync(file, s);
    let code = 0;
    let stderr = '';
    try {
      execFileSync('sh', [file], { stdio: 'pipe' });
    } catch (e) {
      const err = e as { status: number; stderr: Buffer };
      code = err.status;
      stderr = err.stderr.toString();
    }
    expect(code).toBe(1);
    expect(stderr).toContain('failed: ');
    expect(stderr).toContain('route add default');
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);

    writeFileSync(path.join(bin, 'dpip'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const s2 = renderRestoreScript(desired, { bins: lbBins(dir), timeoutS: 1 });
    writeFileSync(file, s2);
    expect(() => execFileSync('sh', [file], { stdio: 'pipe' })).toThrow(/did not answer within 1s/);
  });

  it('is written by dpvs-network only when it differs', () => {
    const facts = emptyFacts({ outputs: tutorialOutputs() });
    const ctx = ctxOf(tutorialHost(), [tutorialService()], facts);
    const change = dpvsNetworkTask.plan(ctx).changes.find((c) => c.id === 'lb/restore-script');
    const write = change?.steps.find((s) => s.kind === 'write');
    expect(write).toMatchObject({ path: RESTORE_SCRIPT_PATH, mode: 0o755 });
    const same = applyWrites(facts, change?.steps ?? []);
    expect(
      dpvsNetworkTask.plan(ctxOf(tutorialHost(), [tutorialService()], same)).changes.map((c) => c.id),
    ).not.toContain('lb/restore-script');
  });
});

describe('keepalived', () => {
  const master = tutorialHost({
    nics: [
      { name: 'dpdk0', match: { pci: '0000:04:00.0' } },
      { name: 'dpdk2', match: { pci: '0000:82:00.0' } },
    ],
    keepalived: {
      enabled: true,
      owns_services: true,
      state: 'MASTER',
      priority: 150,
      virtual_router_id: 77,
      interface: 'dpdk0',
      kni_address: '192.168.229.10/24',
      auth_pass: 's3cr3tPW',
    },
  });
  const svc = tutorialService({
    health_check: { type: 'tcp' },
    local_addresses: {
      lb1: [{ address: '192.168.229.204', dev: 'dpdk0' }],
      lb2: [{ address: '192.168.229.205', dev: 'dpdk0' }],
    },
    balancers: ['lb1', 'lb2'],
  });

  it('renders the DPVS keywords, VIPs, laddr group and real servers', () => {
    const conf = renderKeepalivedConf({ host: master, services: [svc], authPass: 's3cr3tPW' });
    const lines = conf.split('\n').map((l) => l.trim());
    for (const l of [
      'vrrp_instance VI_1 {',
      'state MASTER',
      'interface dpdk0.kni',
      // VIPs go to dpvs on the instance's dpdk_interface only; a `dev` naming a DPDK port drops them
      // (test/fixtures/upstream/keepalived.yaml): the VIP's port is the dpdk_interface, the VIP has no dev
      'dpdk_interface dpdk2',
      'virtual_router_id 77',
      'priority 150',
      'advert_int 1',
      'auth_type PASS',
      'auth_pass s3cr3tPW',
      '10.0.96.204/32',
      'local_address_group laddr_g_web {',
      '192.168.229.204 dpdk0',
      'virtual_server 10.0.96.204 80 {',
      'lb_algo rr',
      'lb_kind FNAT',
      'protocol TCP',
      'laddr_group_name laddr_g_web',
      'real_server 192.168.229.1 80 {',
      'weight 1',
      'TCP_CHECK {',
      'connect_port 80',
    ])
      expect(lines).toContain(l);
    // the other member's LIP is not in this member's file
    expect(conf).not.toContain('192.168.229.205');
    const braces = (conf.match(/{/g) ?? []).length;
    expect((conf.match(/}/g) ?? []).length).toBe(braces);
  });

  it('plans the file with the secret redacted in the Change, and a keepalived restart', () => {
    const task = createKeepalivedTask({ resolveSecret: (v) => (typeof v === 'string' ? v : undefined) });
    const facts = emptyFacts({ services: { keepalived: { active: true, enabled: true, unitExists: true } } });
    const ctx = ctxOf(master, [svc], facts);
    const { changes } = task.plan(ctx);
    const conf = changes.find((c) => c.id === 'keepalived/conf');
    expect(conf).toBeDefined();
    const shown = JSON.stringify({ ...conf, steps: conf?.steps.filter((s) => s.kind !== 'write') });
    expect(shown).not.toContain('s3cr3tPW');
    expect(conf?.diff).toContain('auth_pass ******');
    expect(conf?.diff).toContain('+    dpdk_interface dpdk2');
    const write = conf?.steps.find((s) => s.kind === 'write');
    expect(write).toMatchObject({ path: KEEPALIVED_CONF_PATH, mode: 0o600 });
    expect(write?.kind === 'write' && write.content.includes('auth_pass s3cr3tPW')).toBe(true);
    expect(execCommands(conf?.steps ?? [])).toContain(
      'systemctl enable keepalived && systemctl restart keepalived',
    );
    expect(changes.map((c) => c.id)).toContain('keepalived/kni-address/dpdk0.kni');

    // same file on the host + KNI address present → nothing to do
    const done = applyWrites(facts, conf?.steps ?? []);
    done.outputs = {
      'kni-addr': {
        code: 0,
        stdout: '67: dpdk0.kni    inet 192.168.229.10/24 brd 192.168.229.255 scope global dpdk0.kni',
      },
    };
    expect(task.plan(ctxOf(master, [svc], done)).changes).toEqual([]);

    // a different password on the host: a change, still redacted
    const old = {
      ...done,
      files: {
        [KEEPALIVED_CONF_PATH]: {
          exists: true,
          sha256: null,
          mode: '0600',
          content: (done.files[KEEPALIVED_CONF_PATH]?.content ?? '').replace('s3cr3tPW', 'oldPW123'),
        },
      },
    };
    const again = task.plan(ctxOf(master, [svc], old)).changes.find((c) => c.id === 'keepalived/conf');
    expect(again?.summary).toContain('auth_pass changed');
    expect(JSON.stringify({ ...again, steps: [] })).not.toMatch(/s3cr3tPW|oldPW123/);
  });

  it('does nothing when keepalived is not enabled', () => {
    const ctx = ctxOf(tutorialHost(), [tutorialService()], emptyFacts());
    expect(keepalivedTask.plan(ctx).changes).toEqual([]);
    expect(keepalivedTask.probe?.(tutorialHost(), ctx.inventory)).toEqual({});
  });

  it('finds LIPs shared by two members', () => {
    expect(sharedLocalAddresses([svc])).toEqual([]);
    const bad = tutorialService({
      local_addresses: {
        lb1: [{ address: '192.168.229.204', dev: 'dpdk0' }],
        lb2: [{ address: '192.168.229.204', dev: 'dpdk0' }],
      },
    });
    expect(sharedLocalAddresses([bad])).toEqual([
      'service web: local address 192.168.229.204 is used by both lb1 and lb2',
    ]);
  });
});

describe('adds planned while dpvs is down', () => {
  const run = (cmd: string): number => {
    try {
      execFileSync('sh', ['-c', addUnlessPresent(cmd)], { stdio: 'pipe' });
      return 0;
    } catch (e) {
      return (e as { status: number }).status;
    }
  };
  it('pass when dpvs already holds the object (its restore script ran), fail on any other error', () => {
    expect(run('true')).toBe(0);
    expect(run("echo 'dpip: already exist' >&2; exit 1")).toBe(0);
    expect(run("echo 'Service already exists' >&2; exit 1")).toBe(0);
    expect(run("echo 'dpip: no memory' >&2; exit 1")).toBe(1);
  });

  it('are wrapped only while dpvs is down; deletes and a running dpvs get the plain command', () => {
    const down = dpvsNetworkTask.plan(
      ctxOf(tutorialHost(), [tutorialService()], emptyFacts({ outputs: dpvsDownOutputs() })),
    );
    const cmds = down.changes.flatMap((c) => c.steps.flatMap((s) => (s.kind === 'exec' ? [s.command] : [])));
    expect(cmds.some((c) => c.startsWith('out=$({ /opt/dpvs/current/bin/dpip '))).toBe(true);
  });
});
