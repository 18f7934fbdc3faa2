/**
 * The launcher's safety properties, without a guest: software emulation only, /dev/kvm masked before
 * QEMU runs, every NIC restricted, SSH forwarded on 127.0.0.1 only; the pinned known_hosts line.
 */
import { asRoot } from '../support/root.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputsHash } from './image.js';
import { vmPaths } from './paths.js';
import { qemuArgs, wrapperArgv } from './qemu.js';
import { knownHostsLine } from './ssh.js';

const opts = {
  kernel: '/k',
  initrd: '/i',
  append: 'BOOT_IMAGE=/boot/vmlinuz-x root=UUID=u ro console=ttyS0 quiet',
  overlay: '/o.qcow2',
  pidFile: '/p',
  serialLog: '/s',
  monitor: '/m',
  sshPort: 40123,
};

describe('VM launcher', () => {
  it('asks for TCG only, never KVM, with the q35 + intel-iommu + 2-node NUMA machine', () => {
    const a = qemuArgs(opts);
    expect(a[a.indexOf('-accel') + 1]).toBe('tcg,thread=multi,tb-size=256');
    expect(a.filter((x) => x === '-accel')).toHaveLength(1);
    expect(a.join(' ')).not.toMatch(/kvm|cpu host/);
    expect(a).toEqual(
      expect.arrayContaining(['q35', 'intel-iommu,intremap=on', '2,sockets=2,cores=1,threads=1']),
    );
    // The command line is the guest bootloader's, verbatim: the launcher adds nothing (no intel_iommu=on).
    expect(a.filter((x) => x === '-append')).toHaveLength(1);
    expect(a[a.indexOf('-append') + 1]).toBe(opts.append);
    // A guest reset ends QEMU; the supervisor boots the guest again from its disk.
    expect(a).toContain('-no-reboot');
    expect(a[a.indexOf('-kernel') + 1]).toBe('/k');
    expect(a[a.indexOf('-initrd') + 1]).toBe('/i');
    expect(qemuArgs({ ...opts, initrd: null })).not.toContain('-initrd');
    expect(a.filter((x) => x.startsWith('node,nodeid='))).toHaveLength(2);
  });

  it('restricts every netdev and forwards SSH on 127.0.0.1 only', () => {
    const a = qemuArgs(opts);
    const netdevs = a.filter((_, i) => a[i - 1] === '-netdev');
    expect(netdevs).toHaveLength(3);
    for (const n of netdevs) expect(n).toMatch(/^user,id=n\d,restrict=on(,|$)/);
    const fwd = netdevs.flatMap((n) => n.split(',').filter((x) => x.startsWith('hostfwd=')));
    expect(fwd).toEqual(['hostfwd=tcp:127.0.0.1:40123-:22']);
  });

  it('runs QEMU in a private mount namespace with /dev/null bound over /dev/kvm', () => {
    const w = wrapperArgv(['-version'], 60);
    expect(w.cmd).toBe('unshare');
    expect(w.args.slice(0, 3)).toEqual(['-m', '--propagation', 'private']);
    const script = w.args[5] ?? '';
    expect(script).toMatch(
      /mount --bind \/dev\/null \/dev\/kvm \|\| exit 99;.*exec timeout "\$0" qemu-system-x86_64/,
    );
  });

  it.runIf(asRoot)('the mask really applies inside the namespace and not outside', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vm-mask-'));
    try {
      // The same wrapper, with a probe in place of QEMU: /dev/kvm reads as /dev/null (char 1,3) inside.
      const script = (wrapperArgv([], 5).args[5] ?? '').replace(
        /exec timeout .*$/,
        'stat -Lc %t:%T /dev/kvm 2>/dev/null || echo none',
      );
      writeFileSync(join(dir, 'x.sh'), script);
      const inside = execFileSync('unshare', ['-m', '--propagation', 'private', '/bin/sh', join(dir, 'x.sh')])
        .toString()
        .trim();
      expect(['1:3', 'none']).toContain(inside);
      const outside = execFileSync('sh', ['-c', 'stat -Lc %t:%T /dev/kvm 2>/dev/null || echo none'])
        .toString()
        .trim();
      expect(outside).not.toBe('1:3');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pins the host key at [127.0.0.1]:port', () => {
    expect(knownHostsLine(40123, 'ssh-ed25519 AAAAC3Nz vm1\n')).toBe(
      '[127.0.0.1]:40123 ssh-ed25519 AAAAC3Nz\n',
    );
    expect(() => knownHostsLine(1, '')).toThrow();
  });

  it('keys the image cache on build.sh and packages.txt', async () => {
    const h = await inputsHash(vmPaths());
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(await inputsHash(vmPaths())).toBe(h);
  });
});
