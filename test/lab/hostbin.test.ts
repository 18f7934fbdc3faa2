/**
 * The lab's fake host tools, run outside any lab host through their test hooks: LAB_ROOT (a temp
 * root for /etc, /var, /run, /usr/lib/modules), LAB_PROFILE and FAKEKERNEL_ROOT (a host dir of a
 * fake kernel started here). Every tool is called as the lab installs it: the launcher
 * (fakekernel/standin-client.c) with LAB_STANDINS_SOCK naming a stand-in daemon (hostbin/lib/lab/labd.py)
 * started here, so read-only calls run in the daemon and the rest as their own Python process; the
 * last block checks that both ways answer alike.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installHostBin, startFakeKernel, writeHostTree, type FakeKernelHandle } from './fakekernel/index.js';
import { HOSTBIN_DIR, standinClient } from './fakekernel/hostbin.js';
import { isMounted } from './fakekernel/daemon.js';
import { labProfiles } from './profiles.js';
import { UNIT_GONE_EXIT, unitGoneCommand } from '../../src/tasks/cause.js';
import type { LabHostProfile } from './profile-types.js';
import { DPKG_STATUS_AWK } from '../../src/facts/requested.js';

const profiles = labProfiles();
const byName = (n: string): LabHostProfile => profiles.find((p) => p.name === n) as LabHostProfile;
const lb1 = byName('lb1'); // debian12, headers installed, iommu
const lb2 = byName('lb2'); // ubuntu22, no headers
const rs1 = byName('rs1'); // rocky9, headers installed
const rs2 = byName('rs2'); // rocky9, no headers

let base = '';
let mnt = '';
let fk: FakeKernelHandle | undefined;
let labd: ChildProcess | undefined;
let labdSock = '';
let labdLog = '';

interface Host {
  profile: LabHostProfile;
  root: string;
  usrLocal: string;
  env: NodeJS.ProcessEnv;
}
const hosts = new Map<string, Host>();

function run(h: Host, tool: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const dir = existsSync(join(h.usrLocal, 'sbin', tool)) ? 'sbin' : 'bin';
  const r = spawnSync(join(h.usrLocal, dir, tool), args, {
    encoding: 'utf8',
    env: { ...h.env, ...extraEnv },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const H = (name: string): Host => hosts.get(name) as Host;

beforeAll(async () => {
  // these tests are of the launcher and the daemon too: not DPVS_LAB_STANDINS=scripts here
  delete process.env.DPVS_LAB_STANDINS;
  base = mkdtempSync('/dev/shm/hostbin-test-');
  mnt = join(base, 'mnt');
  labdSock = join(base, 'labd.sock');
  labdLog = join(base, 'labd.log');
  for (const p of [lb1, lb2, rs1, rs2]) {
    const root = join(base, 'roots', p.name);
    const usrLocal = join(root, 'usr', 'local');
    await writeHostTree(join(base, 'state', p.name), p);
    await installHostBin(usrLocal, p, join(root, 'usr'));
    hosts.set(p.name, {
      profile: p,
      root,
      usrLocal,
      env: {
        PATH: process.env.PATH,
        LAB_ROOT: root,
        LAB_PROFILE: join(usrLocal, 'share', 'lab', 'profile.json'),
        FAKEKERNEL_ROOT: join(mnt, p.name),
        LAB_STANDINS_SOCK: labdSock,
      },
    });
  }
  fk = await startFakeKernel(join(base, 'state'), mnt);
  labd = spawn('/usr/bin/python3', [join(HOSTBIN_DIR, 'lib', 'lab', 'labd.py'), labdSock], {
    env: { PATH: process.env.PATH, LAB_STANDINS_LOG: labdLog },
    stdio: 'ignore',
  });
  for (let i = 0; i < 200 && !existsSync(labdSock); i++) await new Promise((r) => setTimeout(r, 25));
  if (!existsSync(labdSock)) throw new Error('the stand-in daemon did not start');
});

afterAll(async () => {
  for (const h of hosts.values()) {
    const units = join(h.root, 'run', 'fakesystemd');
    if (!existsSync(units)) continue;
    for (const f of readdirSync(units).filter((x) => x.endsWith('.json'))) {
      const st = JSON.parse(readFileSync(join(units, f), 'utf8')) as {
        mainPid?: number;
        supervisorPid?: number;
      };
      for (const pid of [st.supervisorPid, st.mainPid]) {
        if (pid) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    }
  }
  labd?.kill('SIGKILL');
  await fk?.stop();
  if (base && !isMounted(mnt)) rmSync(base, { recursive: true, force: true });
});

describe('kmod stand-ins', () => {
  it('modprobe loads with dependencies, honours modprobe.d options, and refuses unknown modules', () => {
    const h = H('lb1');
    const unknown = run(h, 'modprobe', ['igb_uio']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe(
      `modprobe: FATAL: Module igb_uio not found in directory /lib/modules/${lb1.kernel}\n`,
    );
    mkdirSync(join(h.root, 'etc', 'modprobe.d'), { recursive: true });
    writeFileSync(
      join(h.root, 'etc', 'modprobe.d', 'dpdk.conf'),
      '# lab\noptions vfio_pci disable_idle_d3=1\n',
    );
    expect(run(h, 'modprobe', ['vfio-pci']).status).toBe(0);
    expect(run(h, 'modprobe', ['uio_pci_generic']).status).toBe(0);
    const lsmod = run(h, 'lsmod', []).stdout;
    expect(lsmod.split('\n')[0]).toBe('Module                  Size  Used by');
    expect(lsmod).toMatch(/^uio\s+\d+\s+1 uio_pci_generic$/m);
    expect(lsmod).toMatch(/^vfio\s+\d+\s+2 vfio_iommu_type1,vfio_pci$/m);
    expect(readFileSync(join(mnt, 'lb1', 'sys/module/vfio_pci/parameters/disable_idle_d3'), 'utf8')).toBe(
      '1\n',
    );
    expect(readdirSync(join(mnt, 'lb1', 'sys/bus/pci/drivers'))).toEqual(
      expect.arrayContaining(['vfio-pci', 'uio_pci_generic']),
    );
    const busy = run(h, 'modprobe', ['-r', 'uio']);
    expect(busy.status).toBe(1);
    expect(busy.stderr).toContain('modprobe: FATAL: Module uio is in use.');
    const rm = run(h, 'rmmod', ['uio']);
    expect(rm.stderr).toBe('rmmod: ERROR: Module uio is in use by: uio_pci_generic\n');
    expect(run(h, 'modprobe', ['-r', 'uio_pci_generic']).status).toBe(0);
    expect(run(h, 'lsmod', []).stdout).not.toMatch(/^uio/m); // unused dependency removed too
    expect(run(h, 'modinfo', ['-F', 'filename', 'igb_uio']).status).toBe(1);
    expect(run(h, 'modinfo', ['ixgbe']).stdout).toMatch(/^vermagic:\s+6\.1\.0-18-amd64 /m);
    expect(readFileSync(join(h.root, 'var/log/fakekernel/calls.log'), 'utf8')).toContain(
      'modprobe vfio-pci\n',
    );
  });

  it('uname reports the profile kernel', () => {
    expect(run(H('rs1'), 'uname', ['-r']).stdout).toBe(`${rs1.kernel}\n`);
    expect(run(H('rs1'), 'uname', ['-a']).stdout).toContain(` ${rs1.kernel} `);
    expect(run(H('rs1'), 'uname', ['-m']).stdout.trim()).toBe(
      spawnSync('/usr/bin/uname', ['-m'], { encoding: 'utf8' }).stdout.trim(),
    );
  });
});

describe('package manager stand-ins and the fake kbuild', () => {
  it('apt-get refuses unknown packages and records installs that dpkg-query then reports', () => {
    const h = H('lb2');
    const bad = run(h, 'apt-get', ['install', '-y', 'no-such-pkg']);
    expect(bad.status).toBe(100);
    expect(bad.stderr).toBe('E: Unable to locate package no-such-pkg\n');
    expect(run(h, 'dpkg-query', ['-W', '-f=${Status}', 'libnuma-dev']).status).toBe(1);
    expect(run(h, 'apt-get', ['install', '-y', 'libnuma-dev', 'meson']).status).toBe(0);
    const q = run(h, 'dpkg-query', ['-W', '-f=${Status} ${Version}\\n', 'libnuma-dev']);
    expect(q.status).toBe(0);
    expect(q.stdout).toBe('install ok installed 1.0-1\n');
    expect(run(h, 'dpkg', ['-s', 'meson']).stdout).toContain('Status: install ok installed');
    // the record is dpkg's own status file, which the probe reads with its awk (as on a real host), and
    // which the real dpkg-query reads the same way (test/fixtures/upstream/dpkg/status.yaml)
    const admin = join(h.root, 'var/lib/dpkg');
    const names = ['libnuma-dev', 'meson', 'kmod', 'gcc'];
    const awk = spawnSync('awk', ['-v', `w= ${names.join(' ')} `, DPKG_STATUS_AWK, 'status'], {
      cwd: admin,
      encoding: 'utf8',
    });
    const lines = awk.stdout.split('\n').filter(Boolean).sort();
    expect(lines).toEqual([
      'pkgdeb\tkmod\tinstall ok installed\t1.0-1',
      'pkgdeb\tlibnuma-dev\tinstall ok installed\t1.0-1',
      'pkgdeb\tmeson\tinstall ok installed\t1.0-1',
    ]);
    if (spawnSync('sh', ['-c', 'command -v dpkg-query']).status === 0) {
      const real = spawnSync(
        '/usr/bin/dpkg-query',
        ['-W', '-f=pkgdeb\t${Package}\t${Status}\t${Version}\n', ...names],
        {
          env: { ...process.env, DPKG_ADMINDIR: admin },
          encoding: 'utf8',
        },
      );
      expect(real.stderr).toBe('dpkg-query: no packages found matching gcc\n');
      expect(real.stdout.split('\n').filter(Boolean).sort()).toEqual(lines);
    }
    expect(run(h, 'dnf', ['install', '-y', 'gcc']).status).toBe(127); // not on Ubuntu
    expect(run(h, 'apt-get', ['install', '-y', 'linux-headers-6.1.0-99-amd64']).status).toBe(100);
  });

  it('installing the headers creates the kbuild dir; make builds a .ko that insmod loads', () => {
    const h = H('lb2');
    const build = join(h.root, 'usr/lib/modules', lb2.kernel, 'build');
    expect(existsSync(build)).toBe(false);
    expect(run(h, 'apt-get', ['install', '-y', `linux-headers-${lb2.kernel}`]).status).toBe(0);
    expect(existsSync(join(build, 'Makefile'))).toBe(true);
    const src = join(base, 'toa-src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'Makefile'), 'obj-m := toa.o\ntoa-objs := toa_core.o toa_util.o\n');
    writeFileSync(join(src, 'toa_core.c'), 'int toa_init(void) { return 0; }\n');
    writeFileSync(join(src, 'toa_util.c'), 'int toa_util(int x) { return x + 1; }\n');
    const make = spawnSync('make', ['-C', build, `M=${src}`, 'modules'], { encoding: 'utf8' });
    expect(make.status, make.stderr).toBe(0);
    expect(make.stdout).toContain(`  LD [M]  ${src}/toa.ko`);
    const ko = readFileSync(join(src, 'toa.ko'));
    expect(ko.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(ko.includes(Buffer.from(`vermagic=${lb2.kernel} `))).toBe(true);
    const ins = run(h, 'insmod', [join(src, 'toa.ko')]);
    expect(ins.status, ins.stderr).toBe(0);
    expect(run(h, 'lsmod', []).stdout).toMatch(/^toa\s+\d+\s+0$/m);
    expect(readdirSync(join(mnt, 'lb2', 'procnet'))).toContain('toa_stats');
    expect(run(h, 'insmod', [join(src, 'toa.ko')]).stderr).toBe(
      `insmod: ERROR: could not insert module ${src}/toa.ko: File exists\n`,
    );
    expect(run(h, 'rmmod', ['toa']).status).toBe(0);
    expect(run(h, 'rmmod', ['toa']).stderr).toBe('rmmod: ERROR: Module toa is not currently loaded\n');
    // the same module on a host with another kernel, and under lockdown
    const other = run(H('lb1'), 'insmod', [join(src, 'toa.ko')]);
    expect(other.stderr).toBe(
      `insmod: ERROR: could not insert module ${src}/toa.ko: Invalid module format\n`,
    );
    const locked = join(base, 'lb2-locked.json');
    writeFileSync(locked, JSON.stringify({ ...lb2, lockdown: 'integrity' }));
    const rej = run(h, 'insmod', [join(src, 'toa.ko')], { LAB_PROFILE: locked });
    expect(rej.stderr).toBe(
      `insmod: ERROR: could not insert module ${src}/toa.ko: Key was rejected by service\n`,
    );
    expect(run(h, 'insmod', [join(src, 'missing.ko')]).stderr).toContain('No such file or directory');
  });

  it('dnf and rpm on Rocky: kernel-devel for the running kernel, unknown packages refused', () => {
    const h = H('rs2');
    const bad = run(h, 'dnf', ['install', '-y', 'nope']);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('No match for argument: nope');
    expect(run(h, 'rpm', ['-q', 'kernel-devel']).stdout).toBe('package kernel-devel is not installed\n');
    expect(run(h, 'dnf', ['install', '-y', `kernel-devel-${rs2.kernel}`, 'numactl-devel']).status).toBe(0);
    expect(existsSync(join(h.root, 'usr/lib/modules', rs2.kernel, 'build/Makefile'))).toBe(true);
    expect(run(h, 'rpm', ['-q', 'kernel-devel']).stdout).toBe(`kernel-devel-${rs2.kernel}\n`);
    expect(run(h, 'rpm', ['-q', '--qf', '%{NAME} %{VERSION}\\n', 'numactl-devel']).stdout).toBe(
      'numactl-devel 1.0\n',
    );
    expect(run(h, 'apt-get', ['update']).status).toBe(127);
    // rs1 has its headers from the start
    expect(existsSync(join(H('rs1').root, 'usr/lib/modules', rs1.kernel, 'build/Makefile'))).toBe(true);
    expect(run(H('rs1'), 'rpm', ['-q', `kernel-devel-${rs1.kernel}`]).status).toBe(0);
  });
});

describe('systemctl stand-in', () => {
  const unitDir = (h: Host): string => join(h.root, 'etc/systemd/system');
  const pidOf = (h: Host, unit: string): number =>
    Number(run(h, 'systemctl', ['show', '-p', 'MainPID', '--value', unit]).stdout.trim());
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const alive = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  };

  beforeAll(() => {
    const h = H('rs1');
    mkdirSync(unitDir(h), { recursive: true });
    const marker = join(h.root, 'pre.log');
    writeFileSync(
      join(unitDir(h), 'dpvs.service'),
      [
        '[Unit]',
        'Description=DPVS load balancer',
        '[Service]',
        'Type=simple',
        `Environment=MARK=${marker} "GREETING=hello world"`,
        'ExecStartPre=/bin/sh -c \'echo pre >> "$MARK"\'',
        'ExecStart=/bin/sh -c \'echo "$GREETING"; exec sleep 300\'',
        'ExecStop=/bin/sh -c \'echo stopping $MAINPID >> "$MARK"\'',
        'Restart=on-failure',
        'LimitNOFILE=4096',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(unitDir(h), 'keepalived.service'),
      '[Unit]\nDescription=keepalived\nAfter=dpvs.service\nPartOf=dpvs.service\n[Service]\nExecStart=/bin/sleep 300\n',
    );
    writeFileSync(
      join(unitDir(h), 'flaky.service'),
      `[Service]\nExecStart=/bin/sh -c 'if [ -f ${h.root}/flaky ]; then exec sleep 300; else touch ${h.root}/flaky; exit 3; fi'\n` +
        'Restart=on-failure\nRestartSec=200ms\n',
    );
    writeFileSync(join(unitDir(h), 'broken.service'), '[Service]\nType=oneshot\nExecStart=/bin/false\n');
  });

  it('is-enabled of a unit nothing names answers as systemd 252 does (upstream sample)', () => {
    const sample = JSON.parse(
      readFileSync(new URL('../fixtures/upstream/systemd/unit-paths.json', import.meta.url), 'utf8'),
    ) as { isEnabledUnknownUnit: { run: string[]; stdout: string[]; stderr: string[]; exit: number } };
    const want = sample.isEnabledUnknownUnit;
    const r = run(H('rs1'), 'systemctl', want.run.slice(1));
    expect(r.status).toBe(want.exit);
    expect(r.stdout).toBe(want.stdout.map((l) => `${l}\n`).join(''));
    expect(r.stderr).toBe(want.stderr.map((l) => `${l}\n`).join(''));
  });

  it('starts, enables, restarts with PartOf propagation, and stops services', async () => {
    const h = H('rs1');
    expect(run(h, 'systemctl', ['is-enabled', 'dpvs']).stdout).toBe('disabled\n');
    const en = run(h, 'systemctl', ['enable', 'dpvs']);
    expect(en.status).toBe(0);
    expect(readlinkSync(join(unitDir(h), 'multi-user.target.wants/dpvs.service'))).toBe(
      '/etc/systemd/system/dpvs.service',
    );
    expect(run(h, 'systemctl', ['start', 'dpvs', 'keepalived']).status).toBe(0);
    expect(run(h, 'systemctl', ['is-active', 'dpvs', 'keepalived']).stdout).toBe('active\nactive\n');
    const dpvsPid = pidOf(h, 'dpvs');
    const kaPid = pidOf(h, 'keepalived');
    expect(alive(dpvsPid) && alive(kaPid)).toBe(true);
    expect(readFileSync(`/proc/${dpvsPid}/limits`, 'utf8')).toMatch(/Max open files\s+4096\s+4096/);
    await sleep(200);
    expect(run(h, 'journalctl', ['-u', 'dpvs', '--no-pager']).stdout).toContain('hello world\n');
    expect(run(h, 'systemctl', ['restart', 'dpvs']).status).toBe(0);
    const dpvsPid2 = pidOf(h, 'dpvs');
    const kaPid2 = pidOf(h, 'keepalived');
    expect(dpvsPid2).not.toBe(dpvsPid);
    expect(kaPid2).not.toBe(kaPid); // PartOf=dpvs.service
    expect(alive(dpvsPid) || alive(kaPid)).toBe(false);
    expect(readFileSync(join(h.root, 'pre.log'), 'utf8')).toBe(`pre\nstopping ${dpvsPid}\npre\n`);
    expect(run(h, 'systemctl', ['stop', 'dpvs']).status).toBe(0);
    expect(run(h, 'systemctl', ['is-active', 'keepalived']).status).toBe(3);
    expect(alive(dpvsPid2) || alive(kaPid2)).toBe(false);
    const status = run(h, 'systemctl', ['status', 'dpvs']);
    expect(status.status).toBe(3);
    expect(status.stdout).toContain('dpvs.service - DPVS load balancer');
  });

  it('restarts a failing service after RestartSec and reports failed oneshots', async () => {
    const h = H('rs1');
    expect(run(h, 'systemctl', ['start', 'flaky']).status).toBe(0);
    let active = '';
    for (let i = 0; i < 50 && active !== 'active 1'; i++) {
      await sleep(100);
      const show = run(h, 'systemctl', ['show', '-p', 'ActiveState,NRestarts', 'flaky']).stdout;
      active = `${/ActiveState=(\w+)/.exec(show)?.[1]} ${/NRestarts=(\d+)/.exec(show)?.[1]}`;
    }
    expect(active).toBe('active 1');
    expect(run(h, 'systemctl', ['stop', 'flaky']).status).toBe(0);
    const broken = run(h, 'systemctl', ['start', 'broken']);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain(
      'Job for broken.service failed because the control process exited with error code.',
    );
    expect(run(h, 'systemctl', ['is-active', 'broken']).stdout).toBe('failed\n');
    expect(run(h, 'systemctl', ['start', 'nosuch']).stderr).toBe(
      'Failed to start nosuch.service: Unit nosuch.service not found.\n',
    );
    expect(run(h, 'journalctl', ['-u', 'nosuch']).stdout).toBe('-- No entries --\n');
  });

  it('a main process that dies: systemctl show reports it as systemd does, and the health gate sees it', async () => {
    // systemd's properties (org.freedesktop.systemd1(5)): ActiveState/SubState (activating/auto-restart
    // while a restart is scheduled), NRestarts (flushed by a start that is not an automatic restart),
    // ExecMainCode (CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3) and ExecMainStatus (status or signal),
    // zeroed when a new main process starts
    const h = H('rs1');
    const script = join(h.root, 'crash.sh');
    writeFileSync(
      script,
      `#!/bin/sh\nif [ -f ${h.root}/crashed ]; then exec sleep 300; fi\ntouch ${h.root}/crashed\n` +
        'echo "EAL: Detected 4 lcore(s)"\necho "PANIC in rte_eal_init():"\necho "Cannot set affinity"\nkill -ABRT $$\n',
    );
    writeFileSync(
      join(unitDir(h), 'crash.service'),
      `[Service]\nType=simple\nExecStart=/bin/sh ${script}\nRestart=on-failure\nRestartSec=3\n`,
    );
    const show = (): Record<string, string> =>
      Object.fromEntries(
        run(h, 'systemctl', [
          'show',
          '-p',
          'ActiveState,SubState,NRestarts,ExecMainCode,ExecMainStatus',
          'crash',
        ])
          .stdout.trim()
          .split('\n')
          .map((l) => l.split('=') as [string, string]),
      );
    const gate = () =>
      spawnSync('sh', ['-c', unitGoneCommand('crash')], {
        encoding: 'utf8',
        env: { ...h.env, PATH: `${join(h.usrLocal, 'bin')}:${join(h.usrLocal, 'sbin')}:${process.env.PATH}` },
      });
    const until = async (ok: (p: Record<string, string>) => boolean): Promise<Record<string, string>> => {
      let p = show();
      for (let i = 0; i < 300 && !ok(p); i++) {
        await sleep(50);
        p = show();
      }
      return p;
    };
    expect(run(h, 'systemctl', ['start', 'crash']).status).toBe(0);
    const down = await until((p) => p.SubState === 'auto-restart');
    expect(down).toMatchObject({ ActiveState: 'activating', SubState: 'auto-restart', NRestarts: '0' });
    expect(down.ExecMainStatus).toBe('6');
    expect(['2', '3']).toContain(down.ExecMainCode);
    const g1 = gate();
    expect(g1.status).toBe(UNIT_GONE_EXIT);
    expect(g1.stdout.split('\n')[0]).toBe('cause: PANIC in rte_eal_init(): Cannot set affinity');
    const journal = run(h, 'journalctl', ['-u', 'crash']).stdout;
    expect(journal).toMatch(/crash\.service: Main process exited, code=(killed|dumped), status=6\/ABRT$/m);
    // restarted by the unit: running again, the counter at 1, the record of the new main process zeroed
    const up = await until((p) => p.ActiveState === 'active');
    expect(up).toMatchObject({ SubState: 'running', NRestarts: '1', ExecMainCode: '0', ExecMainStatus: '0' });
    expect(run(h, 'journalctl', ['-u', 'crash']).stdout).toContain(
      'Scheduled restart job, restart counter is at 1.',
    );
    const g2 = gate();
    expect(g2.status).toBe(UNIT_GONE_EXIT);
    expect(g2.stdout).toContain('(NRestarts=1)');
    // a start by hand is not an automatic restart: the counter starts again at 0 and the gate passes
    expect(run(h, 'systemctl', ['restart', 'crash']).status).toBe(0);
    expect(show()).toMatchObject({ ActiveState: 'active', NRestarts: '0' });
    expect(gate().status).toBe(0);
    expect(run(h, 'systemctl', ['stop', 'crash']).status).toBe(0);
  });

  it('systemd-modules-load applies /etc/modules-load.d', () => {
    const h = H('rs1');
    mkdirSync(join(h.root, 'etc/modules-load.d'), { recursive: true });
    writeFileSync(join(h.root, 'etc/modules-load.d/dpdk.conf'), '# DPDK\nuio_pci_generic\n');
    expect(run(h, 'systemctl', ['restart', 'systemd-modules-load']).status).toBe(0);
    expect(run(h, 'lsmod', []).stdout).toMatch(/^uio_pci_generic\s/m);
    writeFileSync(join(h.root, 'etc/modules-load.d/bad.conf'), 'igb_uio\n');
    expect(run(h, 'systemctl', ['restart', 'systemd-modules-load']).status).toBe(1);
    expect(run(h, 'systemctl', ['is-active', 'systemd-modules-load']).stdout).toBe('failed\n');
  });
});

describe('the stand-in daemon', () => {
  /** The stand-in's own script, run as its own Python process (what the launcher falls back to). */
  function direct(h: Host, tool: string, args: string[]) {
    const dir = existsSync(join(HOSTBIN_DIR, 'sbin', tool)) ? 'sbin' : 'bin';
    const env = { ...h.env };
    delete env.LAB_STANDINS_SOCK;
    const r = spawnSync(join(h.usrLocal, 'lib', 'lab', 'py', dir, tool), args, { encoding: 'utf8', env });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  const calls: Array<[string, string, string[]]> = [
    ['lb1', 'uname', []],
    ['lb1', 'uname', ['-r', '-m']],
    ['lb1', 'uname', ['-a']],
    ['lb1', 'uname', ['--version']],
    ['lb1', 'uname', ['-x']],
    ['lb1', 'modinfo', ['-F', 'filename', 'uio', 'vfio-pci', 'igb_uio', 'nope']],
    ['lb1', 'modinfo', ['uio_pci_generic']],
    ['lb1', 'modinfo', []],
    ['lb1', 'ethtool', ['-l', 'nosuchnic0']],
    ['lb1', 'lsmod', []],
    ['lb1', 'dpkg-query', ['-W', '-f=${Package}\\t${Version}\\n', 'gcc', 'kmod', 'nope']],
    ['lb1', 'dpkg-query', ['-s', 'kmod']],
    ['lb1', 'dpkg', ['-l', 'bash', 'nope']],
    ['rs1', 'dpkg-query', ['-W', 'kmod']],
    ['rs1', 'rpm', ['-q', 'kernel-devel', 'nope']],
    ['rs1', 'rpm', ['-q', '--qf', '%{NAME} %{VERSION}\\n', 'bash']],
    ['rs1', 'systemctl', ['is-active', 'dpvs', 'keepalived', 'nope']],
    ['rs1', 'systemctl', ['is-enabled', 'dpvs', 'nope']],
    ['rs1', 'systemctl', ['is-failed', 'broken']],
    ['rs1', 'systemctl', ['show', '-p', 'ActiveState,LoadState,MainPID', 'dpvs', 'nope']],
    ['rs1', 'systemctl', ['status', 'dpvs']],
    ['rs1', 'systemctl', ['list-unit-files']],
    ['rs1', 'journalctl', ['-u', 'dpvs', '--no-pager']],
  ];

  it('answers every read-only call in the daemon exactly as the stand-in running as its own process', () => {
    expect(standinClient()).toBeDefined();
    for (const [host, tool, args] of calls) {
      const h = H(host);
      const before = existsSync(labdLog) ? readFileSync(labdLog, 'utf8') : '';
      const viaDaemon = run(h, tool, args);
      const log = readFileSync(labdLog, 'utf8').slice(before.length);
      // the launcher reached the daemon and the daemon ran it in its own interpreter
      expect(log, `${tool} ${args.join(' ')}`).toBe(`in-process ${[tool, ...args].join(' ')}\n`);
      expect(viaDaemon, `${host}: ${tool} ${args.join(' ')}`).toEqual(direct(h, tool, args));
    }
  });

  it('runs calls that change the host as their own process, and serves nothing to a caller that is not root', () => {
    const log = readFileSync(labdLog, 'utf8');
    // earlier blocks' calls through the launcher: installs, loads and starts were handed back
    expect(log).toMatch(/^exec systemctl start /m);
    expect(log).toMatch(/^exec modprobe /m);
    expect(log).toMatch(/^exec apt-get install /m);
    expect(log).not.toMatch(/^in-process (systemctl (start|stop|enable|restart)|modprobe|apt-get|dnf) /m);
    const h = H('lb1');
    const before = log.length;
    chmodSync(base, 0o711); // mkdtemp's 0700: the unprivileged caller must reach its tools
    const nobody = spawnSync(
      'setpriv',
      ['--reuid', '65534', '--regid', '65534', '--clear-groups', join(h.usrLocal, 'bin', 'uname'), '-r'],
      { encoding: 'utf8', env: h.env },
    );
    chmodSync(base, 0o700);
    expect(nobody.stdout, nobody.stderr).toBe(`${lb1.kernel}\n`);
    expect(readFileSync(labdLog, 'utf8').slice(before)).toBe('');
  });
});
