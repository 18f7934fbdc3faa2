/**
 * Upstream's REAL DPDK 20.11.10 through the tool on a lab balancer: the release tarball from Debian's
 * source archive (scripts/fetch-dpdk-src.sh, cached under ~/.cache/dpvs-deploy/dpdk-src), the lab's
 * DPVS 1.9.10 fixture whose patch/dpdk-stable-20.11.10/ series is written for the real tree
 * (dpvs-1.9.10-realdpdk.tar.gz), drivers trimmed with dpdk.meson_options. The CLI runs real meson and
 * ninja, installs, and the fixture dpvs compiles against the installed headers and links the real
 * static libraries (`pkg-config --static --libs libdpdk`: -lnuma -lpcap -ldbus-1 -lsystemd ...).
 *   - rte_kni on (the default) with a kernel build tree whose `make kernelversion` fails, where real
 *     meson would stop with "Cannot compile kernel modules as requested": the plan says so first;
 *     (the other cases run with kni off: the lab's kbuild is fake and cannot compile the real rte_kni)
 *   - kni off: the build goes through; the next plan is empty;
 *   - a DPVS-only change (another DPVS tarball, same patch series) rebuilds DPVS, not DPDK.
 * Run under the lab lock (about 5-10 min on 2 cores; the DPDK build is most of it):
 *   npm run build && /work/lab-run.sh npx vitest run test/integration/dpdk-real.test.ts
 * Skipped loudly when the tarball cannot be fetched (no Debian archive reachable) or not root.
 */
import { disabledDrivers, fetchDpdkSource } from '../support/dpdk-trim.js';
import { asRoot } from '../support/root.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildFixtures, type FixtureManifest } from '../lab/fixtures/build.js';
import { labSsh, stopLab } from '../lab/harness.js';
import { up } from '../lab/lab.js';
import { labSshDefaults } from '../lab/inventory.js';
import { labPaths, repoRoot } from '../lab/paths.js';
import type { LabHostProfile } from '../lab/profile-types.js';
import { newestTranscripts, runCli } from './cli-support.js';

const root = asRoot;
const TASKS = 'packages,dpdk-source,dpdk-build,dpvs-build';
const DPDK_SHA = '60d1ccd072102dd032c7915f6664bf4124f50e712045b6a3c55e651cb75cd530';
const PREFIX = '/opt/dpvs-deploy/dpdk/20.11.10';
const NET_KEPT = ['bonding', 'e1000', 'ring', 'virtio'];
const CCACHE_DIR = path.join(homedir(), '.cache', 'dpvs-deploy', 'ccache', 'lab');

const real = root
  ? fetchDpdkSource(repoRoot(), '20.11.10', (d) => d === 'dpdk-stable-20.11.10')
  : { file: '', error: 'not root' };
if (real.error)
  console.error(
    `\n!! dpdk-real: SKIPPED: ${real.error}\n!! (the real-DPDK suite needs Debian's source archive)\n`,
  );

let work: string;
let profiles: LabHostProfile[];
let manifest: FixtureManifest;
let lb: LabHostProfile;

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runCli([...args, '--run-dir', path.join(work, 'runs'), '--tasks', TASKS], 2_400_000);
  return { code: r.code, out: r.stdout + r.stderr };
}

const on = async (command: string): Promise<string> => (await labSsh(lb.name, command)).stdout;

function realDpvs(): { file: string; sha256: string } {
  const a = manifest.artifacts.find((x) => x.name === 'dpvs-1.9.10-realdpdk.tar.gz');
  if (!a) throw new Error('no dpvs-1.9.10-realdpdk.tar.gz fixture');
  return { file: a.path, sha256: a.sha256 };
}

function inventory(
  name: string,
  opts: { kni: boolean; dpvsFile?: string; buildEnv?: Record<string, string> },
): string {
  const p = labPaths();
  const file = path.join(work, name);
  writeFileSync(
    file,
    stringify({
      version: 1,
      defaults: {
        ssh: labSshDefaults(p),
        hugepages: { size: '2M', per_node: 512 },
        workers: 'auto',
      },
      hosts: {
        [lb.name]: {
          address: lb.address,
          roles: ['balancer'],
          expect: { numa_nodes: lb.numaNodes, smt: lb.smt },
          nics: [
            { name: 'dpdk0', match: { pci: '0000:00:10.0' } },
            { name: 'dpdk1', match: { pci: '0000:00:10.1' } },
          ],
          dpdk: {
            version: '20.11.10',
            driver: 'uio_pci_generic',
            source: { file: real.file, sha256: DPDK_SHA },
            meson_options: ['-Dtests=false', `-Ddisable_drivers=${disabledDrivers(real.file, NET_KEPT)}`],
          },
          dpvs: {
            version: '1.9.10',
            kni: opts.kni,
            source: opts.dpvsFile ? { file: opts.dpvsFile } : realDpvs(),
            ...(opts.buildEnv && { build_env: opts.buildEnv }),
          },
        },
      },
    }),
  );
  return file;
}

const seconds = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const timings: string[] = [];

describe.skipIf(!!real.error)('real DPDK 20.11.10 built by the tool on a lab balancer', () => {
  beforeAll(async () => {
    // ccache keyed by what it compiles (~/.cache/dpvs-deploy/ccache/lab): real meson and ninja run every
    // time, and on a machine that built this tree before the compiler answers from the cache
    const r = await up({
      paths: labPaths(),
      shape: { balancers: 1, realservers: 0 },
      ccacheDir: CCACHE_DIR,
    });
    profiles = r.profiles;
    lb = profiles.find((x) => x.roles.includes('balancer')) as LabHostProfile;
    manifest = await buildFixtures(labPaths().www);
    await on('ccache --zero-stats >/dev/null 2>&1 || true');
    work = mkdtempSync(path.join(tmpdir(), 'dpdk-real-it-'));
  }, 600_000);
  afterAll(async () => {
    console.log(`dpdk-real timings: ${timings.join('; ')}`);
    await stopLab();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 300_000);

  it('rte_kni on a kernel build tree real meson refuses: the plan names the cause before building', async () => {
    // a kernel build tree whose Makefile has no kernelversion target (a broken headers install)
    const mk = '/lib/modules/$(uname -r)/build/Makefile';
    await on(`cp ${mk} ${mk}.dd-test && printf 'modules:\\n\\t@true\\n' > ${mk}`);
    const plan = await cli(['plan', inventory('kni.yaml', { kni: true }), '--no-diff']);
    await on(`mv -f ${mk}.dd-test ${mk}`);
    expect(plan.code, plan.out).toBe(1);
    expect(plan.out).toMatch(
      /rte_kni cannot be built: \/lib\/modules\/\S+\/build is not a usable kernel build tree/,
    );
    expect(plan.out).toMatch(/kernelversion/);
    expect(plan.out).toContain('set dpvs.kni: false');
    expect(await on(`test -e ${PREFIX} && echo built || echo none`)).toContain('none');
  }, 300_000);

  it('kni off: real meson/ninja build, install, the fixture dpvs links the real libdpdk; the next plan is empty', async () => {
    const inv = inventory('real.yaml', { kni: false });
    const t0 = Date.now();
    const apply = await cli(['apply', inv, '--yes']);
    timings.push(`apply (DPDK + DPVS builds) ${seconds(t0)}`);
    expect(apply.code, apply.out).toBe(0);
    const stats = Object.fromEntries(
      (await on('ccache --print-stats 2>/dev/null || true'))
        .split('\n')
        .map((l) => l.split('\t'))
        .filter((kv): kv is [string, string] => kv.length === 2),
    );
    const hits = Number(stats.direct_cache_hit ?? 0) + Number(stats.preprocessed_cache_hit ?? 0);
    timings.push(`ccache: ${hits} hits, ${stats.cache_miss ?? '?'} misses`);
    const t = newestTranscripts(path.join(work, 'runs'), 'apply')[lb.name] ?? '';
    // real meson's own output, with the trimmed driver set and the DPVS series applied
    expect(t).toContain('drivers/net/virtio: Defining dependency "net_virtio"');
    expect(t).toMatch(/Message: drivers\/net\/bonding: Defining dependency "net_bond"/);
    expect(t).toMatch(/applied: 0007-bonding-device-sends-packets-with-user-specified-sal\.patch/);
    expect(t).toMatch(/-Denable_kmods=false/);
    const steps = Math.max(0, ...[...t.matchAll(/^\[\d+\/(\d+)\] /gm)].map((m) => Number(m[1])));
    timings.push(`ninja steps ${steps}`);
    expect(steps).toBeGreaterThan(500);

    const pc = `PKG_CONFIG_PATH=${PREFIX}/install/lib/x86_64-linux-gnu/pkgconfig`;
    expect(await on(`${pc} pkg-config --modversion libdpdk`)).toBe('20.11.10\n');
    const libs = await on(`${pc} pkg-config --static --libs libdpdk`);
    for (const l of ['-lnuma', '-lpcap', '-ldbus-1', '-lsystemd', 'librte_net_virtio.a'])
      expect(libs, l).toContain(l);
    expect(libs).not.toContain('librte_net_ixgbe.a');
    // the installed headers and library carry the series: the dpvs binary embeds the marker
    expect(await on(`grep -c DPVS_LAB_MBUF_TX_PORT ${PREFIX}/install/include/rte_mbuf.h`)).toBe('1\n');
    expect(await on(`grep -c dpvs-patched:dpdk-stable-20.11.10 /opt/dpvs/current/bin/dpvs`)).not.toBe('0\n');
    expect(await on(`cat ${PREFIX}/build.stamp`)).toMatch(
      /^dpvs-patches=[0-9a-f]{64} patch\/dpdk-stable-20\.11\.10$/m,
    );

    const t1 = Date.now();
    const again = await cli(['plan', inv, '--no-diff']);
    timings.push(`second plan ${seconds(t1)}`);
    expect(again.code, again.out).toBe(0);
  }, 2_400_000);

  it('a DPVS-only change (another tarball, same patch series) rebuilds DPVS and not DPDK', async () => {
    const stamp = await on(`cat ${PREFIX}/build.stamp`);
    // the same fixture with one source file changed, repacked
    const d = path.join(work, 'dpvs-edit');
    mkdirSync(d);
    execFileSync('tar', ['-xzf', realDpvs().file, '-C', d]);
    const main = path.join(d, 'dpvs-1.9.10', 'src', 'main.c');
    writeFileSync(main, `${readFileSync(main, 'utf8')}/* a site's own change to DPVS */\n`);
    const edited = path.join(work, 'dpvs-1.9.10-site.tar.gz');
    execFileSync('tar', ['-czf', edited, '-C', d, 'dpvs-1.9.10']);
    const inv = inventory('dpvs-only.yaml', { kni: false, dpvsFile: edited });
    const plan = await cli(['plan', inv, '--no-diff']);
    expect(plan.code, plan.out).toBe(2);
    expect(plan.out).toMatch(/dpvs-build /);
    expect(plan.out).not.toMatch(/dpdk-build /);
    const t0 = Date.now();
    const apply = await cli(['apply', inv, '--yes']);
    timings.push(`DPVS-only apply ${seconds(t0)}`);
    expect(apply.code, apply.out).toBe(0);
    const t = newestTranscripts(path.join(work, 'runs'), 'apply')[lb.name] ?? '';
    expect(t).not.toMatch(/meson setup|ninja -C/);
    expect(await on(`cat ${PREFIX}/build.stamp`)).toBe(stamp);
  }, 1_200_000);

  it("dpvs.build_env (the GCC 12 / OpenSSL 3 fix) reaches DPVS's compiler; DPDK is not rebuilt", async () => {
    const stamp = await on(`cat ${PREFIX}/build.stamp`);
    const flags = '-Wno-error=array-bounds -Wno-error=deprecated-declarations';
    const inv = inventory('build-env.yaml', { kni: false, buildEnv: { CFLAGS: flags } });
    const plan = await cli(['plan', inv, '--no-diff']);
    expect(plan.code, plan.out).toBe(2);
    expect(plan.out).toMatch(/dpvs-build /);
    expect(plan.out).not.toMatch(/dpdk-build /);
    const apply = await cli(['apply', inv, '--yes']);
    expect(apply.code, apply.out).toBe(0);
    const t = newestTranscripts(path.join(work, 'runs'), 'apply')[lb.name] ?? '';
    // the compiler line of the fixture's src/Makefile: the environment's flags, then the Makefile's own
    expect(t).toMatch(new RegExp(`\\b(g?cc) ${flags} .*-Werror .*-o dpvs main\\.c`));
    expect(t).not.toMatch(/meson setup|ninja -C/);
    expect(await on(`cat ${PREFIX}/build.stamp`)).toBe(stamp);
    const again = await cli(['plan', inv, '--no-diff']);
    expect(again.code, again.out).toBe(0);
  }, 1_200_000);
});
