import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatCpuList } from '../../../../src/cpu-list.js';
import { ealArgs } from '../../../../src/dpvsconf/eal.js';
import { systemdWord } from '../../../../src/escape.js';
import { renderDpvsUnit, renderKeepalivedUnit, type DpvsUnitInput } from '../../../../src/tasks/dpvs/unit.js';

/** Splits a systemd command line the way systemd does for the quoting systemdWord produces. */
function systemdSplit(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') {
      i++;
      continue;
    }
    let w = '';
    if (line[i] === '"') {
      i++;
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error('unterminated quote');
        if (line[i] === '\\') i++;
        w += line[i++];
      }
      i++;
    } else {
      while (i < line.length && line[i] !== ' ') w += line[i++];
    }
    words.push(w.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

const directive = (unit: string, key: string): string[] =>
  unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

const BASE: DpvsUnitInput = {
  dpvsBinary: '/opt/dpvs/bin/dpvs',
  confPath: '/etc/dpvs.conf',
  pidFile: '/var/run/dpvs.pid',
  ipcFile: '/var/run/dpvs.ipc',
  ealArgs: ['-l', '1-3', '--main-lcore', '1', '-a', '0000:04:00.0'],
  nofile: 1048576,
  startTimeoutS: 90,
};

describe('ealArgs', () => {
  it('DPDK 18.11: -w and --master-lcore', () => {
    expect(ealArgs({ dpdkVersion: '18.11.2', pcis: ['0000:04:00.0'], lcores: [1, 2], mainLcore: 1 })).toEqual(
      ['-l', '1-2', '--master-lcore', '1', '-w', '0000:04:00.0'],
    );
  });

  it.each(['20.11.10', '24.11'])('DPDK %s: -a and --main-lcore, -a order = device order', (v) => {
    const args = ealArgs({
      dpdkVersion: v,
      pcis: ['0000:05:00.1', '0000:04:00.0'],
      lcores: [8, 1, 2, 3, 5],
      mainLcore: 1,
      filePrefix: 'dpvs0',
    });
    expect(args).toEqual([
      '-l',
      '1-3,5,8',
      '--main-lcore',
      '1',
      '-a',
      '0000:05:00.1',
      '-a',
      '0000:04:00.0',
      '--file-prefix',
      'dpvs0',
    ]);
  });

  it('refuses a main lcore outside the lcore list', () => {
    expect(() => ealArgs({ dpdkVersion: '24.11', pcis: [], lcores: [2, 3], mainLcore: 1 })).toThrow(
      /main lcore 1/,
    );
  });

  it('compresses CPU lists into ranges', () => {
    expect(formatCpuList([5, 1, 2, 3, 3, 10, 11, 7])).toBe('1-3,5,7,10-11');
    expect(formatCpuList([4])).toBe('4');
    expect(formatCpuList([])).toBe('');
  });
});

describe('renderDpvsUnit', () => {
  it('runs dpvs in the foreground with conf, pid, ipc and EAL args', () => {
    const unit = renderDpvsUnit(BASE);
    const [exec] = directive(unit, 'ExecStart');
    expect(systemdSplit(exec ?? '')).toEqual([
      '/opt/dpvs/bin/dpvs',
      '-c',
      '/etc/dpvs.conf',
      '-p',
      '/var/run/dpvs.pid',
      '-x',
      '/var/run/dpvs.ipc',
      '--',
      ...BASE.ealArgs,
    ]);
    expect(directive(unit, 'Environment')).toEqual(['DPVS_IPC_FILE=/var/run/dpvs.ipc']);
    expect(directive(unit, 'LimitNOFILE')).toEqual(['1048576']);
    expect(directive(unit, 'Restart')).toEqual(['on-failure']);
    expect(directive(unit, 'RestartSec')).toEqual(['5']);
    expect(directive(unit, 'TimeoutStartSec')).toEqual(['90']);
    expect(directive(unit, 'Type')).toEqual(['simple']);
    expect(directive(unit, 'ExecStartPost')).toEqual([]);
    expect(unit).toContain('managed by dpvs-deploy; do not edit');
    expect(unit).not.toMatch(/\{\{/);
  });

  it('quotes paths with spaces and escapes systemd specifiers', () => {
    const unit = renderDpvsUnit({ ...BASE, confPath: '/etc/my dpvs/50%.conf', ipcFile: '/run/$x.ipc' });
    const words = systemdSplit(directive(unit, 'ExecStart')[0] ?? '');
    expect(words[2]).toBe('/etc/my dpvs/50%.conf');
    expect(words[6]).toBe('/run/$x.ipc');
    expect(unit).toContain('"/etc/my dpvs/50%%.conf"');
    // Environment= expands specifiers but not variables: "$ has no special meaning" (systemd.exec(7))
    expect(directive(unit, 'Environment')).toEqual(['DPVS_IPC_FILE=/run/$x.ipc']);
  });

  it('rejects values systemd cannot carry', () => {
    expect(() => systemdWord('a\nb')).toThrow(/line break/);
    expect(() => renderDpvsUnit({ ...BASE, nofile: 0 })).toThrow(/nofile/);
  });

  describe('ExecStartPost restore script, guarded until dpvs answers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpvsunit-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** Runs the ExecStartPost command with a fake dpip that answers after `failures` failed calls. */
    function runPost(
      failures: number,
      timeoutS: number,
    ): { status: number; restored: boolean; calls: number } {
      const counter = join(dir, 'calls');
      const marker = join(dir, "restored it's");
      writeFileSync(counter, '');
      rmSync(marker, { force: true });
      const dpip = join(dir, 'dpip');
      writeFileSync(
        dpip,
        `#!/bin/sh\necho x >> '${counter}'\n[ "$(wc -l < '${counter}')" -gt ${failures} ]\n`,
      );
      chmodSync(dpip, 0o755);
      const restore = join(dir, 'restore me.sh');
      writeFileSync(restore, `#!/bin/sh\ntouch "${marker}"\n`);
      chmodSync(restore, 0o755);
      const unit = renderDpvsUnit({
        ...BASE,
        restoreScript: restore,
        dpipBinary: dpip,
        startTimeoutS: timeoutS,
      });
      const post = directive(unit, 'ExecStartPost');
      expect(post).toHaveLength(1);
      const argv = systemdSplit(post[0] ?? '');
      expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      let status = 0;
      try {
        execFileSync(argv[0] as string, argv.slice(1), { stdio: 'pipe' });
      } catch (e) {
        status = (e as { status: number }).status;
      }
      const calls = readFileSync(counter, 'utf8').split('\n').filter(Boolean).length;
      return { status, restored: existsSync(marker), calls };
    }

    it('waits for dpip to succeed, then runs the restore script', () => {
      expect(runPost(2, 10)).toEqual({ status: 0, restored: true, calls: 3 });
    });

    it('gives up after the start timeout without restoring', () => {
      const r = runPost(100, 1);
      expect(r.status).toBe(1);
      expect(r.restored).toBe(false);
    });
  });
});

describe('renderKeepalivedUnit', () => {
  const unit = renderKeepalivedUnit({
    keepalivedBinary: '/opt/dpvs/bin/keepalived',
    confPath: '/etc/keepalived/keepalived.conf',
    ipcFile: '/var/run/dpvs.ipc',
  });
  it('is bound to dpvs.service so a dpvs restart restarts keepalived', () => {
    expect(directive(unit, 'After')).toEqual(['dpvs.service']);
    expect(directive(unit, 'Requires')).toEqual(['dpvs.service']);
    expect(directive(unit, 'PartOf')).toEqual(['dpvs.service']);
    expect(directive(unit, 'Environment')).toEqual(['DPVS_IPC_FILE=/var/run/dpvs.ipc']);
  });
  it('runs keepalived in the foreground with its config, after dpvs answers', () => {
    const argv = systemdSplit(directive(unit, 'ExecStart')[0] ?? '');
    expect(argv[0]).toBe('/opt/dpvs/bin/keepalived');
    expect(argv).toContain('--dont-fork');
    expect(argv.slice(-2)).toEqual(['-f', '/etc/keepalived/keepalived.conf']);
    const pre = systemdSplit(directive(unit, 'ExecStartPre')[0] ?? '');
    expect(pre[2]).toContain('/opt/dpvs/bin/dpip link show');
  });
});

describe('systemd accepts the rendered units', () => {
  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  it.skipIf(!analyze)(
    'systemd-analyze verify reports nothing for dpvs.service and keepalived.service',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'dpvsunit-verify-'));
      try {
        writeFileSync(
          join(dir, 'dpvs.service'),
          renderDpvsUnit({
            ...BASE,
            dpvsBinary: '/bin/true',
            confPath: '/etc/my dpvs/50%.conf',
            restoreScript: '/bin/true',
            dpipBinary: '/bin/true',
          }),
        );
        writeFileSync(
          join(dir, 'keepalived.service'),
          renderKeepalivedUnit({
            keepalivedBinary: '/bin/true',
            confPath: '/etc/keepalived.conf',
            ipcFile: '/var/run/dpvs.ipc',
            dpipBinary: '/bin/true',
          }),
        );
        const r = spawnSync(
          analyze as string,
          ['verify', join(dir, 'dpvs.service'), join(dir, 'keepalived.service')],
          {
            encoding: 'utf8',
            cwd: dir,
            timeout: 60_000,
          },
        );
        // verify exits 0 even for bad directives; it reports them on stderr, naming the file.
        const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes(dir));
        expect(complaints).toEqual([]);
        expect(r.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
