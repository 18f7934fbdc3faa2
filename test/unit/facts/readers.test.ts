/**
 * The typed readers (src/facts/reads/*, src/lb/current.ts): each parser against what the real program
 * prints (the upstream samples under test/fixtures/upstream/, or a run on this machine), the schema
 * check, and the projections of the facts a task changes.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { factReader, FactError, joinRequests, type RawReads } from '../../../src/facts/read.js';
import { z } from 'zod';
import type { RawOutput } from '../../../src/facts/types.js';
import { driverOverrides } from '../../../src/facts/reads/driver-overrides.js';
import { hasAddress, KNI_ADDR_KEY, kniAddresses } from '../../../src/facts/reads/kni-address.js';
import { compiler } from '../../../src/facts/reads/compiler.js';
import { dpvsReleases } from '../../../src/facts/reads/dpvs-releases.js';
import { isolatedCpus } from '../../../src/facts/reads/isolated-cpus.js';
import { extraModuleHashes } from '../../../src/facts/reads/file-hashes.js';
import { nrOpen } from '../../../src/facts/reads/nr-open.js';
import { bootFirmware } from '../../../src/facts/reads/boot-firmware.js';
import { lbState, OUT } from '../../../src/lb/current.js';
import { parseDpipAddrShow } from '../../../src/lb/parse-dpip.js';
import { parseIpvsadmList } from '../../../src/lb/parse-ipvsadm.js';
import { fillLine, ipvsVersionOf, loadCorpus } from '../../support/upstream-corpus.js';
import { probeLocally } from '../../support/local-probe.js';

const UPSTREAM = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/upstream');
const sample = <T>(file: string): T => parseYaml(readFileSync(path.join(UPSTREAM, file), 'utf8')) as T;
const reads =
  (m: Record<string, RawOutput>): RawReads =>
  (k) =>
    m[k];

describe('driver overrides: driverctl list-overrides (Debian driverctl 0.111-1)', () => {
  const s = sample<{
    samples: Array<{ id: string; stdout: string[]; exit: number; overrides: Record<string, string | null> }>;
  }>('driverctl/list-overrides.yaml');
  for (const e of s.samples)
    it(`${e.id}: the devices with an override and the driver each is bound to now`, () => {
      // the read drops stderr: only stdout reaches the parser
      const raw = { 'nic-binding-driverctl': { code: e.exit, stdout: e.stdout.join('\n') } };
      expect(driverOverrides.parse(reads(raw))).toEqual(e.overrides);
    });
});

describe('KNI addresses: ip -o addr show dev (Debian iproute2 6.1.0-3)', () => {
  const s = sample<{ samples: Array<{ id: string; stdout: string[]; exit: number; addresses: string[] }> }>(
    'iproute2/ip-o-addr-show.yaml',
  );
  for (const e of s.samples)
    it(`${e.id}: every address with its prefix length`, () => {
      const got = kniAddresses.parse(
        reads({ [KNI_ADDR_KEY]: { code: e.exit, stdout: e.stdout.join('\n') } }),
      );
      expect(got).toEqual(e.addresses);
      expect(hasAddress(got ?? [], e.addresses[0] as string)).toBe(true);
      // the same address with another prefix length is the same address; another one is not
      expect(hasAddress(got ?? [], '127.0.0.1/32')).toBe(true);
      expect(hasAddress(got ?? [], '127.0.0.2/8')).toBe(false);
    });
  it('no such device (the probe skipped ip: exit 1, nothing printed): null', () => {
    expect(kniAddresses.parse(reads({ [KNI_ADDR_KEY]: { code: 1, stdout: '' } }))).toBeNull();
  });
});

describe('live LB state: dpip and ipvsadm listings of the upstream corpus through the reader', () => {
  const corpus = loadCorpus();
  const fill = {
    macs: { dpdk0: 'a0:36:9f:12:34:56', dpdk1: 'a0:36:9f:12:34:57' },
    ipvsVersion: ipvsVersionOf('1.9.10'),
  };
  const text = (id: string): string => {
    const e = corpus.find((x) => x.id === id);
    if (!e) throw new Error(`no corpus entry ${id}`);
    return (e.stdout ?? []).map((l) => fillLine(l, fill)).join('\n') + '\n';
  };
  const ok = (stdout: string): RawOutput => ({ code: 0, stdout });

  it('a running dpvs: addresses by family from dpip, services from ipvsadm -ln (the lb parsers)', () => {
    const addr = corpus.find((e) => e.id.startsWith('dpip-addr-show') && (e.exit ?? 0) === 0)!.id;
    const list = corpus.find((e) => e.id.startsWith('ipvsadm-ln') && (e.exit ?? 0) === 0)!.id;
    const cur = lbState.parse(
      reads({
        [OUT.addr]: ok(text(addr)),
        [OUT.route]: ok(''),
        [OUT.ipvsList]: ok(text(list)),
        [OUT.laddrs]: ok(''),
      }),
    );
    expect(cur.running).toBe(true);
    expect(cur.state.addresses).toEqual(parseDpipAddrShow(text(addr)).filter((a) => a.family === 'inet'));
    expect(cur.state.services).toEqual(parseIpvsadmList(text(list)).services);
  });

  it('dpvs down (ipvsadm exits 2, "Are you sure that dpvs is running?"): empty and not running', () => {
    const e = corpus.find((x) => x.id === 'ipvsadm-ln-dpvs-down')!;
    const cur = lbState.parse(
      reads({
        [OUT.addr]: ok(''),
        [OUT.route]: ok(''),
        [OUT.ipvsList]: { code: e.exit ?? 1, stdout: '' },
        [OUT.laddrs]: ok(''),
      }),
    );
    expect(cur).toEqual({ running: false, state: lbState.parse(reads({})).state });
  });
});

describe('the compiler: gcc --version, run on this machine through the probe', () => {
  it('the first line and its version', () => {
    const f = probeLocally(compiler.request());
    const want = execFileSync('gcc', ['--version'], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
    });
    const got = compiler.read(f);
    expect(got.line).toBe(want.split('\n')[0]?.trim());
    expect(got.version).toMatch(/^\d+\.\d+/);
  });
  it('no gcc (the probe does not run it: 127, nothing): an empty line, no version', () => {
    expect(compiler.parse(reads({ 'dpdk-build-compiler': { code: 127, stdout: '' } }))).toEqual({
      line: '',
      version: null,
    });
  });
});

describe('projections: the readings a changed fact comes back as', () => {
  it('dpvs releases: current and the release list round-trip', () => {
    const v = {
      current: '/opt/dpvs/releases/1.9.10-a6dddde08c62',
      releases: ['1.9.10-a6dddde08c62', '1.9.9-000000000000'],
    };
    const f = dpvsReleases.project({ hostname: 'lb1', outputs: {} }, v);
    expect(dpvsReleases.read(f)).toEqual({ current: v.current, releases: [...v.releases].sort() });
    expect(dpvsReleases.read({ outputs: {} })).toEqual({ current: '', releases: [] });
  });
  it('isolated CPUs: a CPU list as the kernel prints it', () => {
    expect(isolatedCpus.render([2, 3, 4, 5, 10])).toEqual({
      'kernel-cmdline:isolated': { code: 0, stdout: '2-5,10' },
    });
    expect(isolatedCpus.read(isolatedCpus.project({ outputs: {} }, [1, 7]))).toEqual([1, 7]);
  });
});

describe('reads run by the probe on this machine', () => {
  it('texts, listings and a sha256sum over a path under the running kernel', () => {
    const f = probeLocally(
      nrOpen.request(),
      bootFirmware.request(),
      extraModuleHashes.request(['/etc/hostname']),
    );
    expect(nrOpen.read(f)).toBe(Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()));
    expect(bootFirmware.read(f).efi).toBe(
      (() => {
        try {
          readFileSync('/sys/firmware/efi');
          return true;
        } catch (e) {
          return (e as NodeJS.ErrnoException).code === 'EISDIR';
        }
      })(),
    );
    const sha = execFileSync('sha256sum', ['/etc/hostname'], { encoding: 'utf8' }).split(' ')[0];
    expect(extraModuleHashes.read(f)).toEqual({ '/etc/hostname': sha });
  });
});

describe('a reading that does not fit the schema', () => {
  it('is a FactError naming the host and the fact, not a stack trace', () => {
    const r = factReader<number>({
      name: 'a count',
      keys: ['n'],
      schema: z.number().int(),
      request: () => ({ texts: { n: '/proc/x' } }),
      parse: (raw) => Number(raw('n')?.stdout),
    });
    expect(() => r.read({ hostname: 'lb9', outputs: { n: { code: 0, stdout: 'many' } } })).toThrow(FactError);
    expect(() => r.read({ hostname: 'lb9', outputs: { n: { code: 0, stdout: 'many' } } })).toThrow(
      /^lb9: the probed a count does not parse: /,
    );
  });
});

describe('joinRequests', () => {
  it("keeps every request's files and keys, and leaves out what nobody asked for", () => {
    const j = joinRequests(
      isolatedCpus.request(),
      { files: ['/etc/default/grub'] },
      { files: ['/boot/grub/grub.cfg'], execs: { k: ['uname', '-r'] } },
    );
    expect(j.files).toEqual(['/etc/default/grub', '/boot/grub/grub.cfg']);
    expect(Object.keys(j.texts ?? {})).toEqual(Object.keys(isolatedCpus.request().texts ?? {}));
    expect(j.execs).toEqual({ k: ['uname', '-r'] });
    expect(j.listings).toBeUndefined();
  });
});
