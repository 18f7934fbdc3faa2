/**
 * A REAL DPDK data plane on the guest's real kernel, deployed by the tool: upstream's DPDK 20.11.10
 * (Debian's source archive tarball) built by the tool at native speed on the build host (builder.ts: the
 * guest image's own root filesystem, its own sshd) and received by the guest through the tool's
 * build-once/copy path — real DPDK never builds under TCG. The guest runs the lab's real-DPDK DPVS
 * fixture: its dpvs calls rte_eal_init with the unit's EAL arguments, creates the mbuf pools per NUMA node
 * in the hugepages the tool allocated, probes the NICs the tool bound with the real PMDs (net_e1000_em,
 * net_virtio), configures the rx/tx queues dpvs.conf declares, starts the ports and reads their links,
 * then serves the simulated control plane.
 *
 * The kernel modules are real too: the builder compiles rte_kni (DPDK's meson, -Denable_kmods=true) and
 * igb_uio (Debian's dpdk-kmods-dkms source, dpdk.kmods) with kbuild against the guest kernel's headers
 * (-Dkernel_dir=/lib/modules/<guest kernel>); the guest receives them in the same pack, and the kmods
 * task installs and loads them with their parameters (carrier=on; intr_mode, wc_activate) before the
 * NICs are bound to igb_uio.
 *
 * Skipped loudly where the real tarball cannot be fetched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDpvsConf } from '../../src/dpvsconf/parse.js';
import { newestTranscripts } from '../integration/cli-support.js';
import { startBuilder, type Builder } from './builder.js';
import { dpvsDeploy, unavailable, vm } from './harness.js';
import { guestCopy } from './ssh.js';
import { vmPaths } from './paths.js';
import { fetchKmods, fetchRealDpdk, realDpvs, realInventory, type RealInventoryInput } from './realdpdk.js';

const vmOff = unavailable();
const real = vmOff ? { file: '', error: vmOff } : fetchRealDpdk();
const kmodsSrc = vmOff || real.error ? { file: '', error: vmOff ?? real.error } : fetchKmods();
if (!vmOff && (real.error ?? kmodsSrc.error))
  console.error(
    `\n!! 06-realdpdk: SKIPPED: ${real.error ?? kmodsSrc.error}\n!! (the real-DPDK VM test needs Debian's archive)\n`,
  );
const off = vmOff ?? real.error ?? kmodsSrc.error ?? null;

const BUILD_TASKS = 'dpdk-source,dpdk-build,dpvs-build';
const s = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const timings: string[] = [];

let builder: Builder;
let runs: string;
let dpvs: { file: string; sha256: string };
/** the guest's kernel release: the kernel modules are built for it on the builder (-Dkernel_dir) */
let kver = '';
const inputs = (edit?: RealInventoryInput['edit']): RealInventoryInput => ({
  dpdkFile: real.file,
  dpvs,
  builder,
  kmods: { file: kmodsSrc.file, kver },
  edit,
});
/** Set when the guest has both builds: before that, an apply to vm1 alone would build DPDK under TCG. */
let built = false;
/** Set when the last test passed. */
let ok = false;

function requireBuilt(): void {
  if (!built)
    throw new Error(
      'the guest did not receive the real DPDK build (first test): not applying to vm1 alone, it would build DPDK under TCG',
    );
}

async function cli(args: string[], timeoutMs = 1_800_000): Promise<{ code: number; all: string }> {
  return dpvsDeploy([...args, '--run-dir', runs], timeoutMs);
}

/** The dpvs unit's journal since its last start (stdout/stderr of dpvs, EAL's own lines included). */
async function journal(): Promise<string> {
  const g = await vm();
  const since = (
    await g.must('systemctl show -p ExecMainStartTimestampMonotonic --value dpvs.service')
  ).trim();
  const all = await g.must('journalctl -u dpvs.service -b --no-pager -o short-monotonic', 60_000);
  const start = Number(since) / 1e6;
  return all
    .split('\n')
    .filter((l) => {
      const m = /^\[\s*([\d.]+)\]/.exec(l);
      return !m || Number(m[1]) >= start - 1;
    })
    .join('\n');
}

describe.skipIf(off !== null)(`real DPDK on the guest${off ? ` (SKIPPED: ${off})` : ''}`, () => {
  beforeAll(async () => {
    const t0 = Date.now();
    builder = await startBuilder(vmPaths(), (l) => console.error(`[vm] ${l}`));
    timings.push(`builder up ${s(t0)} (root filesystem prepared in ${builder.prepareS} s)`);
    runs = mkdtempSync(join(vmPaths().run, 'realdpdk-runs-'));
    dpvs = await realDpvs();
    // the runtime libraries the real libdpdk links (libnuma1, libpcap0.8, ...) that the image lacks:
    // the guest has no mirror, so their .debs (downloaded natively with the builder) are installed here
    const g = await vm();
    kver = g.state.kver;
    if (builder.guestDebs.length) {
      await g.must('rm -rf /root/guest-debs && mkdir -p /root/guest-debs');
      const cp = await guestCopy(g.target, builder.guestDebs, '/root/guest-debs/');
      expect(cp.code, cp.stderr).toBe(0);
      await g.must('dpkg -i /root/guest-debs/*.deb >/dev/null', 300_000);
    }
    timings.push(
      `guest runtime libraries: ${builder.guestDebs.map((f) => f.split('/').pop()).join(' ') || 'none needed'}`,
    );
  }, 900_000);
  afterAll(async () => {
    console.error(`[vm] 06-realdpdk timings: ${timings.join('; ')}`);
    if (builder) await builder.stop();
    // transcripts stay when a test failed (.vm/run/realdpdk-runs-*), for the diagnosis
    if (runs && built && ok) rmSync(runs, { recursive: true, force: true });
  }, 120_000);

  it('the build host builds real DPDK and DPVS natively; the guest receives both (no build under TCG)', async () => {
    const inv = realInventory('realdpdk', inputs());
    const plan = await cli(['plan', inv, '--tasks', BUILD_TASKS, '--no-diff']);
    expect(plan.code, plan.all).toBe(2);
    const t0 = Date.now();
    const apply = await cli(['apply', inv, '--tasks', BUILD_TASKS, '--yes'], 2_400_000);
    timings.push(`build on the builder + copy to the guest ${s(t0)}`);
    expect(apply.code, apply.all).toBe(0);
    const t = newestTranscripts(runs, 'apply');
    const b = t[builder.name] ?? '';
    const g = t.vm1 ?? '';
    // real meson and ninja on the builder, with the trimmed driver set and DPVS's series
    expect(b).toContain('drivers/net/virtio: Defining dependency "net_virtio"');
    expect(b).toMatch(/drivers\/net\/e1000: Defining dependency "net_e1000"/);
    expect(b).toMatch(/-Dmachine=default/);
    expect(b).toMatch(/applied: 0007-bonding-device-sends-packets-with-user-specified-sal\.patch/);
    // the kernel modules, compiled by real kbuild against the guest kernel's headers on the builder:
    // rte_kni by DPDK's own meson target (-Denable_kmods=true -Dkernel_dir), igb_uio from dpdk-kmods
    expect(b).toContain('-Denable_kmods=true');
    expect(b).toContain(`-Dkernel_dir=/lib/modules/${kver}`);
    expect(b).toMatch(/CC \[M\]\s+\S+\/kernel\/linux\/kni\/kni_net\.o/);
    expect(b).toMatch(/CC \[M\]\s+\S+\/kmods-src\/dpdk-kmods-[^/\s]+\/igb_uio\.o/);
    const steps = Math.max(0, ...[...b.matchAll(/^\[\d+\/(\d+)\] /gm)].map((m) => Number(m[1])));
    timings.push(`ninja steps ${steps}`);
    expect(steps).toBeGreaterThan(300);
    // the guest: copies, no meson, no ninja, no make
    expect(g).toMatch(/copy builder:\/var\/cache\/dpvs-deploy\/artifacts\/dpdk-20\.11\.10-\S+ -> /);
    expect(g).toMatch(/copy builder:\/opt\/dpvs\/releases\/1\.9\.10-\S+\.tar\.gz -> /);
    expect(g).not.toMatch(/meson setup|ninja -C|make -j/);
    const vm1 = await vm();
    // the guest's dpvs is the builder's: linked with the real, patched DPDK
    expect(await vm1.must('grep -l dpvs-patched:dpdk-stable-20.11.10 /opt/dpvs/releases/*/bin/dpvs')).toMatch(
      /^\/opt\/dpvs\/releases\/1\.9\.10-[0-9a-f]+\/bin\/dpvs$/m,
    );
    const again = await cli(['plan', inv, '--tasks', BUILD_TASKS, '--no-diff']);
    expect(again.code, again.all).toBe(0);
    // vm1 alone (no builder in the run) has nothing to build either
    const alone = await cli(['plan', inv, '--limit', 'vm1', '--tasks', BUILD_TASKS, '--no-diff']);
    expect(alone.code, alone.all).toBe(0);
    built = true;
  }, 2_700_000);

  it('the tool deploys the guest; dpvs brings up real DPDK: EAL probes both NICs, queues and links as dpvs.conf declares', async () => {
    requireBuilt();
    const g = await vm();
    const inv = realInventory('realdpdk', inputs());
    const t0 = Date.now();
    const apply = await cli(['apply', inv, '--limit', 'vm1', '--yes'], 1_200_000);
    timings.push(`guest apply (hugepages, kmods, NICs, dpvs) ${s(t0)}`);
    expect(apply.code, apply.all).toBe(0);
    expect(apply.all).not.toMatch(/meson setup|ninja -C/);
    expect((await g.must('systemctl is-active dpvs.service')).trim()).toBe('active');

    const log = await journal();
    console.error(
      `[vm] dpvs journal (real DPDK):\n${log
        .split('\n')
        .filter((l) => /EAL: Probe|DPVS-REALDPDK|Cause/.test(l))
        .join('\n')}`,
    );
    const { e1000, virtio } = g.state.nics;
    expect(log).toMatch(
      new RegExp(
        `EAL: Probe PCI driver: net_e1000_em \\(8086:100e\\) device: ${e1000.replace(/\./g, '\\.')}`,
      ),
    );
    expect(log).toMatch(
      new RegExp(
        `EAL: Probe PCI driver: net_virtio \\(1af4:10(00|41)\\) device: ${virtio.replace(/\./g, '\\.')}`,
      ),
    );
    expect(log).toMatch(/DPVS-REALDPDK: DPDK 20\.11\.10, EAL up: 2 lcores, main lcore 0/);
    // the pools: one per NUMA node with the size dpvs.conf gives (16383 = 2^14-1)
    for (const n of [0, 1])
      expect(log).toMatch(new RegExp(`pool=mbuf_pool_${n} socket=${n} mbufs=16383 cache=256`));

    // queues and links per port as dpvs.conf declares (the n-th device is DPDK port n)
    const confPath = /EAL up: .* conf (\S+)/.exec(log)?.[1] ?? '';
    const conf = parseDpvsConf(await g.must(`cat ${confPath}`));
    const ports = [
      ...log.matchAll(
        /DPVS-REALDPDK: port=(\d+) name=(\S+) pci=(\S+) driver=(\S+) .*rxq=(\d+) txq=(\d+) .*link=(\S+)/g,
      ),
    ];
    expect(ports.length).toBe(2);
    expect(conf.netif_defs.devices.length).toBe(2);
    const want = [
      { pci: e1000, driver: 'net_e1000_em' },
      { pci: virtio, driver: 'net_virtio' },
    ];
    conf.netif_defs.devices.forEach((d, i) => {
      const m = ports.find((p) => p[1] === String(i));
      expect(m, `port ${i}`).toBeDefined();
      const [, , name, pci, driver, rxq, txq, link] = m as RegExpMatchArray;
      expect({ name, pci, driver }).toEqual({ name: d.name, ...want[i] });
      expect(Number(rxq)).toBe(d.rx.queue_number ?? 1);
      expect(Number(txq)).toBe(d.tx.queue_number ?? 1);
      expect(link).toBe('up');
    });
    expect(log).toMatch(/data plane up: 2 of 2 ports started/);

    // the kernel modules the builder compiled for this kernel, installed and loaded by the tool with the
    // inventory's parameters; the NICs EAL probed above are bound to igb_uio
    for (const m of ['igb_uio', 'rte_kni']) {
      expect((await g.must(`modinfo -F vermagic /lib/modules/${kver}/extra/${m}.ko`)).split(' ')[0]).toBe(
        kver,
      );
      expect(await g.must(`grep -c '^${m} ' /proc/modules`)).toMatch(/^1$/m);
    }
    expect((await g.must('cat /sys/module/igb_uio/parameters/intr_mode')).trim()).toBe('legacy');
    expect((await g.must('cat /sys/module/rte_kni/parameters/carrier')).trim()).toBe('on');
    expect(await g.must('cat /etc/modprobe.d/dpvs-deploy.conf')).toMatch(
      /^options igb_uio intr_mode=legacy wc_activate=1$/m,
    );
    // wc_activate has no sysfs file (module_param(wc_activate, int, 0)): igb_uio says it at init
    expect(await g.must('dmesg | grep "igb_uio: " | tail -n 20')).toMatch(/igb_uio: wc_activate is set/);
    expect(await g.must('dmesg | grep "igb_uio: " | tail -n 20')).toMatch(/igb_uio: Use legacy interrupt/);
    for (const bdf of [e1000, virtio])
      expect((await g.must(`basename "$(readlink /sys/bus/pci/devices/${bdf}/driver)"`)).trim()).toBe(
        'igb_uio',
      );
    // the guest's hugepages hold the pools while dpvs runs
    const free = await g.must('cat /sys/devices/system/node/node*/hugepages/hugepages-2048kB/free_hugepages');
    const total = await g.must('cat /sys/devices/system/node/node*/hugepages/hugepages-2048kB/nr_hugepages');
    const sum = (x: string): number =>
      x
        .trim()
        .split('\n')
        .reduce((a, b) => a + Number(b), 0);
    expect(sum(free)).toBeLessThan(sum(total) - 30); // two pools of about 39 MiB (20 pages of 2 MiB) each

    const t1 = Date.now();
    const plan = await cli(['plan', inv, '--limit', 'vm1', '--no-diff']);
    timings.push(`second plan ${s(t1)}`);
    expect(plan.code, plan.all).toBe(0);
    const verify = await cli(['verify', inv, '--limit', 'vm1']);
    expect(verify.code, verify.all).toBe(0);
  }, 1_500_000);

  it('a pool the hugepages cannot hold: real DPDK fails with its own error, the apply fails', async () => {
    requireBuilt();
    const g = await vm();
    // 65535 mbufs of about 2.3 KiB each need about 150 MiB per node; the tool gave each node 128 MiB
    // (HP-004 warns only: the limit depends on the build)
    const inv = realInventory(
      'realdpdk-short',
      inputs((h) => {
        h.dpvs = { ...h.dpvs, pktpool_size: 65535 };
      }),
    );
    const t0 = Date.now();
    const apply = await cli(['apply', inv, '--limit', 'vm1', '--yes'], 900_000);
    timings.push(`apply with a pool too large (fails) ${s(t0)}`);
    expect(apply.code, apply.all).toBe(1);
    expect(apply.all).toContain('HP-004');
    const log = await g.must('journalctl -u dpvs.service -b --no-pager -o cat | tail -n 400', 60_000);
    // DPDK's own refusal (rte_pktmbuf_pool_create's rte_errno text after the colon)
    expect(log).toMatch(
      /DPVS-REALDPDK: rte_pktmbuf_pool_create\(mbuf_pool_\d, n=65535, cache=256, socket=\d\): \S.*/,
    );
    // then rte_exit: RTE_LOG(CRIT, EAL, "Error - exiting with code: %d\n  Cause: ") and the caller's
    // text (v20.11.10:lib/librte_eal/common/eal_common_debug.c:36-40). EAL's console stream writes each
    // piece to stdout and to syslog, so the journal holds them as separate entries, not always adjacent:
    // each line is asserted on its own. The caller's text is dpvs's (v1.9.10:src/netif.c:1104-1115).
    expect(log).toMatch(/^EAL: Error - exiting with code: 1$/m);
    expect(log).toMatch(/^\s*Cause: Cannot init mbuf pool on socket \d/m);
  }, 900_000);

  it('rollback stops dpvs and gives the NICs back to their kernel drivers', async () => {
    requireBuilt();
    const g = await vm();
    const inv = realInventory('realdpdk', inputs());
    const rollback = await cli(['rollback', inv, '--limit', 'vm1', '--yes'], 900_000);
    expect(rollback.code, rollback.all).toBe(0);
    const drv = async (bdf: string): Promise<string> =>
      (await g.must(`basename "$(readlink /sys/bus/pci/devices/${bdf}/driver)"`)).trim();
    expect(await drv(g.state.nics.e1000)).toBe('e1000');
    expect(await drv(g.state.nics.virtio)).toBe('virtio-pci');
    ok = true;
  }, 900_000);
});
