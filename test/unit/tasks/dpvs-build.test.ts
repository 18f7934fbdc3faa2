import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import type { Change, Step } from '../../../src/plan/change.js';
import { dpvsBuildTask } from '../../../src/tasks/dpvs-build.js';
import { dpvsReleases } from '../../../src/facts/reads/dpvs-releases.js';

const [OUT_CURRENT, OUT_RELEASES] = dpvsReleases.keys as [string, string];
import { releaseOf, versionPattern } from '../../../src/tasks/dpvs/release.js';
import { RELEASE_STATE } from '../../../src/tasks/dpvs/state.js';
import type { PlanContext } from '../../../src/plan/task.js';
import { inventoryOf, planContext, r630, r630Host } from '../../support/facts-builder.js';
import { unitStartCommand } from '../../../src/tasks/cause.js';
import { fleetOf } from '../../../src/plan/fleet.js';

const SHA = 'a'.repeat(64);
const SRC = { url: 'http://10.241.0.1:8080/dpvs-1.9.10.tar.gz', sha256: SHA };
const host = r630Host({ dpvs: { version: '1.9.10', source: SRC } });
const inv = inventoryOf([host]);

const cmds = (c: Change | undefined): string[] =>
  (c?.steps ?? []).flatMap((s: Step) => (s.kind === 'exec' ? [s.command] : []));

function installed(f: Facts, h: ResolvedHost, opts: { current?: boolean; active?: boolean } = {}): Facts {
  const r = releaseOf(h, inventoryOf([h]));
  const out = structuredClone(f);
  out.files[r.stamp] = { exists: true, sha256: null, mode: '0644', content: r.stampContent };
  out.outputs[OUT_RELEASES] = { code: 0, stdout: `${r.id}\n` };
  if (opts.current !== false) out.outputs[OUT_CURRENT] = { code: 0, stdout: `${r.dir}\n` };
  if (opts.active) out.services.dpvs = { active: true, enabled: true, unitExists: true };
  return out;
}

function fleetCtx(hosts: ResolvedHost[], facts: Facts[], i: number): PlanContext {
  const inventory = inventoryOf(hosts);
  const fleet = new Map(hosts.map((h, j) => [h.name, facts[j] as Facts]));
  return {
    host: hosts[i] as ResolvedHost,
    inventory,
    facts: facts[i] as Facts,
    fleet: fleetOf(inventory, fleet),
  };
}

describe('dpvs-build task', () => {
  const fresh = r630().build();

  it('fresh: fetch + verify, unpack, make && make install in the tree, install, dpvs -v, stamp; then current', () => {
    const { changes, projected } = dpvsBuildTask.plan(planContext(host, fresh));
    expect(changes.map((c) => c.id)).toEqual([
      expect.stringMatching(/^dpvs-build\/release\/1\.9\.10-[0-9a-f]{12}$/),
      'dpvs-build/current',
    ]);
    const r = releaseOf(host, inv);
    const build = cmds(changes[0]);
    expect(build[0]).toContain(
      `curl -fsSL --retry 3 -o /var/cache/dpvs-deploy/src/${SHA}.tar.gz.part -- ${SRC.url}`,
    );
    expect(build[0]).toContain(`= ${SHA}`);
    // unpacked beside the tree, then renamed over it (src/plan/ops/fetch-source.ts)
    const unpack = build.find((c) => c.includes('tar -xf')) ?? '';
    expect(unpack).toContain(
      `tar -xf /var/cache/dpvs-deploy/src/${SHA}.tar.gz -C ${r.tree}.unpack --strip-components=1`,
    );
    expect(unpack).toContain(`rm -rf ${r.tree} && mv ${r.tree}.unpack ${r.tree}`);
    const make = build.find((c) => c.includes('make install'));
    expect(make).toMatch(
      new RegExp(
        `^(\\{ )?cd ${r.tree} && PKG_CONFIG_PATH=[^ ]*/opt/dpvs-deploy/dpdk/20\\.11\\.10/install/lib/pkgconfig[^ ]* make`,
        'm',
      ),
    );
    expect(build.some((c) => c.includes(`${r.dir}/bin/dpvs -v`))).toBe(true);
    const last = changes[0]!.steps.at(-1);
    expect(last).toEqual({ kind: 'write', path: r.stamp, content: r.stampContent, mode: 0o644 });
    const cur = cmds(changes[1]);
    expect(cur.at(-1)).toBe(
      `ln -sfn ${r.dir} /opt/dpvs/.current.dpvs-deploy && mv -T /opt/dpvs/.current.dpvs-deploy /opt/dpvs/current`,
    );
    expect(changes[1]!.disruptive).toBe(false);
    // converged on the projection
    expect(dpvsBuildTask.plan(planContext(host, projected!)).changes).toEqual([]);
  });

  it('DPVS 1.8 builds with RTE_SDK and RTE_TARGET from the DPDK 18.11 tree', () => {
    const h = r630Host({ dpvs: { version: '1.8.12', source: SRC }, dpdk: { version: '18.11.2' } });
    const make = cmds(dpvsBuildTask.plan(planContext(h, fresh)).changes[0]).find((c) =>
      c.includes('make install'),
    );
    expect(make).toContain(
      'RTE_SDK=/opt/dpvs-deploy/dpdk/18.11.2/src/dpdk-stable-18.11.2 RTE_TARGET=build make',
    );
  });

  it('dpvs.build_env goes before make (quoted) and into the release id; without it the id is unchanged', () => {
    const flags = "-Wno-error=array-bounds -Wno-error=deprecated-declarations -DX='a b'";
    const h = r630Host({ dpvs: { version: '1.9.10', source: SRC, build_env: { CFLAGS: flags } } });
    const make = cmds(dpvsBuildTask.plan(planContext(h, fresh)).changes[0]).find((c) =>
      c.includes('make install'),
    );
    // the shell sees the value as written
    const assign = /&& (CFLAGS=.*?) PKG_CONFIG_PATH=/.exec(make ?? '')?.[1] ?? '';
    const r = spawnSync('sh', ['-c', `${assign} sh -c 'printf %s "$CFLAGS"'`], { encoding: 'utf8' });
    expect(r.stdout).toBe(flags);
    expect(make?.match(/CFLAGS=/g)).toHaveLength(2);
    expect(releaseOf(h, inv).id).not.toBe(releaseOf(host, inv).id);
    expect(releaseOf(host, inv).stampContent).not.toContain('buildEnv');
    // a build_env change is a DPVS rebuild
    const { changes } = dpvsBuildTask.plan(planContext(h, installed(fresh, host)));
    expect(changes.map((c) => c.id)).toContain(`dpvs-build/release/${releaseOf(h, inv).id}`);
  });

  it('converged (stamp matches, current points at it): nothing', () => {
    expect(dpvsBuildTask.plan(planContext(host, installed(fresh, host))).changes).toEqual([]);
  });

  it('built but not current: only the switch, disruptive while dpvs runs, previous kept in the state', () => {
    const f = installed(fresh, host, { current: false, active: true });
    f.outputs[OUT_CURRENT] = { code: 0, stdout: '/opt/dpvs/releases/1.9.9-000000000000\n' };
    const { changes } = dpvsBuildTask.plan(planContext(host, f));
    expect(changes.map((c) => c.id)).toEqual(['dpvs-build/current']);
    expect(changes[0]!.disruptive).toBe(true);
    // the state record first, written atomically (a managed file's write step), then the switch
    const rec = changes[0]!.steps.find((s) => s.kind === 'write');
    expect(rec).toMatchObject({ kind: 'write', path: RELEASE_STATE, mode: 0o644 });
    expect(rec?.kind === 'write' && JSON.parse(rec.content)).toEqual({
      current: releaseOf(host, inv).id,
      previous: '1.9.9-000000000000',
    });
  });

  it('a release change (new version) means a new release id and a rebuild', () => {
    const h2 = r630Host({ dpvs: { version: '1.9.11', source: SRC } });
    expect(releaseOf(h2, inv).id).not.toBe(releaseOf(host, inv).id);
    const { changes } = dpvsBuildTask.plan(planContext(h2, installed(fresh, host, { active: true })));
    expect(changes.map((c) => c.id)).toEqual([
      `dpvs-build/release/${releaseOf(h2, inv).id}`,
      'dpvs-build/current',
    ]);
  });

  it('build once per identical target: the first host builds, the others copy from it', () => {
    const a = { ...host, name: 'lb1' };
    const b = { ...host, name: 'lb2' };
    const fa = fresh;
    const fb = structuredClone(fresh);
    const planB = dpvsBuildTask.plan(fleetCtx([a, b], [fa, fb], 1)).changes[0]!;
    const copy = planB.steps.find((s) => s.kind === 'copy-from-host');
    expect(copy).toMatchObject({
      kind: 'copy-from-host',
      sourceHost: 'lb1',
      sourcePath: `${releaseOf(a, inv).dir}.tar.gz`,
    });
    expect(planB.steps.some((s) => s.kind === 'exec' && s.command.includes('make'))).toBe(false);
    const planA = dpvsBuildTask.plan(fleetCtx([a, b], [fa, fb], 0)).changes[0]!;
    expect(planA.steps.some((s) => s.kind === 'copy-from-host')).toBe(false);
  });

  it('a host that already has the release is the source; a different OS builds its own', () => {
    const a = { ...host, name: 'lb1' };
    const b = { ...host, name: 'lb2' };
    const fb = installed(fresh, b);
    const planA = dpvsBuildTask.plan(fleetCtx([a, b], [fresh, fb], 0)).changes[0]!;
    expect(planA.steps.find((s) => s.kind === 'copy-from-host')).toMatchObject({ sourceHost: 'lb2' });
    const ubuntu = r630().os('ubuntu22').build();
    const planU = dpvsBuildTask.plan(fleetCtx([a, b], [ubuntu, fb], 0)).changes[0]!;
    expect(planU.steps.some((s) => s.kind === 'copy-from-host')).toBe(false);
  });

  it('rollback switches current back to the recorded previous release and restarts a running dpvs', () => {
    const r = releaseOf(host, inv);
    const f = installed(fresh, host, { active: true });
    f.outputs[OUT_RELEASES] = { code: 0, stdout: `1.9.9-000000000000\n${r.id}\n` };
    f.files[RELEASE_STATE] = {
      exists: true,
      sha256: null,
      mode: '0644',
      content: JSON.stringify({ current: r.id, previous: '1.9.9-000000000000' }),
    };
    const { changes } = dpvsBuildTask.rollback!(planContext(host, f));
    expect(changes).toHaveLength(1);
    const c = cmds(changes[0]);
    expect(c[0]).toBe(
      'ln -sfn /opt/dpvs/releases/1.9.9-000000000000 /opt/dpvs/.current.dpvs-deploy && mv -T /opt/dpvs/.current.dpvs-deploy /opt/dpvs/current',
    );
    // decided when it runs: a rollback that gave the NICs back earlier has stopped dpvs
    expect(c).toContain(
      `if systemctl is-active --quiet dpvs 2>/dev/null; then ${unitStartCommand('restart', 'dpvs')}; fi`,
    );
    // done: current is the previous release
    const after = structuredClone(f);
    after.outputs[OUT_CURRENT] = { code: 0, stdout: '/opt/dpvs/releases/1.9.9-000000000000\n' };
    expect(dpvsBuildTask.rollback!(planContext(host, after)).changes).toEqual([]);
    // a previous release that is gone cannot be switched to
    const gone = structuredClone(f);
    gone.outputs[OUT_RELEASES] = { code: 0, stdout: `${r.id}\n` };
    expect(dpvsBuildTask.rollback!(planContext(host, gone)).changes).toEqual([]);
  });

  it('dpvs -v pattern accepts the upstream forms and refuses other versions', () => {
    const re = new RegExp(versionPattern('1.9.10'));
    expect(re.test('dpvs version: 1.9-10, build on 2025.06.23.00:00:00')).toBe(true);
    expect(re.test('dpvs version: 1.9.10')).toBe(true);
    expect(re.test('dpvs version: 1.9-1, build on x')).toBe(false);
    expect(re.test('dpvs version: 1.9-100, build on x')).toBe(false);
  });

  it('an unsupported version is a planning error', () => {
    expect(() => dpvsBuildTask.plan(planContext(r630Host({ dpvs: { version: '2.0.0' } }), fresh))).toThrow(
      /not supported/,
    );
  });
});
