import { describe, expect, it } from 'vitest';
import { packagesTask, requiredPackages } from '../../../src/tasks/packages.js';
import { factsBuilder, planContext, r630Host } from '../../support/facts-builder.js';

const lb = r630Host();

describe('packages planner', () => {
  it('installs only the missing Debian packages and the running kernel headers with apt', () => {
    const f = factsBuilder().os('debian12').kernel({ headersInstalled: false }).pkg('gcc', '12.2.0').build();
    const { changes, projected } = packagesTask.plan(planContext(lb, f));
    const s = changes[0]!.steps[0];
    const cmd = s?.kind === 'exec' ? s.command : '';
    expect(cmd).toMatch(/^DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /);
    expect(cmd).toContain('libnuma-dev');
    expect(cmd).toContain('ninja-build');
    expect(cmd).toContain('linux-headers-6.1.0-18-amd64');
    expect(cmd.split(' ')).not.toContain('gcc');
    expect(projected?.kernel.headersInstalled).toBe(true);
  });

  it('uses dnf and RHEL names on Rocky, and plans nothing when everything is there', () => {
    const f = factsBuilder().os('rocky9').kernel({ headersInstalled: false }).build();
    const s = packagesTask.plan(planContext(lb, f)).changes[0]!.steps[0];
    const cmd = s?.kind === 'exec' ? s.command : '';
    expect(cmd).toMatch(/^dnf install -y /);
    expect(cmd).toContain('numactl-devel');
    expect(cmd).toContain('kernel-devel-5.14.0-362.8.1.el9_3.x86_64');
    const all = factsBuilder().os('rocky9').kernel({ headersInstalled: true });
    for (const p of requiredPackages(lb, 'rhel')) all.pkg(p, '1');
    expect(packagesTask.plan(planContext(lb, all.build())).changes).toEqual([]);
    expect(packagesTask.plan(planContext({ ...lb, packages: false }, f)).changes).toEqual([]);
  });

  it('carries what the real DPDK 20.11.10 / DPVS 1.9.10 build links and runs, per family', () => {
    // libdpdk.pc --static: -lcrypto -ldbus-1 -lnuma -lpcap -lsystemd; keepalived: build_setup + configure
    expect(requiredPackages(lb, 'debian')).toEqual(
      expect.arrayContaining([
        'libsystemd-dev',
        'libpcap-dev',
        'libnuma-dev',
        'libssl-dev',
        'pkg-config',
        'python3-pyelftools',
        'meson',
        'ninja-build',
        'autoconf',
        'automake',
        'libnl-3-dev',
        'libnl-genl-3-dev',
        'libpopt-dev',
      ]),
    );
    expect(requiredPackages(lb, 'rhel')).toEqual(
      expect.arrayContaining([
        'systemd-devel',
        'libpcap-devel',
        'numactl-devel',
        'openssl-devel',
        'pkgconf-pkg-config',
        'autoconf',
        'automake',
        'libnl3-devel',
        'popt-devel',
      ]),
    );
    // no Debian name leaks into the RHEL list and the other way round
    expect(requiredPackages(lb, 'rhel').filter((p) => p.endsWith('-dev'))).toEqual([]);
    expect(requiredPackages(lb, 'debian').filter((p) => p.endsWith('-devel'))).toEqual([]);
    const f = factsBuilder().os('debian12').kernel({ headersInstalled: true }).build();
    const cmd = packagesTask.plan(planContext(lb, f)).changes[0]!.steps[0];
    expect(cmd?.kind === 'exec' ? cmd.command.split(' ') : []).toEqual(
      expect.arrayContaining(['libsystemd-dev', 'autoconf', 'automake']),
    );
  });

  it('gives realservers the module build set only', () => {
    const rs = r630Host({ roles: ['realserver'] });
    expect(requiredPackages(rs, 'debian')).toEqual(['gcc', 'make', 'kmod', 'curl', 'tar', 'xz-utils']);
  });
});
