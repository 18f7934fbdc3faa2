/**
 * The guest itself and the safety of the host: a real Debian kernel with 2 NUMA nodes, under TCG only
 * (no /dev/kvm in QEMU's fds), reachable only over 127.0.0.1, reaching nothing outside; the host's own
 * hugepage counter is untouched; the committed template inventory is current and validates.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dpvsDeploy, unavailable, vm } from './harness.js';
import { templateYaml } from './vm.js';
import { vmPaths } from './paths.js';
import { HOST_HUGEPAGES } from './global-setup.js';

const off = unavailable();

describe.skipIf(off !== null)(`VM guest${off ? ` (SKIPPED: ${off})` : ''}`, () => {
  it('runs the image kernel with 2 NUMA nodes and 2 CPUs', async () => {
    const g = await vm();
    expect((await g.must('uname -r')).trim()).toBe(g.state.kver);
    expect((await g.must('cat /sys/devices/system/node/online')).trim()).toBe('0-1');
    expect((await g.must('nproc')).trim()).toBe('2');
    expect(await g.must('cat /sys/devices/system/node/node1/cpulist')).toMatch(/^1$/m);
  });

  it('QEMU uses software emulation only: TCG on its command line, no /dev/kvm among its fds', async () => {
    const g = await vm();
    const argv = readFileSync(`/proc/${g.state.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('tcg,thread=multi,tb-size=256');
    expect(argv.join(' ')).not.toMatch(/kvm|-enable-kvm|cpu host/);
    const fds = readdirSync(`/proc/${g.state.pid}/fd`).map((fd) => {
      try {
        return readlinkSync(join(`/proc/${g.state.pid}/fd`, fd));
      } catch {
        return '';
      }
    });
    expect(fds.length).toBeGreaterThan(3);
    expect(fds.filter((f) => f.includes('kvm'))).toEqual([]);
    // The guest sees no hardware virtualisation backend either (the kvm modules are blacklisted).
    expect((await g.ssh('test -e /dev/kvm')).code).not.toBe(0);
  });

  it('the guest reaches nothing outside this machine (restrict=on)', async () => {
    const g = await vm();
    const r = await g.ssh('curl -sS -m 3 -o /dev/null http://deb.debian.org/debian/ ; echo "rc=$?"', 30_000);
    expect(r.stdout).toMatch(/rc=(?!0\b)\d+/);
    const r2 = await g.ssh('curl -sS -m 3 -o /dev/null http://10.0.2.2:22/ ; echo "rc=$?"', 30_000);
    expect(r2.stdout).toMatch(/rc=(?!0\b)\d+/);
  });

  it('SSH is forwarded on 127.0.0.1 only, with the pinned host key', async () => {
    const g = await vm();
    const hex = g.state.port.toString(16).toUpperCase().padStart(4, '0');
    const listeners = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === '0A')
      .map((f) => f[1]);
    expect(listeners).toEqual([`0100007F:${hex}`]);
    const tcp6 = readFileSync('/proc/net/tcp6', 'utf8');
    expect(tcp6).not.toMatch(new RegExp(`:${hex} [0-9A-F]+:0000 0A`));
    expect(readFileSync(g.paths.knownHosts, 'utf8')).toMatch(
      new RegExp(`^\\[127\\.0\\.0\\.1\\]:${g.state.port} ssh-ed25519 `),
    );
  });

  it("this machine's 2 MB hugepage counter is untouched", () => {
    const p = JSON.parse(readFileSync(join(vmPaths().run, 'host-baseline.json'), 'utf8')) as {
      nrHugepages2M: string;
    };
    expect(readFileSync(HOST_HUGEPAGES, 'utf8').trim()).toBe(p.nrHugepages2M);
  });

  it('inventories/vm.yaml (template) is current, and both inventories validate', async () => {
    const g = await vm();
    expect(readFileSync(g.paths.template, 'utf8')).toBe(templateYaml(g.paths));
    for (const f of [g.paths.template, g.inventory]) {
      const r = await dpvsDeploy(['validate', f]);
      expect(r.code, r.all).toBe(0);
    }
  });

  it('dpvs-deploy reads the guest facts over SSH: 2 NUMA nodes, the three NICs', async () => {
    const g = await vm();
    const r = await dpvsDeploy(['facts', g.inventory, '--json']);
    expect(r.code, r.all).toBe(0);
    // facts --json: { format, format_version, hosts: { <name>: facts } }
    const facts = JSON.parse(r.stdout) as {
      format_version: number;
      hosts: Record<string, { numa: unknown[]; nics: Array<{ pci: string }> }>;
    };
    expect(facts.format_version).toBe(1);
    const f = facts.hosts.vm1;
    expect(f?.numa).toHaveLength(2);
    expect(f?.nics.map((n) => n.pci)).toEqual(
      expect.arrayContaining([g.state.nics.e1000, g.state.nics.virtio]),
    );
  });
});
