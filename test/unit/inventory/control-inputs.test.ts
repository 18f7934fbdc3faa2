/**
 * Control-side inputs read at load (src/inventory/control-read.ts): local file checksums and the DPVS
 * patch series of a local tarball. The series hash must be the one a host computes for the same tarball
 * (src/tasks/dpdk/series.ts SERIES_SCRIPT, run here with sh, tar and sha256sum), or a DPVS tarball
 * pushed from the control machine and the same one downloaded by a host would plan different DPDK builds.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localFile, localSeries, secretValue } from '../../../src/inventory/control.js';
import { readControlInputs, tarballSeries } from '../../../src/inventory/control-read.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { SERIES_SCRIPT } from '../../../src/tasks/dpdk/series.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dd-control-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tarball(): string {
  const top = path.join(dir, 'src', 'dpvs-1.9.10');
  for (const [rel, text] of [
    ['patch/dpdk-stable-20.11.10/0002-b.patch', 'second\n'],
    ['patch/dpdk-stable-20.11.10/0001-a.patch', 'first\n'],
    ['patch/dpdk-24.11/0001-x.patch', 'other series\n'],
    ['src/main.c', 'int main(void) { return 0; }\n'],
  ] as const) {
    mkdirSync(path.dirname(path.join(top, rel)), { recursive: true });
    writeFileSync(path.join(top, rel), text);
  }
  const out = path.join(dir, 'dpvs-1.9.10.tar.gz');
  execFileSync('tar', ['-czf', out, '-C', path.join(dir, 'src'), 'dpvs-1.9.10']);
  return out;
}

describe('control-side inputs', () => {
  const t = tarball();

  it("a local tarball's patch series hashes as the host-side script does, per series", () => {
    const series = tarballSeries(t);
    expect([...series.keys()].sort()).toEqual(['patch/dpdk-24.11', 'patch/dpdk-stable-20.11.10']);
    for (const [patchDir, hash] of series) {
      const onHost = execFileSync('sh', ['-c', SERIES_SCRIPT, 'sh', t, patchDir], {
        encoding: 'utf8',
      }).trim();
      expect(hash).toBe(onHost);
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('reads each named file once at load; planners look it up, and a missing one says why', () => {
    const host = {
      name: 'lb1',
      address: '192.0.2.1',
      roles: ['balancer'],
      groups: [],
      dpvs: { source: { file: 'dpvs-1.9.10.tar.gz' } },
      dpdk: { patches: ['missing.patch'] },
      keepalived: { auth_pass: { env: 'DD_TEST_UNSET_VARIABLE' } },
    } as unknown as ResolvedHost;
    const control = readControlInputs([host], dir, [host]);
    const side = { dir, control };
    const f = localFile(side, 'dpvs-1.9.10.tar.gz');
    expect(f).toEqual({
      ok: true,
      path: t,
      sha256: createHash('sha256')
        .update(execFileSync('cat', [t]))
        .digest('hex'),
    });
    expect(localFile(side, 'missing.patch')).toEqual({
      ok: false,
      path: path.join(dir, 'missing.patch'),
      reason: 'no such file',
    });
    expect(localSeries(side, t, 'patch/dpdk-stable-20.11.10')).toBe(
      tarballSeries(t).get('patch/dpdk-stable-20.11.10'),
    );
    // a file the loader did not read is not read now either
    expect(localFile(side, 'other.tar.gz')).toMatchObject({
      ok: false,
      reason: 'not read when the inventory was loaded',
    });
    // an unset secret is known to be missing, not read again
    expect(secretValue({ env: 'DD_TEST_UNSET_VARIABLE' }, control)).toBeUndefined();
    expect(control.secrets.get('env:DD_TEST_UNSET_VARIABLE')).toEqual({
      ok: false,
      reason: 'environment variable DD_TEST_UNSET_VARIABLE is not set',
    });
  });
});
