import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestedFacts } from '../../../../src/facts/requested.js';
import { headersPackage, installHeadersScript } from '../../../../src/tasks/toa/scripts.js';
import { factsBuilder } from '../../../support/facts-builder.js';

/** Runs `script` with a stub package manager first in PATH that prints `out` and exits `code`. */
function withStub(
  tool: string,
  out: string,
  code: number,
  script: string,
): { status: number | null; stderr: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'toa-stub-'));
  const stub = path.join(dir, tool);
  writeFileSync(stub, `#!/bin/sh\nprintf '%s\\n' '${out}'\nexit ${code}\n`);
  chmodSync(stub, 0o755);
  const r = spawnSync('sh', ['-c', script], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` },
  });
  return { status: r.status, stderr: r.stderr };
}

describe('headers install script', () => {
  it('turns apt\'s "Unable to locate package" into the operator message naming the package', () => {
    const facts = factsBuilder().os('debian12').kernel({ release: '6.1.0-99-amd64' }).build();
    const pkg = headersPackage(facts);
    expect(pkg).toEqual({ pm: 'apt', name: 'linux-headers-6.1.0-99-amd64' });
    const r = withStub(
      'apt-get',
      'E: Unable to locate package linux-headers-6.1.0-99-amd64',
      100,
      installHeadersScript('rs3', facts, pkg as NonNullable<typeof pkg>),
    );
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      'rs3: no headers package for kernel 6.1.0-99-amd64: apt could not find linux-headers-6.1.0-99-amd64 (install the matching headers or boot a kernel that has them)',
    );
  });

  it('turns dnf\'s "No match for argument" into the same message, and other failures into the tail', () => {
    const facts = factsBuilder().os('rocky9').kernel({ release: '5.14.0-999.el9.x86_64' }).build();
    const pkg = headersPackage(facts) as NonNullable<ReturnType<typeof headersPackage>>;
    expect(pkg.name).toBe('kernel-devel-5.14.0-999.el9.x86_64');
    const missing = withStub(
      'dnf',
      'Error: Unable to find a match: kernel-devel-5.14.0-999.el9.x86_64',
      1,
      installHeadersScript('rs4', facts, pkg),
    );
    expect(missing.stderr).toContain(
      'rs4: no headers package for kernel 5.14.0-999.el9.x86_64: dnf could not find kernel-devel-5.14.0-999.el9.x86_64',
    );
    const other = withStub(
      'dnf',
      'Error: Failed to download metadata for repo baseos',
      1,
      installHeadersScript('rs4', facts, pkg),
    );
    expect(other.status).toBe(1);
    expect(other.stderr).toContain('Failed to download metadata');
    expect(other.stderr).toContain('rs4: installing kernel-devel-5.14.0-999.el9.x86_64 failed (1)');
    expect(other.stderr).not.toContain('no headers package');
  });

  it('fails when the package installed but the build directory is still missing', () => {
    const facts = factsBuilder().os('rocky9').kernel({ release: '0.0.0-no-such-kernel' }).build();
    const pkg = headersPackage(facts) as NonNullable<ReturnType<typeof headersPackage>>;
    const r = withStub('dnf', 'Complete!', 0, installHeadersScript('rs1', facts, pkg));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/lib/modules/0.0.0-no-such-kernel/build is missing');
  });
});

describe('module facts without /proc/modules', () => {
  it('reads a live loadable module and its refcount from sysfs (modlive), a builtin stays builtin', () => {
    const text = [
      'modsys\ttoa',
      'modlive\ttoa 2',
      'modsys\tipv6',
      'modparam\tuoa uoa_map_timeout 360',
      'modlive\tuoa 0',
    ].join('\n');
    const f = requestedFacts.parse(text);
    expect(f.modules.find((m) => m.name === 'toa')).toEqual({ name: 'toa', params: {}, refcount: 2 });
    expect(f.modules.find((m) => m.name === 'ipv6')?.builtin).toBe(true);
    expect(f.modules.find((m) => m.name === 'uoa')).toEqual({
      name: 'uoa',
      params: { uoa_map_timeout: '360' },
      refcount: 0,
    });
  });

  it('keeps the /proc/modules line when both are present', () => {
    const f = requestedFacts.parse('mod\ttoa 1\nmodsys\ttoa\nmodlive\ttoa 1\n');
    expect(f.modules).toEqual([{ name: 'toa', params: {}, refcount: 1 }]);
  });
});
