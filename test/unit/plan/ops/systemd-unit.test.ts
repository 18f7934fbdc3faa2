/**
 * The systemdUnit block (src/plan/ops/systemd-unit.ts): typed sections rendered with every value
 * escaped by its setting's rule, read back the way systemd reads them (systemd-analyze verify where the
 * machine has it), and the install Change (managed file, daemon-reload, enable).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafeValueError } from '../../../../src/escape.js';
import type { Facts } from '../../../../src/facts/types.js';
import {
  projectUnit,
  renderUnit,
  systemdUnit,
  unitInstallSteps,
  type UnitFile,
} from '../../../../src/plan/ops/systemd-unit.js';
import { hugepagesUnit } from '../../../../src/tasks/hugepages.js';
import { bindUnit } from '../../../../src/tasks/nic-binding.js';

const unit: UnitFile = {
  comments: ['managed by dpvs-deploy'],
  sections: [
    [
      'Unit',
      [
        ['Description', 'Demo at 50%'],
        ['After', ['local-fs.target', 'network-pre.target']],
      ],
    ],
    [
      'Service',
      [
        ['Type', 'oneshot'],
        ['Environment', { env: { DEMO_FILE: '/run/a b/$x.ipc' } }],
        ['ExecStart', { exec: ['/bin/sh', '-c', 'echo "$HOME" 100%'] }],
        ['ExecReload', { exec: ['/bin/kill', '-HUP', { variable: 'MAINPID' }] }],
        ['TimeoutStartSec', 120],
      ],
    ],
    ['Install', [['WantedBy', ['multi-user.target']]]],
  ],
};

const facts = (files: Facts['files'] = {}, services: Facts['services'] = {}) => ({ files, services });

describe('renderUnit', () => {
  it('writes comments, sections a blank line apart, and each value by its rule', () => {
    expect(renderUnit(unit)).toBe(
      [
        '# managed by dpvs-deploy',
        '[Unit]',
        'Description=Demo at 50%%',
        'After=local-fs.target network-pre.target',
        '',
        '[Service]',
        'Type=oneshot',
        // Environment=: quoted as one word, % doubled, $ left alone (no expansion there: systemd.exec(7))
        'Environment="DEMO_FILE=/run/a b/$x.ipc"',
        // Exec lines: % and $ doubled, quoted where a word has spaces or quotes (systemd.service(7))
        'ExecStart=/bin/sh -c "echo \\"$$HOME\\" 100%%"',
        'ExecReload=/bin/kill -HUP $MAINPID',
        'TimeoutStartSec=120',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    );
  });

  it('refuses what a unit file cannot carry: line breaks, trailing backslashes, relative programs, bad names', () => {
    const bad =
      (entries: UnitFile['sections'][number][1]): (() => string) =>
      () =>
        renderUnit({ comments: [], sections: [['Service', entries]] });
    expect(bad([['Description', 'a\nExecStart=/bin/evil']])).toThrow(UnsafeValueError);
    expect(bad([['Description', 'ends in \\']])).toThrow(/continues the line/);
    expect(bad([['ExecStart', { exec: ['sh', '-c', 'x'] }]])).toThrow(/absolute path/);
    expect(bad([['ExecStart', { exec: ['/bin/echo', 'a\nb'] }]])).toThrow(/line break/);
    expect(bad([['After', ['a b.target']]])).toThrow(/one word/);
    expect(bad([['Environment', { env: { 'A-B': 'x' } }]])).toThrow(/variable name/);
    expect(bad([['Bad Key', 'x']])).toThrow(/setting name/);
    expect(() => renderUnit({ comments: ['a\nb'], sections: [] })).toThrow(/one line/);
  });

  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  it.skipIf(!analyze)(
    "systemd-analyze verify accepts the block's, the hugepages and the NIC-binding units",
    () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'unit-verify-'));
      try {
        const files: Record<string, string> = {
          'demo.service': renderUnit({
            ...unit,
            sections: unit.sections.map(([n, e]) => [
              n,
              e.map(([k, v]) =>
                k.startsWith('Exec') && typeof v === 'object' && 'exec' in v
                  ? [k, { exec: ['/bin/true', ...v.exec.slice(1)] }]
                  : [k, v],
              ),
            ]) as UnitFile['sections'],
          }),
          'dpvs-hugepages.service': renderUnit(
            hugepagesUnit({
              sizeKb: 2048,
              sizeLabel: '2M',
              perNode: new Map([[0, 512]]),
              mount: '/dev/hugepages',
              persist: true,
            }),
          ),
          'dpvs-deploy-bind.service': renderUnit(bindUnit()).replace(/ExecStart=\S+/, 'ExecStart=/bin/true'),
        };
        for (const [n, t] of Object.entries(files)) writeFileSync(path.join(dir, n), t);
        const r = spawnSync(
          analyze as string,
          ['verify', ...Object.keys(files).map((n) => path.join(dir, n))],
          {
            encoding: 'utf8',
            cwd: dir,
            timeout: 60_000,
          },
        );
        const complaints = `${r.stdout}${r.stderr}`
          .split('\n')
          .filter(
            (l) => l.includes(dir) && !/Failed to (open|create)|dpvs\.service|network-pre|multi-user/.test(l),
          );
        expect(complaints).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('systemdUnit', () => {
  const text = renderUnit(unit);

  it('a fresh host: the unit (and the script it runs) written in one Change, then daemon-reload and enable', () => {
    const c = systemdUnit({
      task: 't',
      id: 't/unit',
      name: 'demo',
      unit,
      facts: facts(),
      with: [{ path: '/etc/demo/run.sh', content: '#!/bin/sh\n', mode: 0o755, current: undefined }],
    });
    expect(c?.steps).toEqual([
      { kind: 'exec', command: 'mkdir -p /etc/demo /etc/systemd/system' },
      { kind: 'write', path: '/etc/demo/run.sh', content: '#!/bin/sh\n', mode: 0o755 },
      { kind: 'write', path: '/etc/systemd/system/demo.service', content: text, mode: 0o644 },
      ...unitInstallSteps('demo', true),
    ]);
    expect(unitInstallSteps('demo', true)).toEqual([
      { kind: 'exec', command: 'systemctl daemon-reload' },
      { kind: 'exec', command: 'systemctl enable demo' },
    ]);
    expect(c?.diff).toContain('+++ b/etc/systemd/system/demo.service');
  });

  it('idempotent: nothing when the files are current and the unit enabled; the projection plans nothing', () => {
    const cur = { exists: true, sha256: null, mode: '0644', content: text };
    const enabled = { demo: { active: false, enabled: true, unitExists: true } };
    expect(
      systemdUnit({
        task: 't',
        id: 't/u',
        name: 'demo',
        unit,
        facts: facts({ '/etc/systemd/system/demo.service': cur }, enabled),
      }),
    ).toBeNull();
    const projected = { files: {}, services: {} } as unknown as Facts;
    projectUnit(projected, { name: 'demo', unit });
    expect(systemdUnit({ task: 't', id: 't/u', name: 'demo', unit, facts: projected })).toBeNull();
  });

  it('a current but disabled unit: only enable; a unit another pulls in (enable: false) only reloads', () => {
    const cur = { exists: true, sha256: null, mode: '0644', content: text };
    const c = systemdUnit({
      task: 't',
      id: 't/u',
      name: 'demo',
      unit,
      facts: facts({ '/etc/systemd/system/demo.service': cur }),
    });
    expect(c?.summary).toBe('enable demo.service');
    expect(c?.steps).toEqual(unitInstallSteps('demo', true));
    expect(
      systemdUnit({
        task: 't',
        id: 't/u',
        name: 'demo',
        unit,
        enable: false,
        facts: facts({ '/etc/systemd/system/demo.service': cur }),
      }),
    ).toBeNull();
    const changed = systemdUnit({
      task: 't',
      id: 't/u',
      name: 'demo',
      unit,
      enable: false,
      facts: facts({ '/etc/systemd/system/demo.service': { ...cur, content: 'old\n' } }),
    });
    expect(changed?.steps.slice(-1)).toEqual([{ kind: 'exec', command: 'systemctl daemon-reload' }]);
  });
});
