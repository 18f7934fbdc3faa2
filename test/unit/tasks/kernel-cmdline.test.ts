import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labGrubDefault } from '../../lab/host-files.js';
import { bootArgs, checkArgs, editArgs, satisfies, splitCmdline } from '../../../src/desired/boot-args.js';
import { formatCpuList, parseCpuList } from '../../../src/cpu-list.js';
import {
  bootloaderOf,
  editGrubDefault,
  GRUB_CFG_DEBIAN,
  GRUB_DEFAULT,
  grubCfgArgs,
  KEYS,
  readGrubDefault,
} from '../../../src/desired/bootloader.js';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { planHost } from '../../../src/plan/planner.js';
import { hostFingerprint } from '../../../src/run/fingerprint.js';
import { GRUB_ORIGINAL, kernelCmdlineTask, projectCfg } from '../../../src/tasks/kernel-cmdline.js';
import { hugepagesTask } from '../../../src/tasks/hugepages.js';
import { factsBuilder, inventoryOf, planContext, r630, r630Host } from '../../support/facts-builder.js';
import { fleetOf } from '../../../src/plan/fleet.js';

/** The upstream sample: GRUB on Debian 12 (test/fixtures/upstream/boot/grub-debian12.json). */
const SAMPLE = JSON.parse(
  readFileSync(new URL('../../fixtures/upstream/boot/grub-debian12.json', import.meta.url), 'utf8'),
) as {
  default_grub: { text: string };
  update_grub: { command: string };
  linux_line: { template: string };
};
/** Debian 12's /etc/default/grub as grub2-common installs it. */
const DEBIAN_GRUB = SAMPLE.default_grub.text;

const CFG = (args: string) => `### BEGIN /etc/grub.d/10_linux ###
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-1234' {
\tload_video
\tinsmod gzio
\techo\t'Loading Linux 6.1.0-18-amd64 ...'
\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro ${args}
\techo\t'Loading initial ramdisk ...'
\tinitrd\t/boot/initrd.img-6.1.0-18-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-1234' {
\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)' {
\t\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro single
\t}
}
`;

function debianFacts(running = 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro quiet'): Facts {
  return r630()
    .kernel({ cmdline: running, iommuGroups: 0 })
    .hugepages({ sizeKb: 1048576, perNode: 0 })
    .file(GRUB_DEFAULT, DEBIAN_GRUB)
    .file(GRUB_CFG_DEBIAN, CFG('quiet'), '0444')
    .file(GRUB_ORIGINAL, null)
    .output(KEYS.isolated, '')
    .build();
}

const host = (kernel: ResolvedHost['kernel'], over: Partial<ResolvedHost> = {}): ResolvedHost =>
  r630Host({ kernel, ...over });

describe('boot arguments', () => {
  it('splits a command line as the kernel does (double quotes group)', () => {
    expect(splitCmdline(' root=/dev/sda1 ro  dyndbg="file x.c +p" quiet ')).toEqual([
      'root=/dev/sda1',
      'ro',
      'dyndbg="file x.c +p"',
      'quiet',
    ]);
  });

  it('edits: a key=value replaces every earlier value of its key in place, remove by key or key=value, idempotent', () => {
    const t = ['root=/dev/sda1', 'ro', 'quiet', 'iommu=off', 'hugepages=4', 'iommu=soft'];
    const e = editArgs(t, ['iommu=pt', 'intel_iommu=on'], ['quiet', 'hugepages=4']);
    expect(e).toEqual(['root=/dev/sda1', 'ro', 'iommu=pt', 'intel_iommu=on']);
    expect(editArgs(e, ['iommu=pt', 'intel_iommu=on'], ['quiet', 'hugepages=4'])).toEqual(e);
    expect(satisfies(e, ['iommu=pt', 'intel_iommu=on'], ['quiet'])).toBe(true);
    expect(satisfies(t, ['iommu=pt'], [])).toBe(false);
    // remove key=value only takes that value
    expect(editArgs(['a=1', 'a=2'], [], ['a=1'])).toEqual(['a=2']);
  });

  it('keeps hugepagesz before its hugepages', () => {
    const e = editArgs(['hugepages=8', 'ro'], ['default_hugepagesz=1G', 'hugepagesz=1G', 'hugepages=16'], []);
    expect(e.indexOf('hugepagesz=1G')).toBeLessThan(e.indexOf('hugepages=16'));
  });

  it('checks values of known arguments; unknown keys are warnings; the bootloader’s own keys are refused', () => {
    const p = checkArgs([
      'intel_iommu=yes',
      'isolcpus=2-5',
      'isolcpus=nohz,domain,2-5',
      'frobnicate=1',
      'root=/dev/sdb',
      'hugepages=x',
    ]);
    expect(p.map((x) => [x.arg, x.severity])).toEqual([
      ['intel_iommu=yes', 'error'],
      ['frobnicate=1', 'warning'],
      ['root=/dev/sdb', 'error'],
      ['hugepages=x', 'error'],
    ]);
  });

  it('CPU lists', () => {
    expect(formatCpuList([5, 2, 3, 4, 8, 10, 11])).toBe('2-5,8,10-11');
    expect(parseCpuList('2-5,8,10-11')).toEqual([2, 3, 4, 5, 8, 10, 11]);
  });

  it('derives iommu (Intel), boot hugepages (pages × nodes) and isolation from the worker CPUs, CPU 0 never', () => {
    const f = debianFacts();
    const a = bootArgs(
      host(
        { iommu: true, boot_hugepages: true, isolate_workers: true },
        { hugepages: { size: '1G', per_node: 4 } },
      ),
      f,
      [0, 1, 2, 3, 11],
    );
    expect(a.add).toEqual([
      'intel_iommu=on',
      'iommu=pt',
      'default_hugepagesz=1G',
      'hugepagesz=1G',
      'hugepages=8',
      'isolcpus=1-3,11',
      'nohz_full=1-3,11',
      'rcu_nocbs=1-3,11',
    ]);
    // AMD: no amd_iommu=on (not a kernel value), iommu=pt
    const amd = { ...f, cpu: { ...f.cpu, model: 'AMD EPYC 7302 16-Core Processor', flags: ['svm'] } };
    expect(bootArgs(host({ iommu: true }), amd).add).toEqual(['iommu=pt']);
    // an explicit argument wins over the derived one with its key
    expect(bootArgs(host({ iommu: true, cmdline: { add: ['iommu=nopt'] } }), f).add).toEqual([
      'intel_iommu=on',
      'iommu=nopt',
    ]);
  });
});

describe('/etc/default/grub', () => {
  it('edits GRUB_CMDLINE_LINUX, drops removed keys from GRUB_CMDLINE_LINUX_DEFAULT, keeps every other line', () => {
    const out = editGrubDefault(
      DEBIAN_GRUB,
      (t) => editArgs(t, ['intel_iommu=on', 'iommu=pt'], ['quiet']),
      (t) => t === 'quiet',
    );
    expect(typeof out).toBe('string');
    const text = out as string;
    expect(text).toContain('GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"\n');
    expect(text).toContain('GRUB_CMDLINE_LINUX_DEFAULT=""\n');
    expect(text.replace(/^GRUB_CMDLINE_LINUX.*$/gm, '')).toBe(
      DEBIAN_GRUB.replace(/^GRUB_CMDLINE_LINUX.*$/gm, ''),
    );
  });

  it('reads single-quoted and bare values, adds a missing assignment, refuses values that expand', () => {
    expect(readGrubDefault("GRUB_CMDLINE_LINUX='a=1 b'\n")).toEqual({
      linux: ['a=1', 'b'],
      linuxDefault: [],
    });
    expect(readGrubDefault('GRUB_CMDLINE_LINUX=quiet # comment\n')).toEqual({
      linux: ['quiet'],
      linuxDefault: [],
    });
    expect(
      editGrubDefault(
        'GRUB_TIMEOUT=5\n',
        (t) => [...t, 'x=1'],
        () => false,
      ),
    ).toBe('GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="x=1"\n');
    const bad = editGrubDefault(
      'GRUB_CMDLINE_LINUX="$EXTRA quiet"\n',
      (t) => t,
      () => false,
    );
    expect(bad).toEqual({ reason: expect.stringContaining('line 1') as string });
  });

  it("reads the default entry's linux line of a generated grub.cfg", () => {
    expect(grubCfgArgs(CFG('quiet intel_iommu=on'))).toEqual([
      'root=UUID=1234',
      'ro',
      'quiet',
      'intel_iommu=on',
    ]);
    expect(grubCfgArgs(projectCfg(CFG('quiet'), ['root=UUID=1234', 'ro', 'x=1']))).toEqual([
      'root=UUID=1234',
      'ro',
      'x=1',
    ]);
  });

  it('knows the bootloader per OS family: Debian update-grub, RHEL 9 grubby, CentOS 7 BIOS and EFI', () => {
    expect(bootloaderOf(debianFacts())).toMatchObject({ kind: 'grub-debian', regenerate: 'update-grub' });
    const rocky = factsBuilder().os('rocky9').build();
    expect(bootloaderOf(rocky)).toMatchObject({ kind: 'grubby' });
    const c7 = factsBuilder()
      .os('centos7')
      .file(GRUB_DEFAULT, 'GRUB_CMDLINE_LINUX="crashkernel=auto rhgb quiet"\n')
      .build();
    expect(bootloaderOf(c7)).toMatchObject({
      kind: 'grub2-mkconfig',
      regenerate: 'grub2-mkconfig -o /boot/grub2/grub.cfg',
    });
    c7.outputs[KEYS.efi] = { code: 0, stdout: 'efivars' };
    c7.outputs[KEYS.efiVendors] = { code: 0, stdout: 'BOOT\ncentos' };
    expect(bootloaderOf(c7)).toMatchObject({ regenerate: 'grub2-mkconfig -o /boot/efi/EFI/centos/grub.cfg' });
    const noGrub = factsBuilder().os('debian12').build();
    expect(bootloaderOf(noGrub)).toEqual({ reason: expect.stringContaining('/etc/default/grub') as string });
  });
});

describe('kernel-cmdline task', () => {
  const h = host(
    { iommu: true, boot_hugepages: true, cmdline: { remove: ['quiet'] } },
    { hugepages: { size: '1G', per_node: 4 } },
  );

  it('a fresh Debian host: the /etc/default/grub diff with update-grub, then a disruptive reboot', () => {
    const { changes } = kernelCmdlineTask.plan(planContext(h, debianFacts()));
    expect(changes.map((c) => c.id)).toEqual(['kernel-cmdline/grub-default', 'kernel-cmdline/reboot']);
    const [grub, reboot] = changes;
    expect(grub?.diff).toContain(
      '+GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=8"',
    );
    expect(grub?.diff).toContain('+GRUB_CMDLINE_LINUX_DEFAULT=""');
    const steps = grub?.steps ?? [];
    // the original kept for rollback before the first write; then the write and update-grub
    expect(
      steps.map((s) => (s.kind === 'write' ? `write ${s.path}` : s.kind === 'exec' ? s.command : s.kind)),
    ).toEqual([
      'mkdir -p /var/lib/dpvs-deploy/state',
      `write ${GRUB_ORIGINAL}`,
      'mkdir -p /etc/default',
      `write ${GRUB_DEFAULT}`,
      'if command -v update-grub >/dev/null 2>&1; then update-grub; else grub-mkconfig -o /boot/grub/grub.cfg; fi',
    ]);
    expect(reboot?.disruptive).toBe(true);
    expect(reboot?.steps.at(-1)).toMatchObject({
      kind: 'reboot',
      command: 'systemctl reboot',
      timeoutMs: 600_000,
    });
  });

  it('the projected facts plan nothing (idempotence) and show what the boot brings', () => {
    const p = kernelCmdlineTask.plan(planContext(h, debianFacts()));
    const f = p.projected as Facts;
    expect(f.kernel.cmdline).toBe(
      'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=8',
    );
    expect(f.numa.map((n) => n.hugepages.find((x) => x.sizeKb === 1048576)?.total)).toEqual([4, 4]);
    expect(f.kernel.iommuGroups).toBeGreaterThan(0);
    expect(kernelCmdlineTask.plan(planContext(h, f)).changes).toEqual([]);
    expect(kernelCmdlineTask.verify?.(planContext(h, f))).toEqual([]);
  });

  it('a host already booted with the arguments plans nothing; one whose grub has them but has not rebooted plans only the reboot', () => {
    const args = 'root=UUID=1234 ro intel_iommu=on iommu=pt default_hugepagesz=1G hugepagesz=1G hugepages=8';
    const edited = editGrubDefault(
      DEBIAN_GRUB,
      (t) =>
        editArgs(
          t,
          ['intel_iommu=on', 'iommu=pt', 'default_hugepagesz=1G', 'hugepagesz=1G', 'hugepages=8'],
          ['quiet'],
        ),
      (t) => t === 'quiet',
    ) as string;
    const booted = debianFacts(`BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 ${args}`);
    booted.files[GRUB_DEFAULT] = { exists: true, sha256: null, mode: '0644', content: edited };
    booted.files[GRUB_CFG_DEBIAN] = {
      exists: true,
      sha256: null,
      mode: '0444',
      content: CFG(args.replace('root=UUID=1234 ro ', '')),
    };
    expect(kernelCmdlineTask.plan(planContext(h, booted)).changes).toEqual([]);
    const pending = {
      ...booted,
      kernel: {
        ...booted.kernel,
        cmdline: 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro quiet',
      },
    };
    expect(kernelCmdlineTask.plan(planContext(h, pending)).changes.map((c) => c.id)).toEqual([
      'kernel-cmdline/reboot',
    ]);
  });

  it('reboot: false changes the bootloader and plans no reboot; verify then only wants the bootloader', () => {
    const noReboot = host({ iommu: true, reboot: false });
    const p = kernelCmdlineTask.plan(planContext(noReboot, debianFacts()));
    expect(p.changes.map((c) => c.id)).toEqual(['kernel-cmdline/grub-default']);
    expect(p.changes[0]?.disruptive).toBeFalsy();
  });

  it('an unmanageable bootloader blocks the host with the line to add by hand', () => {
    const f = debianFacts();
    f.files[GRUB_DEFAULT] = {
      exists: true,
      sha256: null,
      mode: '0644',
      content: 'GRUB_CMDLINE_LINUX="$(cat /etc/extra)"\n',
    };
    const c = kernelCmdlineTask.plan(planContext(host({ iommu: true }), f)).changes[0];
    const step = c?.steps[0];
    expect(step?.kind === 'exec' && step.problem).toMatch(
      /add the kernel arguments by hand: intel_iommu=on iommu=pt/,
    );
  });

  it('RHEL 9: grubby --update-kernel=ALL with --args and --remove-args', () => {
    const f = factsBuilder()
      .os('rocky9')
      .kernel({
        cmdline:
          'BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=/dev/mapper/rl-root ro crashkernel=1G-4G:192M rhgb quiet',
      })
      .build();
    const c = kernelCmdlineTask.plan(
      planContext(host({ iommu: true, cmdline: { remove: ['rhgb', 'quiet'] } }), f),
    ).changes;
    expect(c.map((x) => x.id)).toEqual(['kernel-cmdline/bootloader', 'kernel-cmdline/reboot']);
    expect(c[0]?.steps[0]).toEqual({
      kind: 'exec',
      command: "grubby --update-kernel=ALL '--args=intel_iommu=on iommu=pt' '--remove-args=rhgb quiet'",
    });
  });

  it('keepalived hosts stop keepalived before the reboot (the peer takes the VIPs)', () => {
    const ka = host(
      { iommu: true },
      { keepalived: { virtual_router_id: 51, priority: 100 } as ResolvedHost['keepalived'] },
    );
    const reboot = kernelCmdlineTask.plan(planContext(ka, debianFacts())).changes.at(-1);
    expect(reboot?.steps.map((s) => (s.kind === 'exec' ? s.command : s.kind))).toEqual([
      'systemctl stop keepalived',
      'reboot',
    ]);
  });

  it('in the playbook order the reboot comes before hugepages and kmods, which plan on the booted facts', () => {
    const hh = host(
      { iommu: true, boot_hugepages: true },
      { hugepages: { size: '1G', per_node: 4 }, dpdk: { version: '20.11.10', driver: 'vfio-pci' } },
    );
    const facts = debianFacts();
    const p = planHost({
      host: hh,
      inventory: inventoryOf([hh]),
      facts,
      fleet: fleetOf(inventoryOf([hh]), new Map([['lb1', facts]])),
      tasks: [kernelCmdlineTask, hugepagesTask],
      preflight: () => [],
      fingerprint: hostFingerprint,
    });
    const ids = p.changes.map((c) => c.id);
    expect(ids.indexOf('kernel-cmdline/reboot')).toBeLessThan(
      ids.findIndex((i) => i.startsWith('hugepages/')),
    );
    // 1G pages come from the boot: no run-time allocation per node
    expect(ids.filter((i) => /^hugepages\/node\d/.test(i))).toEqual([]);
  });

  it('rollback restores the kept /etc/default/grub, regenerates and reboots', () => {
    const f = debianFacts(
      'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro intel_iommu=on iommu=pt',
    );
    f.files[GRUB_ORIGINAL] = { exists: true, sha256: null, mode: '0644', content: DEBIAN_GRUB };
    f.files[GRUB_DEFAULT] = {
      exists: true,
      sha256: null,
      mode: '0644',
      content: DEBIAN_GRUB.replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"'),
    };
    const r = kernelCmdlineTask.rollback?.(planContext(host({ iommu: true }), f));
    expect(r?.changes.map((c) => c.id)).toEqual(['kernel-cmdline/grub-default', 'kernel-cmdline/reboot']);
    // after it: back on the original line, nothing left
    const back = debianFacts();
    back.files[GRUB_ORIGINAL] = { exists: true, sha256: null, mode: '0644', content: DEBIAN_GRUB };
    expect(kernelCmdlineTask.rollback?.(planContext(host({ iommu: true }), back)).changes).toEqual([]);
  });
});

describe('GRUB on Debian 12: the tool and the lab against the upstream sample', () => {
  it("the lab's /etc/default/grub is the installed one with the host's GRUB_CMDLINE_LINUX", () => {
    expect(labGrubDefault('')).toBe(DEBIAN_GRUB);
  });

  it("the lab's update-grub is Debian's", () => {
    const f = readFileSync(new URL('../../lab/hostbin/sbin/update-grub', import.meta.url), 'utf8');
    expect(f.split('\n')).toContain(SAMPLE.update_grub.command);
  });

  it("the lab's grub-mkconfig writes 10_linux's linux line, which the tool reads back", () => {
    const root = mkdtempSync(path.join(tmpdir(), 'dd-grub-'));
    try {
      mkdirSync(path.join(root, 'etc', 'default', 'grub.d'), { recursive: true });
      const edited = editGrubDefault(
        DEBIAN_GRUB,
        (t) => editArgs(t, ['intel_iommu=on', 'iommu=pt'], []),
        () => false,
      ) as string;
      writeFileSync(path.join(root, 'etc', 'default', 'grub'), edited);
      // a grub.d file is read after /etc/default/grub (grub-mkconfig:163)
      writeFileSync(
        path.join(root, 'etc', 'default', 'grub.d', 'x.cfg'),
        'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT nosoftlockup"\n',
      );
      writeFileSync(path.join(root, 'profile.json'), JSON.stringify({ kernel: '6.1.0-18-amd64' }));
      const out = execFileSync(
        'python3',
        [new URL('../../lab/hostbin/sbin/grub-mkconfig', import.meta.url).pathname],
        {
          env: { ...process.env, LAB_ROOT: root, LAB_PROFILE: path.join(root, 'profile.json') },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      const line = out.split('\n').find((l) => l.startsWith('\tlinux\t'));
      const expected = SAMPLE.linux_line.template
        .replace('${rel_dirname}/${basename}', '/boot/vmlinuz-6.1.0-18-amd64')
        .replace('${linux_root_device_thisversion}', '/dev/vda1')
        .replace('${args}', 'intel_iommu=on iommu=pt quiet nosoftlockup');
      expect(line).toBe(expected);
      expect(grubCfgArgs(out)).toEqual([
        'root=/dev/vda1',
        'ro',
        'intel_iommu=on',
        'iommu=pt',
        'quiet',
        'nosoftlockup',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
