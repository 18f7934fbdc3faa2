/**
 * BUILD-006 (GCC / OpenSSL vs the DPVS release) and BUILD-007 (toa.ko vs the kernel), on facts built in
 * memory; and the probe commands they read, run for real.
 */
import { COMPILER_ARGV, COMPILER_KEY as COMPILER_OUTPUT } from '../../../src/facts/reads/compiler.js';
import { TCP_H, TCP_SYN_RECV_KEY, tcpSynRecv } from '../../../src/facts/reads/tcp-syn-recv.js';
import type { Exec } from '../../../src/facts/types.js';
import { execFileSync } from 'node:child_process';
import { probeLocally } from '../../support/local-probe.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { preflightProbe } from '../../../src/preflight/probe.js';
import {
  KNOWN_FIX_CFLAGS,
  parameterCount,
  toolchainOf,
  OPENSSL_HEADER,
} from '../../../src/preflight/checks/toolchain.js';
import { factsBuilder, inventoryOf, r630Host, type OsName } from '../../support/facts-builder.js';
import { failing, tripped } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'preflight-toolchain-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const lb = (dpvs: Record<string, unknown> = {}): ResolvedHost =>
  r630Host({ dpvs: { version: '1.9.10', ...dpvs } } as Partial<ResolvedHost>);

function facts(os: OsName, toolchain?: { gcc: string; openssl: string }) {
  const b = factsBuilder().os(os);
  if (toolchain)
    b.output(COMPILER_OUTPUT, `gcc (Debian ${toolchain.gcc}-14) ${toolchain.gcc}\n`).file(
      OPENSSL_HEADER,
      `/* generated */\n# define OPENSSL_VERSION_TEXT "${toolchain.openssl}"\n`,
    );
  return b.build();
}

describe('BUILD-006: GCC and OpenSSL vs the DPVS release', () => {
  it('Debian 12 (GCC 12.2, OpenSSL 3.0 on the host): refused, naming both errors and the exact fix', () => {
    const f = facts('debian12', { gcc: '12.2.0', openssl: 'OpenSSL 3.0.15 3 Sep 2024' });
    const r = tripped(lb(), f, 'BUILD-006');
    expect(r.severity).toBe('error');
    expect(r.found).toContain('GCC 12.2.0: -Werror=array-bounds in src/ipvs/ip_vs_proxy_proto.c');
    expect(r.found).toContain("OpenSSL 3.0.15: 'MD5' is deprecated in src/ipvs/ip_vs_synproxy.c");
    expect(r.fix).toContain(`set dpvs.build_env CFLAGS: ${KNOWN_FIX_CFLAGS}`);
  });

  it('a fresh Debian 12 (nothing installed yet): predicted from the packages the plan installs', () => {
    const r = tripped(lb(), facts('debian12'), 'BUILD-006');
    expect(r.found).toContain("GCC 12.2 (Debian 12's package, installed by the plan)");
    expect(r.found).toContain("OpenSSL 3.0 (Debian 12's package, installed by the plan)");
    expect(toolchainOf(facts('debian12'))).toMatchObject({ gccFrom: 'distro', opensslFrom: 'distro' });
  });

  it('passes with the documented fix in dpvs.build_env, or with -Wno-error', () => {
    const f = facts('debian12', { gcc: '12.2.0', openssl: 'OpenSSL 3.0.15 3 Sep 2024' });
    expect(failing(lb({ build_env: { CFLAGS: KNOWN_FIX_CFLAGS } }), f)).not.toContain('BUILD-006');
    expect(failing(lb({ build_env: { CFLAGS: '-O2 -Wno-error' } }), f)).not.toContain('BUILD-006');
    // half the fix: the other error still stops the build
    const half = tripped(lb({ build_env: { CFLAGS: '-Wno-error=array-bounds' } }), f, 'BUILD-006');
    expect(half.found).not.toContain('array-bounds in');
    expect(half.found).toContain('MD5');
    expect(half.fix).toContain(`CFLAGS: -Wno-error=array-bounds ${KNOWN_FIX_CFLAGS}`);
  });

  it('Ubuntu 22.04 / Rocky 9 (GCC 11, OpenSSL 3): only the OpenSSL error; EL 8 (GCC 8, OpenSSL 1.1): passes', () => {
    for (const os of ['ubuntu22', 'rocky9'] as const) {
      const r = tripped(lb(), facts(os), 'BUILD-006');
      expect(r.found).not.toContain('array-bounds');
      expect(r.found).toContain('MD5');
    }
    expect(failing(lb(), facts('alma8'))).not.toContain('BUILD-006');
    expect(failing(lb(), facts('centos7'))).not.toContain('BUILD-006');
  });

  it('per release: GCC 12 stops 1.9.6-1.9.10 only; OpenSSL 3 stops every release (MD5 in synproxy)', () => {
    const gcc12 = facts('debian12', { gcc: '12.2.0', openssl: 'OpenSSL 1.1.1w  11 Sep 2023' });
    expect(failing(lb({ version: '1.9.4' }), gcc12)).not.toContain('BUILD-006');
    expect(failing(lb({ version: '1.9.6' }), gcc12)).toContain('BUILD-006');
    const ossl3 = facts('debian12', { gcc: '10.2.1', openssl: 'OpenSSL 3.0.15 3 Sep 2024' });
    for (const version of ['1.8.12', '1.9.4', '1.10.2'])
      expect(tripped(lb({ version }), ossl3, 'BUILD-006').found).toContain('MD5');
  });

  it("the probe asks for the compiler as argv and the OpenSSL header as a file; this machine's answers parse", () => {
    const h = lb();
    const req = preflightProbe(h, inventoryOf([h]));
    expect(req.execs?.[COMPILER_OUTPUT]).toEqual([...COMPILER_ARGV]);
    expect(req.files).toContain(OPENSSL_HEADER);
    const gcc = execFileSync('gcc', ['--version'], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
    });
    const f = factsBuilder().os('debian12').output(COMPILER_OUTPUT, gcc);
    if (existsSync(OPENSSL_HEADER)) f.file(OPENSSL_HEADER, readFileSync(OPENSSL_HEADER, 'utf8'));
    const t = toolchainOf(f.build());
    expect(t.gccFrom).toBe('host');
    expect(t.gcc).toMatch(/^\d+\.\d+/);
    expect(gcc.split('\n')[0]).toContain(` ${t.gcc ?? ''}`);
    if (existsSync(OPENSSL_HEADER)) expect(t.opensslFrom).toBe('host');
  });
});

/** Linux v6.1 include/net/tcp.h: tcp_v4_syn_recv_sock's 6 parameters (the 4.4.1 signature). */
const LINUX_61 = `struct sock *tcp_v4_syn_recv_sock(const struct sock *sk, struct sk_buff *skb,
				  struct request_sock *req,
				  struct dst_entry *dst,
				  struct request_sock *req_unhash,
				  bool *own_req);
`;
/** A declaration with one parameter more, a function pointer among them (commas inside it do not count). */
const SEVEN = `struct sock *tcp_v4_syn_recv_sock(const struct sock *sk, struct sk_buff *skb,
				  struct request_sock *req,
				  struct dst_entry *dst,
				  struct request_sock *req_unhash,
				  bool *own_req,
				  void (*child_init)(struct sock *newsk, const struct sock *sk));
`;

describe('BUILD-007: toa.ko vs the kernel', () => {
  const rs = (rsOpts: Record<string, unknown> = {}): ResolvedHost =>
    r630Host({ name: 'rs1', roles: ['realserver'], realserver: rsOpts } as Partial<ResolvedHost>);
  const onKernel = (release: string, header?: string) => {
    const b = factsBuilder()
      .os('debian12')
      .kernel({ release, headersInstalled: header !== undefined });
    if (header !== undefined) {
      const f = path.join(tmp, `tcp-${release}.h`);
      writeFileSync(f, `/* include/net/tcp.h */\nint other(void);\n${header}int after(int a, int b);\n`);
      // the read as the probe runs it, on this header instead of the running kernel's
      const e = tcpSynRecv.request().execs?.[TCP_SYN_RECV_KEY] as Exec;
      const here = (w: string) => (w === TCP_H ? f : w);
      const read = probeLocally({
        execs: { [TCP_SYN_RECV_KEY]: { ...e, argv: e.argv.map(here), onlyIf: f } },
      });
      b.output(TCP_SYN_RECV_KEY, read.outputs[TCP_SYN_RECV_KEY]?.stdout ?? '');
    }
    return b.build();
  };

  it('counts top-level parameters', () => {
    expect(parameterCount(LINUX_61.replace(/\n\s*/g, ' '))).toBe(6);
    expect(parameterCount(SEVEN)).toBe(7);
    expect(parameterCount('nothing here')).toBeNull();
  });

  it('headers with the 6-argument signature: passes', () => {
    expect(failing(rs(), onKernel('6.1.0-18-amd64', LINUX_61))).not.toContain('BUILD-007');
  });

  it('headers with another signature: refused, naming the module, the kernel and the ways out', () => {
    const r = tripped(rs(), onKernel('6.1.0-57-amd64', SEVEN), 'BUILD-007');
    expect(r.found).toBe(
      "kernel 6.1.0-57-amd64's tcp_v4_syn_recv_sock takes 7 arguments (include/net/tcp.h); DPVS 1.9.10's toa.c passes 6",
    );
    expect(r.fix).toMatch(/^set realserver\.toa: false on this host/);
    expect(r.fix).toContain('uoa.ko (UDP, realserver.uoa: true) builds on this kernel');
    expect(r.fix).toContain('patch kmod/toa/toa.c');
  });

  it('no headers yet: predicted for the Debian 6.1 kernels it was seen on (6.1.0-57 and later)', () => {
    expect(tripped(rs(), onKernel('6.1.0-57-amd64'), 'BUILD-007').found).toContain(
      "too few arguments to function 'tcp_v4_syn_recv_sock'",
    );
    expect(failing(rs(), onKernel('6.1.0-58-amd64'))).toContain('BUILD-007');
    expect(failing(rs(), onKernel('6.1.0-18-amd64'))).not.toContain('BUILD-007');
    // the headers win over the prediction
    expect(failing(rs(), onKernel('6.1.0-57-amd64', LINUX_61))).not.toContain('BUILD-007');
  });

  it('toa off: nothing to check; the probe asks only when toa is built', () => {
    expect(failing(rs({ toa: false, uoa: true }), onKernel('6.1.0-57-amd64', SEVEN))).not.toContain(
      'BUILD-007',
    );
    const on = rs();
    expect(preflightProbe(on, inventoryOf([on])).execs?.[TCP_SYN_RECV_KEY]).toEqual(
      tcpSynRecv.request().execs?.[TCP_SYN_RECV_KEY],
    );
    const off = rs({ toa: false });
    expect(preflightProbe(off, inventoryOf([off])).execs?.[TCP_SYN_RECV_KEY]).toBeUndefined();
  });
});
