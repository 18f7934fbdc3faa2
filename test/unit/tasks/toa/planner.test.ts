import { spawnSync } from 'node:child_process';
import { onControl } from '../../../support/control.js';
import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../../src/facts/types.js';
import type { ResolvedHost } from '../../../../src/inventory/types.js';
import type { Change } from '../../../../src/plan/change.js';
import { toaTask } from '../../../../src/tasks/toa.js';
import { setObserved, type BuiltModule } from '../../../support/rs-kmod-facts.js';
import { expectedStamp, kmodPaths, kmodSpec, loadConf, optionsConf } from '../../../../src/tasks/toa/spec.js';
import type { PlanContext } from '../../../../src/plan/task.js';
import { factsBuilder, inventoryOf } from '../../../support/facts-builder.js';
import { fleetOf } from '../../../../src/plan/fleet.js';

const SHA = 'a'.repeat(64);
const ROCKY = '5.14.0-362.8.1.el9_3.x86_64';
const DEBIAN = '6.1.0-18-amd64';
const KO_TOA = 'b'.repeat(64);
const KO_UOA = 'c'.repeat(64);

function rs(name: string, realserver: ResolvedHost['realserver'] = {}): ResolvedHost {
  return {
    name,
    address: `10.0.0.${name.slice(2)}`,
    roles: ['realserver'],
    groups: [],
    dpvs: { version: '1.9.10', source: { url: 'http://mirror/dpvs-1.9.10.tar.gz', sha256: SHA } },
    realserver,
  };
}

function freshFacts(
  name: string,
  opts: { kernel?: string; headers?: boolean; os?: 'rocky9' | 'debian12' } = {},
): Facts {
  const os = opts.os ?? 'rocky9';
  const kernel = opts.kernel ?? (os === 'rocky9' ? ROCKY : DEBIAN);
  const f = factsBuilder()
    .hostname(name)
    .os(os)
    .kernel({
      release: kernel,
      machine: 'x86_64',
      headersInstalled: opts.headers ?? false,
      lockdown: 'none',
      ipv6: true,
    })
    .build();
  return setObserved(f, kernel, {});
}

/** A host where everything the task does is done: built, installed, loaded, recorded, persisted. */
function convergedFacts(host: ResolvedHost, kernel = ROCKY): Facts {
  const f = freshFacts(host.name, { kernel, headers: true });
  const spec = kmodSpec(host, onControl('/work'));
  if (!spec) throw new Error('not a realserver');
  const ko: Partial<Record<'toa' | 'uoa', BuiltModule>> = {};
  const stats: Array<'toa' | 'uoa'> = [];
  for (const m of spec.modules) {
    const sha = m === 'toa' ? KO_TOA : KO_UOA;
    ko[m] = { stamp: expectedStamp(spec, f, m), built: sha, installed: sha };
    stats.push(m);
    const p = kmodPaths(kernel, m);
    const params = { ...(m === 'uoa' ? { uoa_debug: '0', uoa_map_timeout: '360' } : {}), ...spec.params[m] };
    f.modules.push({ name: m, params, refcount: 0 });
    f.files[p.loadConf] = { exists: true, sha256: null, mode: '0644', content: loadConf(m) };
    f.files[p.loadedState] = { exists: true, sha256: null, mode: '0644', content: `${sha} ${kernel}\n` };
    const opt = optionsConf(spec, m);
    f.files[p.optionsConf] =
      opt === null
        ? { exists: false, sha256: null, mode: null, content: null }
        : { exists: true, sha256: null, mode: '0644', content: opt };
  }
  return setObserved(f, kernel, ko, stats);
}

function fleetCtx(entries: Array<[ResolvedHost, Facts]>, who: string): PlanContext {
  const inv = inventoryOf(entries.map(([h]) => h));
  const fleet = new Map(entries.map(([h, f]) => [h.name, f]));
  const [host, facts] = entries.find(([h]) => h.name === who) as [ResolvedHost, Facts];
  return { host, inventory: inv, facts, fleet: fleetOf(inv, fleet) };
}

/** Runs a change's one failing step with sh: what the operator reads. */
function stderrOf(c: Change | undefined): string {
  const r = spawnSync('sh', ['-c', commands(c)], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  return r.stderr;
}

const ids = (cs: Change[]): string[] => cs.map((c) => c.id);
const commands = (c: Change | undefined): string =>
  (c?.steps ?? []).map((s) => (s.kind === 'exec' ? s.command : s.kind)).join('\n');

describe('toa planner', () => {
  it('plans headers, download, build, install, persistence and load on a fresh host', () => {
    const h = rs('rs1');
    const { changes } = toaTask.plan(fleetCtx([[h, freshFacts('rs1')]], 'rs1'));
    expect(ids(changes)).toEqual([
      'toa/headers',
      'toa/source',
      'toa/build',
      'toa/install-toa',
      'toa/persist-toa',
      'toa/load-toa',
    ]);
    const headers = changes[0];
    expect(headers?.summary).toContain(`kernel-devel-${ROCKY}`);
    expect(commands(headers)).toContain(`dnf install -y kernel-devel-${ROCKY}`);
    const build = commands(changes[2]);
    expect(build).toContain(`make KERNDIR=/lib/modules/${ROCKY}/build`);
    expect(build).toContain('/kmod/toa');
    expect(build).not.toContain('/kmod/uoa');
    expect(commands(changes[1])).toContain('http://mirror/dpvs-1.9.10.tar.gz');
    expect(commands(changes[3])).toContain(`/lib/modules/${ROCKY}/extra/toa.ko`);
    expect(commands(changes[3])).toContain(`depmod -a ${ROCKY}`);
    expect(changes[4]?.steps.find((st) => st.kind === 'write')).toMatchObject({
      kind: 'write',
      path: '/etc/modules-load.d/dpvs-deploy-toa.conf',
    });
    expect(commands(changes[5])).toContain('modprobe toa');
    expect(commands(changes[5])).toContain('/proc/net/toa_stats');
  });

  it('writes uoa parameters to modprobe.d and builds uoa beside toa', () => {
    const h = rs('rs1', { uoa: true, uoa_params: { uoa_map_timeout: 60, uoa_debug: 1 } });
    const { changes } = toaTask.plan(fleetCtx([[h, freshFacts('rs1', { headers: true })]], 'rs1'));
    expect(ids(changes)).toContain('toa/options-uoa');
    const opt = changes.find((c) => c.id === 'toa/options-uoa');
    expect(opt?.steps.find((st) => st.kind === 'write')).toMatchObject({
      kind: 'write',
      path: '/etc/modprobe.d/dpvs-deploy-uoa.conf',
      content: '# managed by dpvs-deploy: uoa parameters\noptions uoa uoa_debug=1 uoa_map_timeout=60\n',
    });
    expect(commands(changes.find((c) => c.id === 'toa/build'))).toContain('/kmod/uoa');
    expect(ids(changes)).not.toContain('toa/headers');
  });

  it('plans nothing on a converged host, and verify passes', () => {
    const h = rs('rs1', { uoa: true, uoa_params: { uoa_map_timeout: 60 } });
    const ctx = fleetCtx([[h, convergedFacts(h)]], 'rs1');
    expect(toaTask.plan(ctx).changes).toEqual([]);
    expect(toaTask.verify?.(ctx)).toEqual([]);
  });

  it('rebuilds when the source changes (stamp) and replaces the idle loaded module', () => {
    const h = rs('rs1');
    const f = convergedFacts(h);
    const moved = {
      ...h,
      dpvs: {
        version: '1.9.10',
        source: { url: 'http://mirror/dpvs-1.9.10.tar.gz', sha256: 'd'.repeat(64) },
      },
    };
    const { changes } = toaTask.plan(fleetCtx([[moved, f]], 'rs1'));
    expect(ids(changes)).toEqual(['toa/source', 'toa/build', 'toa/install-toa', 'toa/replace-toa']);
    const replace = changes.at(-1);
    expect(replace?.disruptive).toBe(true);
    expect(commands(replace)).toContain('modprobe -r toa');
    expect(toaTask.verify?.(fleetCtx([[moved, f]], 'rs1'))).toEqual([
      expect.stringContaining('toa.ko: no build for kernel'),
    ]);
  });

  it('builds once per kernel: the first host by name of a kernel builds, the others of that kernel copy', () => {
    const hosts: Array<[ResolvedHost, Facts]> = [
      [rs('rs2'), freshFacts('rs2')],
      [rs('rs1'), freshFacts('rs1', { headers: true })],
      [rs('rs3'), freshFacts('rs3', { os: 'debian12' })],
    ];
    const rs1 = toaTask.plan(fleetCtx(hosts, 'rs1')).changes;
    const rs2 = toaTask.plan(fleetCtx(hosts, 'rs2')).changes;
    const rs3 = toaTask.plan(fleetCtx(hosts, 'rs3')).changes;
    expect(ids(rs1)).toContain('toa/build');
    expect(rs1.find((c) => c.id === 'toa/build')?.summary).toContain('copied to rs2');
    expect(ids(rs2)).not.toContain('toa/build');
    expect(ids(rs2)).not.toContain('toa/source');
    const recv = rs2.find((c) => c.id === 'toa/receive-toa');
    expect(
      recv?.steps
        .filter((s) => s.kind === 'copy-from-host')
        .map((s) => s.kind === 'copy-from-host' && [s.sourceHost, s.sourcePath]),
    ).toEqual([
      ['rs1', `/opt/dpvs-deploy/rs-kmod/${ROCKY}/toa.ko.sha256`],
      ['rs1', `/opt/dpvs-deploy/rs-kmod/${ROCKY}/toa.ko`],
    ]);
    expect(ids(rs3)).toContain('toa/build');
    expect(commands(rs3.find((c) => c.id === 'toa/build'))).toContain(`/lib/modules/${DEBIAN}/build`);
    expect(commands(rs3.find((c) => c.id === 'toa/headers'))).toContain(
      `apt-get install -y linux-headers-${DEBIAN}`,
    );
  });

  it('copies from a host of the run that already has the build instead of compiling again', () => {
    const h1 = rs('rs1');
    const hosts: Array<[ResolvedHost, Facts]> = [
      [h1, convergedFacts(h1)],
      [rs('rs0'), freshFacts('rs0', { headers: true })],
    ];
    const rs0 = toaTask.plan(fleetCtx(hosts, 'rs0')).changes;
    expect(ids(rs0)).toEqual(['toa/receive-toa', 'toa/install-toa', 'toa/persist-toa', 'toa/load-toa']);
    expect(rs0[0]?.steps.some((s) => s.kind === 'copy-from-host' && s.sourceHost === 'rs1')).toBe(true);
  });

  it('does not pick a host that refuses the module as builder', () => {
    const locked = freshFacts('rs1');
    locked.kernel.lockdown = 'integrity';
    const hosts: Array<[ResolvedHost, Facts]> = [
      [rs('rs1'), locked],
      [rs('rs2'), freshFacts('rs2')],
    ];
    expect(ids(toaTask.plan(fleetCtx(hosts, 'rs2')).changes)).toContain('toa/build');
  });

  it('refuses under kernel lockdown and toa without IPv6, with the reason', () => {
    const locked = freshFacts('rs1');
    locked.kernel.lockdown = 'integrity';
    locked.kernel.secureBoot = true;
    const r1 = toaTask.plan(fleetCtx([[rs('rs1'), locked]], 'rs1')).changes;
    expect(ids(r1)).toEqual(['toa/refused']);
    expect(stderrOf(r1[0])).toMatch(
      /^rs1: kernel lockdown is integrity \(Secure Boot is on\): the kernel loads only signed modules/,
    );

    const noV6 = freshFacts('rs1');
    noV6.kernel.ipv6 = false;
    const r2 = toaTask.plan(fleetCtx([[rs('rs1'), noV6]], 'rs1')).changes;
    expect(ids(r2)).toEqual(['toa/refused']);
    expect(stderrOf(r2[0])).toContain('rs1: toa needs the IPv6 stack of the kernel');
    // uoa alone does not need IPv6
    const r3 = toaTask.plan(fleetCtx([[rs('rs1', { toa: false, uoa: true }), noV6]], 'rs1')).changes;
    expect(ids(r3)).not.toContain('toa/refused');
    expect(toaTask.verify?.(fleetCtx([[rs('rs1'), noV6]], 'rs1'))?.[0]).toContain('IPv6');
  });

  it('refuses to replace a loaded module in use unless replace_loaded', () => {
    const h = rs('rs1');
    const f = convergedFacts(h);
    // the recorded loaded file is another build: the loaded toa is not the installed one
    f.files[kmodPaths(ROCKY, 'toa').loadedState] = {
      exists: true,
      sha256: null,
      mode: '0644',
      content: `${'e'.repeat(64)} ${ROCKY}\n`,
    };
    (f.modules.find((m) => m.name === 'toa') as { refcount: number }).refcount = 2;
    const refused = toaTask.plan(fleetCtx([[h, f]], 'rs1')).changes;
    expect(ids(refused)).toEqual(['toa/replace-toa']);
    expect(refused[0]?.disruptive).toBeFalsy();
    expect(commands(refused[0])).toContain('in use (refcount 2');
    expect(commands(refused[0])).toContain('replace_loaded: true');
    expect(commands(refused[0])).not.toContain('modprobe -r');

    const forced = toaTask.plan(fleetCtx([[rs('rs1', { replace_loaded: true }), f]], 'rs1')).changes;
    expect(ids(forced)).toEqual(['toa/replace-toa']);
    expect(forced[0]?.disruptive).toBe(true);
    expect(commands(forced[0])).toContain('modprobe -r toa');
    expect(forced[0]?.summary).toContain('although in use (refcount 2');

    // idle: replaced, with the refcount checked again on the host
    (f.modules.find((m) => m.name === 'toa') as { refcount: number }).refcount = 0;
    const idle = toaTask.plan(fleetCtx([[h, f]], 'rs1')).changes;
    expect(ids(idle)).toEqual(['toa/replace-toa']);
    expect(commands(idle[0])).toContain('/sys/module/toa/refcnt');
  });

  it('reloads uoa when its parameters differ from uoa_params', () => {
    const h = rs('rs1', { uoa: true, uoa_params: { uoa_map_timeout: 60 } });
    const f = convergedFacts(h);
    const uoa = f.modules.find((m) => m.name === 'uoa') as { params: Record<string, string> };
    uoa.params.uoa_map_timeout = '360';
    const { changes } = toaTask.plan(fleetCtx([[h, f]], 'rs1'));
    expect(ids(changes)).toEqual(['toa/replace-uoa']);
    expect(changes[0]?.summary).toContain('uoa_map_timeout 360 → 60');
  });

  it('names the package it looked for when the headers cannot be installed', () => {
    const { changes } = toaTask.plan(
      fleetCtx([[rs('rs3'), freshFacts('rs3', { os: 'debian12', kernel: '6.1.0-99-amd64' })]], 'rs3'),
    );
    expect(commands(changes[0])).toContain(
      'rs3: no headers package for kernel 6.1.0-99-amd64: apt could not find linux-headers-6.1.0-99-amd64 (install the matching headers or boot a kernel that has them)',
    );
  });

  it('plans nothing for balancers and for real servers that want neither module', () => {
    const lb = { ...rs('lb1'), roles: ['balancer' as const] };
    expect(toaTask.plan(fleetCtx([[lb, freshFacts('lb1')]], 'lb1')).changes).toEqual([]);
    const none = rs('rs1', { toa: false });
    expect(toaTask.plan(fleetCtx([[none, freshFacts('rs1')]], 'rs1')).changes).toEqual([]);
  });
});
