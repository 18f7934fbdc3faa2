/**
 * The launcher's safety properties, without a guest: software emulation only, /dev/kvm masked before
 * QEMU runs, every NIC restricted, SSH forwarded on 127.0.0.1 only; the pinned known_hosts line.
 */
import { asRoot } from '../support/root.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { grubDefaultEntry, grubKernelCmdline } from './bootcfg.js';
import { inputsHash } from './image.js';
import { vmPaths } from './paths.js';
import { qemuArgs, wrapperArgv } from './qemu.js';
import { knownHostsLine } from './ssh.js';
import { bootEnd } from './supervisor.js';

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

const sample = (f: string): string =>
  readFileSync(join(vmPaths().root, 'test', 'fixtures', 'upstream', 'debian-grub', f), 'utf8');

describe("the guest's bootloader configuration → what the launcher boots", () => {
  it("takes grub.cfg's default entry as update-grub 2.06-13+deb12u2 wrote it on the image", () => {
    const cfg = sample('grub.cfg');
    const e = grubDefaultEntry(cfg);
    expect(e.title).toBe('Debian GNU/Linux');
    expect(e.id).toMatch(/^gnulinux-simple-[0-9a-f-]+$/);
    expect(e.kernel).toMatch(/^\/boot\/vmlinuz-\d+\.\d+\.\d+-\d+-amd64$/);
    expect(e.initrd).toEqual([e.kernel.replace('vmlinuz', 'initrd.img')]);
    // 10_linux: root=UUID=… ro ${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}
    const defaults = sample('default-grub');
    const linux = /^GRUB_CMDLINE_LINUX="(.*)"$/m.exec(defaults)?.[1] ?? '';
    expect(linux).not.toMatch(/intel_iommu/);
    expect(e.args.join(' ')).toMatch(new RegExp(`^root=UUID=[0-9a-f-]+ ro ${linux} quiet$`));
    expect(grubKernelCmdline(e)).toBe(`BOOT_IMAGE=${e.kernel} ${e.args.join(' ')}`);
  });

  it('follows set default (number, title, id, submenu path) and refuses grubenv choices', () => {
    const cfg = [
      'if [ "${next_entry}" ] ; then',
      '   set default="${next_entry}"',
      'else',
      '   set default="DEFAULT"',
      'fi',
      'function load_video {',
      '  insmod all_video',
      '}',
      "menuentry 'A' --class x $menuentry_id_option 'id-a' {",
      "\tlinux\t/boot/vmlinuz-a root=/dev/vda ro 'x=a b' y\\\"z",
      '\tinitrd\t/boot/ucode.img /boot/initrd.img-a',
      '}',
      "submenu 'Advanced' $menuentry_id_option 'adv' {",
      "\tmenuentry 'B' $menuentry_id_option 'id-b' {",
      '\t\tlinux\t/boot/vmlinuz-b ro',
      '\t}',
      '}',
    ].join('\n');
    const at = (d: string): string => grubDefaultEntry(cfg.replace('DEFAULT', d)).kernel;
    expect(at('0')).toBe('/boot/vmlinuz-a');
    expect(at('A')).toBe('/boot/vmlinuz-a');
    expect(at('adv>id-b')).toBe('/boot/vmlinuz-b');
    expect(at('1>0')).toBe('/boot/vmlinuz-b');
    expect(() => at('1')).toThrow(/submenu/);
    expect(() => at('7')).toThrow(/no entry/);
    const a = grubDefaultEntry(cfg.replace('DEFAULT', '0'));
    expect(a.initrd).toEqual(['/boot/ucode.img', '/boot/initrd.img-a']);
    expect(a.args).toEqual(['root=/dev/vda', 'ro', 'x=a b', 'y"z']);
    // grub-core/lib/cmdline.c: a blank → "…", and \ ' " get a backslash
    expect(grubKernelCmdline(a)).toBe('BOOT_IMAGE=/boot/vmlinuz-a root=/dev/vda ro "x=a b" y\\"z');
    expect(() => grubDefaultEntry(cfg.replace('"DEFAULT"', '"${saved_entry}"'))).toThrow(/grubenv/);
  });

  it("tells a reboot from a poweroff by the guest kernel's last words", () => {
    expect(bootEnd('[  41.1] systemd-shutdown[1]: Rebooting.\n[  41.2] reboot: Restarting system\n')).toBe(
      'reboot',
    );
    expect(bootEnd('[  30.0] reboot: Power down\n')).toBe('poweroff');
    expect(bootEnd('[   9.9] Kernel panic - not syncing: VFS: Unable to mount root fs\n')).toBe('other');
    expect(bootEnd('')).toBe('other');
  });
});
