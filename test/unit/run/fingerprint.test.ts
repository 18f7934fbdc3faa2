/**
 * The facts fingerprint of a saved plan (src/plan/fingerprint.ts with every typed reader,
 * src/run/fingerprint.ts): it changes when the host's configuration changes, including what only the
 * typed readings hold (the DPVS release `current` points to, the LB services, the built modules'
 * hashes), and not when only live counters moved (the upstream samples' sa_used/sa_free/sa_miss,
 * ActiveConn/InActConn, CONFLICTS/CONNS).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FACT_READERS, typedReadings } from '../../../src/facts/readings.js';
import { compiler } from '../../../src/facts/reads/compiler.js';
import { dpvsReleases } from '../../../src/facts/reads/dpvs-releases.js';
import { extraModuleHashes } from '../../../src/facts/reads/file-hashes.js';
import { nrOpen } from '../../../src/facts/reads/nr-open.js';
import type { Facts, RawOutput } from '../../../src/facts/types.js';
import * as lbCurrent from '../../../src/lb/current.js';
import { lbState, OUT } from '../../../src/lb/current.js';
import { factsFingerprint } from '../../../src/plan/fingerprint.js';
import { HOST_READERS, hostDifferences, hostFingerprint } from '../../../src/run/fingerprint.js';
import { factsBuilder } from '../../support/facts-builder.js';
import { probeLocally } from '../../support/local-probe.js';
import { fillLine, ipvsVersionOf, loadCorpus } from '../../support/upstream-corpus.js';

const withOutputs = (f: Facts, outputs: Record<string, RawOutput>): Facts => ({
  ...f,
  outputs: { ...f.outputs, ...outputs },
});

describe('fingerprints of the fact sections', () => {
  it('ignore volatile readings and change with real facts', () => {
    const a = factsBuilder().numaNodes(2).hugepages({ perNode: 16 }).build();
    const b = structuredClone(a);
    b.memory.freeKb += 12345;
    b.probeMs = 999;
    expect(hostFingerprint(b)).toBe(hostFingerprint(a));
    const c = structuredClone(a);
    c.numa[1]!.hugepages[0]!.total = 7;
    expect(hostFingerprint(c)).not.toBe(hostFingerprint(a));
    expect(hostDifferences(a, c)).toEqual([
      `numa[1].hugepages[0].total: ${a.numa[1]!.hugepages[0]!.total} → 7`,
    ]);
  });
});

describe('fingerprints of the typed readings', () => {
  const base = factsBuilder().hostname('lb1').build();

  it('a changed DPVS release (where `current` points) changes the fingerprint and is named', () => {
    const releases = ['1.9.6-0a1b2c3d', '1.9.8-3f2a9c1e'];
    const then = withOutputs(
      base,
      dpvsReleases.render({ current: '/opt/dpvs/releases/1.9.6-0a1b2c3d', releases }),
    );
    const now = withOutputs(
      base,
      dpvsReleases.render({ current: '/opt/dpvs/releases/1.9.8-3f2a9c1e', releases }),
    );
    expect(hostFingerprint(now)).not.toBe(hostFingerprint(then));
    expect(hostDifferences(then, now)).toEqual([
      'readings.dpvs-releases.current: "/opt/dpvs/releases/1.9.6-0a1b2c3d" → "/opt/dpvs/releases/1.9.8-3f2a9c1e"',
    ]);
  });

  it('a changed hash of a built kernel module changes the fingerprint', () => {
    const ko = '/lib/modules/6.1.0-18-amd64/extra/rte_kni.ko';
    const sums = (h: string): Record<string, RawOutput> => ({
      'kmods-extra': { code: 0, stdout: `${h}  ${ko}\n` },
    });
    const then = withOutputs(base, sums('a'.repeat(64)));
    const now = withOutputs(base, sums('b'.repeat(64)));
    expect(extraModuleHashes.read(now)).toEqual({ [ko]: 'b'.repeat(64) });
    expect(hostFingerprint(now)).not.toBe(hostFingerprint(then));
    expect(hostDifferences(then, now)).toEqual([
      `readings.kmods-extra.${ko}: "${'a'.repeat(64)}" → "${'b'.repeat(64)}"`,
    ]);
    // a module removed: named as absent
    const gone = withOutputs(base, { 'kmods-extra': { code: 1, stdout: '' } });
    expect(hostDifferences(then, gone)).toEqual([`readings.kmods-extra.${ko}: "${'a'.repeat(64)}" → absent`]);
  });

  it('a changed compiler, kernel list or /proc value changes the fingerprint', () => {
    const gcc = (v: string): Record<string, RawOutput> => ({
      'dpdk-build-compiler': { code: 0, stdout: `gcc (Debian ${v}-14) ${v}\nCopyright (C) 2022\n` },
    });
    expect(hostFingerprint(withOutputs(base, gcc('12.2.0')))).not.toBe(
      hostFingerprint(withOutputs(base, gcc('12.3.0'))),
    );
    const k = (ls: string): Record<string, RawOutput> => ({ 'kernels-installed': { code: 0, stdout: ls } });
    expect(hostFingerprint(withOutputs(base, k('6.1.0-18-amd64\n')))).not.toBe(
      hostFingerprint(withOutputs(base, k('6.1.0-18-amd64\n6.1.0-57-amd64\n'))),
    );
    expect(hostFingerprint(withOutputs(base, { 'fs-nr-open': { code: 0, stdout: '1048576' } }))).not.toBe(
      hostFingerprint(withOutputs(base, { 'fs-nr-open': { code: 0, stdout: '2097152' } })),
    );
  });

  it('the same reading in another text form (what the reader does not keep) is the same fingerprint', () => {
    // gcc's copyright lines are not part of the compiler reading
    const a = withOutputs(base, {
      'dpdk-build-compiler': { code: 0, stdout: 'gcc (Debian 12.2.0-14) 12.2.0\nCopyright (C) 2022\n' },
    });
    const b = withOutputs(base, {
      'dpdk-build-compiler': { code: 0, stdout: 'gcc (Debian 12.2.0-14) 12.2.0\nCopyright (C) 2023\n' },
    });
    expect(compiler.read(a)).toEqual(compiler.read(b));
    expect(hostFingerprint(b)).toBe(hostFingerprint(a));
  });

  it('a reading no reader claims goes in as it is', () => {
    const a = withOutputs(base, { 'someone-else': { code: 0, stdout: 'x' } });
    const b = withOutputs(base, { 'someone-else': { code: 0, stdout: 'y' } });
    expect(hostDifferences(a, b)).toEqual(['readings.raw:someone-else.stdout: "x" → "y"']);
    // with no reader at all, every reading still enters raw
    const then = withOutputs(base, { 'fs-nr-open': { code: 0, stdout: '1048576' } });
    const now = withOutputs(base, { 'fs-nr-open': { code: 0, stdout: '2097152' } });
    expect(factsFingerprint(now, {})).not.toBe(factsFingerprint(then, {}));
  });

  it('a reading that does not parse enters raw under its reader and does not throw', () => {
    const bad = (t: string): Facts => withOutputs(base, { 'fs-nr-open': { code: 0, stdout: t } });
    expect(() => nrOpen.read(bad('-5'))).toThrow(/fs\.nr_open/);
    expect(typedReadings(bad('-5'), FACT_READERS)['nr-open']).toEqual({
      unparsed: { 'fs-nr-open': { code: 0, stdout: '-5' } },
    });
    expect(hostFingerprint(bad('-5'))).not.toBe(hostFingerprint(bad('-6')));
  });
});

describe('fingerprints of the live LB state (upstream samples of dpip and ipvsadm)', () => {
  const corpus = loadCorpus();
  const fill = {
    macs: { dpdk0: 'a0:36:9f:12:34:56', dpdk1: 'a0:36:9f:12:34:57' },
    ipvsVersion: ipvsVersionOf('1.9.10'),
  };
  /** a sample's stdout; `{uint}` (dpip's sa_used/sa_free/sa_miss) filled with `n` */
  const text = (id: string, n = 0): string => {
    const e = corpus.find((x) => x.id === id);
    if (!e) throw new Error(`no corpus entry ${id}`);
    return (e.stdout ?? []).map((l) => fillLine(l.replace(/\{uint\}/g, String(n)), fill)).join('\n') + '\n';
  };
  /** ipvsadm -ln's ActiveConn/InActConn ("%-10u %-10u") of every destination set to a, b */
  const conns = (t: string, a: number, b: number): string =>
    t.replace(
      /^( {2}-> \S+\s+\S+\s+\d+\s+)\d+\s+\d+\s*$/gm,
      (_m, head: string) => `${head}${String(a).padEnd(10)} ${String(b).padEnd(10)}`,
    );
  /** ipvsadm -G's CONFLICTS/CONNS ("%-10lu %-10u") of every local address set to a, b */
  const laddrCounters = (t: string, a: number, b: number): string =>
    t.replace(
      /^(\s+\S+\s+)\d+\s+\d+\s*$/gm,
      (_m, head: string) => `${head}${String(a).padEnd(10)} ${String(b).padEnd(10)}`,
    );
  const ok = (stdout: string): RawOutput => ({ code: 0, stdout });
  const lb = (o: { addr: string; list: string; laddrs: string }): Facts =>
    withOutputs(factsBuilder().hostname('lb1').build(), {
      [OUT.addr]: ok(o.addr),
      [OUT.addr6]: ok(''),
      [OUT.route]: ok(text('dpip-route-show-v4')),
      [OUT.route6]: ok(''),
      [OUT.ipvsList]: ok(o.list),
      [OUT.laddrs]: ok(o.laddrs),
    });
  const addr = text('dpip-addr-show-v4-link-local');
  const list = text('ipvsadm-ln-fullnat');
  const laddrs = text('ipvsadm-G-fullnat');
  const then = lb({ addr, list, laddrs });

  it('the samples are read as a running dpvs with a service (the reading is not empty)', () => {
    const cur = lbState.read(then);
    expect(cur.running).toBe(true);
    expect(cur.state.services.map((s) => s.scheduler)).toEqual(['rr']);
    expect(cur.state.laddrs.map((l) => l.ip)).toEqual(['192.168.100.200']);
    expect(cur.state.addresses.some((a) => a.sapool)).toBe(true);
  });

  it('only counters moved (sa_used/sa_free/sa_miss, ActiveConn/InActConn, CONFLICTS/CONNS): the same fingerprint', () => {
    const busy = lb({
      addr: text('dpip-addr-show-v4-link-local', 4711),
      list: conns(list, 1234, 56789),
      laddrs: laddrCounters(laddrs, 3, 98765),
    });
    // the counters really are in the text the probe returned
    expect(busy.outputs[OUT.addr]?.stdout).toContain('sa_used 4711');
    expect(busy.outputs[OUT.ipvsList]?.stdout).toMatch(/FullNat 1\s+1234\s+56789/);
    expect(busy.outputs[OUT.laddrs]?.stdout).toMatch(/192\.168\.100\.200\s+3\s+98765/);
    expect(busy.outputs).not.toEqual(then.outputs);
    expect(hostFingerprint(busy)).toBe(hostFingerprint(then));
    expect(hostDifferences(then, busy)).toEqual([]);
  });

  it('a changed LB service (its scheduler) changes the fingerprint and is named', () => {
    const now = lb({ addr, list: list.replace('TCP  10.0.0.10:80 rr', 'TCP  10.0.0.10:80 wrr'), laddrs });
    expect(hostFingerprint(now)).not.toBe(hostFingerprint(then));
    expect(hostDifferences(then, now)).toEqual([
      'readings.lb-state.state.services[0].scheduler: "rr" → "wrr"',
    ]);
  });

  it('a changed real server weight or a dpvs that stopped answering changes the fingerprint', () => {
    const weight = lb({ addr, list: list.replace('FullNat 100', 'FullNat 50 '), laddrs });
    expect(hostDifferences(then, weight)).toEqual([
      'readings.lb-state.state.realServers[1].weight: 100 → 50',
    ]);
    const down = withOutputs(then, { [OUT.ipvsList]: { code: 2, stdout: '' } });
    expect(hostFingerprint(down)).not.toBe(hostFingerprint(then));
    expect(hostDifferences(then, down)).toContain('readings.lb-state.running: true → false');
  });
});

describe('the fingerprint reads with every typed reader', () => {
  it('every reader exported by src/facts/reads and src/lb/current.ts is in the set', async () => {
    const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/facts/reads');
    const modules: Record<string, unknown>[] = [lbCurrent];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts')))
      modules.push((await import(path.join(dir, f))) as Record<string, unknown>);
    const isReader = (v: unknown): boolean =>
      typeof v === 'object' &&
      v !== null &&
      Array.isArray((v as { keys?: unknown }).keys) &&
      typeof (v as { parse?: unknown }).parse === 'function' &&
      typeof (v as { read?: unknown }).read === 'function';
    const readers = modules.flatMap((m) => Object.values(m).filter(isReader));
    expect(readers.length).toBeGreaterThanOrEqual(16);
    const set = new Set<unknown>(Object.values(HOST_READERS));
    expect(readers.filter((r) => !set.has(r)).map((r) => (r as { name: string }).name)).toEqual([]);
  });

  it('a re-probe of this machine with every reader that needs no argument reads the same fingerprint', () => {
    if (process.platform !== 'linux') return;
    const req = [
      FACT_READERS['boot-firmware'].request(),
      FACT_READERS.compiler.request(),
      FACT_READERS['installed-kernels'].request(),
      FACT_READERS['isolated-cpus'].request(),
      FACT_READERS['nr-open'].request(),
      FACT_READERS['pkg-config'].request(),
      FACT_READERS['driver-overrides'].request(),
      FACT_READERS['kni-addresses'].request('lo'),
      FACT_READERS['kmods-extra'].request(['/etc/hostname']),
    ];
    const a = probeLocally(...req);
    const b = probeLocally(...req);
    const r = typedReadings(a, HOST_READERS);
    expect(Object.keys(r).filter((k) => k.startsWith('raw:'))).toEqual([]);
    expect(r['kni-addresses']).toContain('127.0.0.1/8');
    expect(Object.keys(r['kmods-extra'] as object)).toEqual(['/etc/hostname']);
    expect(hostDifferences(a, b)).toEqual([]);
    expect(hostFingerprint(b)).toBe(hostFingerprint(a));
  });
});
