/** The managed-file building block (src/plan/ops/managed-file.ts) every file-writing task plans with. */
import { describe, expect, it } from 'vitest';
import { managedFile, projectedFile } from '../../../../src/plan/ops/managed-file.js';

const base = { task: 't', id: 't/f', path: '/etc/x/y.conf', content: 'a=1\n', mode: 0o644 };

describe('managedFile', () => {
  it('creates a missing file: parent directory, atomic write, follow-up steps; the diff is from /dev/null', () => {
    const c = managedFile({
      ...base,
      current: undefined,
      then: [{ kind: 'exec', command: 'systemctl daemon-reload' }],
    });
    expect(c?.action).toBe('create');
    expect(c?.summary).toBe('/etc/x/y.conf: create');
    expect(c?.steps).toEqual([
      { kind: 'exec', command: 'mkdir -p /etc/x' },
      { kind: 'write', path: '/etc/x/y.conf', content: 'a=1\n', mode: 0o644 },
      { kind: 'exec', command: 'systemctl daemon-reload' },
    ]);
    expect(c?.diff).toContain('--- /dev/null');
    expect(c?.diff).toContain('+a=1');
    expect(c?.reversible).toBe(true);
  });

  it('plans nothing for a file as wanted, and the projection is what the next tasks see', () => {
    const current = { exists: true, sha256: null, mode: '0644', content: 'a=1\n' };
    expect(managedFile({ ...base, current })).toBeNull();
    expect(managedFile({ ...base, current: projectedFile(base) })).toBeNull();
  });

  it('updates a changed file with a unified diff, and a mode-only difference with no diff', () => {
    const changed = managedFile({
      ...base,
      current: { exists: true, sha256: null, mode: '0644', content: 'a=0\n' },
    });
    expect(changed?.action).toBe('update');
    expect(changed?.diff).toMatch(/-a=0\n\+a=1/);
    const mode = managedFile({
      ...base,
      current: { exists: true, sha256: null, mode: '0666', content: 'a=1\n' },
    });
    expect(mode?.summary).toBe('/etc/x/y.conf: mode 0666 → 0644');
    expect(mode?.diff).toBeUndefined();
    expect(mode?.steps.some((s) => s.kind === 'write')).toBe(true);
  });

  it('force runs only the follow-up steps of a current file; display masks both sides of the diff', () => {
    const current = { exists: true, sha256: null, mode: '0600', content: 'pass s3cret\n' };
    const forced = managedFile({
      ...base,
      content: 'pass s3cret\n',
      mode: 0o600,
      current,
      force: true,
      then: [{ kind: 'exec', command: 'systemctl enable x' }],
    });
    expect(forced?.steps).toEqual([{ kind: 'exec', command: 'systemctl enable x' }]);
    const masked = managedFile({
      ...base,
      content: 'pass n3w\n',
      mode: 0o600,
      current,
      display: (s) => s.replace(/pass \S+/, 'pass ******'),
    });
    expect(masked?.diff ?? '').not.toMatch(/s3cret|n3w/);
  });
});
