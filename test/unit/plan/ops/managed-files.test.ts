/**
 * The steps-level managed-file block (src/plan/ops/managed-file.ts): several files in one Change, the
 * one "is it current" rule, removal with the old copy kept, and the rollback to the kept copy. The
 * write and restore commands are run for real in a temp directory where they are shell.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FileFacts } from '../../../../src/facts/types.js';
import type { Step } from '../../../../src/plan/change.js';
import {
  fileState,
  fileWriteSteps,
  keptCopyPath,
  managedFile,
  managedFiles,
  projectedFile,
  restoreKeptCopy,
} from '../../../../src/plan/ops/managed-file.js';

const have = (content: string, mode = '0644'): FileFacts => ({ exists: true, sha256: null, mode, content });
const A = { path: '/etc/modules-load.d/x.conf', content: 'uio\n', mode: 0o644 };
const B = { path: '/etc/modprobe.d/x.conf', content: 'options uio a=1\n', mode: 0o644 };
const execs = (steps: Step[]): string[] => steps.flatMap((s) => (s.kind === 'exec' ? [s.command] : []));

describe('fileWriteSteps', () => {
  it('one mkdir -p for the parents of the files it writes, then one atomic write each, in order', () => {
    expect(
      fileWriteSteps([
        { ...A, current: undefined },
        { ...B, current: undefined, owner: 'root:root' },
      ]),
    ).toEqual([
      { kind: 'exec', command: 'mkdir -p /etc/modules-load.d /etc/modprobe.d' },
      { kind: 'write', path: A.path, content: A.content, mode: 0o644 },
      { kind: 'write', path: B.path, content: B.content, mode: 0o644, owner: 'root:root' },
    ]);
  });

  it('skips a current file, rewrites one whose mode alone differs, and is empty when all are current', () => {
    expect(fileWriteSteps([{ ...A, current: have('uio\n') }])).toEqual([]);
    const steps = fileWriteSteps([
      { ...A, current: have('uio\n') },
      { ...B, current: have(B.content, '0600') },
    ]);
    expect(steps.map((s) => (s.kind === 'write' ? s.path : s.kind))).toEqual(['exec', B.path]);
    expect(fileState({ ...B, current: have(B.content, '0600') })).toBe('mode');
    expect(fileState({ ...B, current: have('other\n') })).toBe('update');
    expect(fileState({ ...B, current: { exists: false, sha256: null, mode: null, content: null } })).toBe(
      'create',
    );
  });
});

describe('managedFiles', () => {
  it('several files in one Change: both diffs, the follow-up steps, create when none existed', () => {
    const c = managedFiles({
      task: 'kmods',
      id: 'kmods/persist',
      files: [
        { ...A, current: undefined },
        { ...B, current: undefined },
      ],
      then: [{ kind: 'exec', command: 'true' }],
    });
    expect(c?.action).toBe('create');
    expect(c?.summary).toBe(`${A.path}: create, ${B.path}: create`);
    expect(c?.diff).toContain(`+++ b${A.path}`);
    expect(c?.diff).toContain('+uio');
    expect(c?.diff).toContain(`+++ b${B.path}`);
    expect(c?.diff).toContain('+options uio a=1');
    expect(execs(c!.steps).at(-1)).toBe('true');
    expect(c?.reversible).toBe(true);
  });

  it('idempotent: nothing when every file is current, also on the projection of its own change', () => {
    const files = [
      { ...A, current: projectedFile(A) },
      { ...B, current: projectedFile(B) },
    ];
    expect(managedFiles({ task: 't', id: 't/x', files })).toBeNull();
  });

  it('only the changed file is diffed and written; a mode-only change has no diff', () => {
    const c = managedFiles({
      task: 't',
      id: 't/x',
      files: [
        { ...A, current: have('uio\n') },
        { ...B, current: have('options uio a=0\n') },
      ],
    });
    expect(c?.action).toBe('update');
    expect(c?.diff).not.toContain(A.path);
    expect(c?.diff).toMatch(/-options uio a=0\n\+options uio a=1/);
    expect(c?.steps.filter((s) => s.kind === 'write').map((s) => (s.kind === 'write' ? s.path : ''))).toEqual(
      [B.path],
    );
    const mode = managedFile({ task: 't', id: 't/m', ...A, current: have('uio\n', '0600') });
    expect(mode?.summary).toBe(`${A.path}: mode 0600 → 0644`);
    expect(mode?.diff).toBeUndefined();
  });

  it('an unwanted file is moved aside to its kept copy, with a removal diff; absent, nothing', () => {
    const c = managedFiles({
      task: 't',
      id: 't/x',
      files: [{ ...A, current: have('uio\n') }],
      remove: [{ path: B.path, current: have('options uio a=1\n') }],
    });
    expect(c?.summary).toBe(`${B.path}: remove`);
    expect(execs(c!.steps)).toEqual([
      `if [ -e ${B.path} ]; then mv -f ${B.path} ${B.path}.dpvs-deploy.bak; fi`,
    ]);
    expect(c?.diff).toContain('+++ /dev/null');
    expect(c?.diff).toContain('-options uio a=1');
    expect(
      managedFiles({
        task: 't',
        id: 't/x',
        files: [{ ...A, current: have('uio\n') }],
        remove: [{ path: B.path, current: undefined }],
      }),
    ).toBeNull();
  });
});

describe('restoreKeptCopy (run for real)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'managed-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('puts the kept copy back (mode kept), shows the diff back to it, and plans nothing without one', () => {
    const file = path.join(dir, 'etc', 'x.conf');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'new\n', { mode: 0o644 });
    writeFileSync(keptCopyPath(file), 'old\n', { mode: 0o600 });
    const c = restoreKeptCopy({
      task: 't',
      id: 't/rollback',
      path: file,
      current: have('new\n'),
      kept: have('old\n', '0600'),
    });
    expect(c?.diff).toMatch(/-new\n\+old/);
    for (const cmd of execs(c!.steps)) expect(spawnSync('sh', ['-c', cmd]).status).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(keptCopyPath(file))).toBe(true);
    expect(
      restoreKeptCopy({ task: 't', id: 't/r', path: file, current: have('old\n'), kept: have('old\n') }),
    ).toBeNull();
    expect(
      restoreKeptCopy({ task: 't', id: 't/r', path: file, current: have('old\n'), kept: undefined }),
    ).toBeNull();
  });

  it('the removal step keeps the old copy where the rollback finds it', () => {
    const file = path.join(dir, 'gone.conf');
    writeFileSync(file, 'was here\n');
    const c = managedFiles({
      task: 't',
      id: 't/x',
      files: [],
      remove: [{ path: file, current: have('was here\n') }],
    });
    for (const cmd of execs(c!.steps)) expect(spawnSync('sh', ['-c', cmd]).status).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(keptCopyPath(file), 'utf8')).toBe('was here\n');
  });
});
