/**
 * A failed build leaves no half-built tree on the host and the previous install in place: the DPDK
 * build's steps remove its staging directory when they fail, the switch puts the previous build back
 * when the rename fails, and the DPVS build removes its work directory and half-copied release. The
 * planned commands run for real in a temporary directory (dpdk.build_dir there; the DPVS paths
 * relocated into it), with a failing `meson` / `make` on PATH.
 */
import { onControl } from '../../support/control.js';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import type { Change, Step } from '../../../src/plan/change.js';
import { dpdkBuildTask } from '../../../src/tasks/dpdk-build.js';
import { dpvsBuildTask } from '../../../src/tasks/dpvs-build.js';
import { releaseOf } from '../../../src/tasks/dpvs/release.js';
import { stagingDir } from '../../../src/tasks/dpdk/scripts.js';
import { dpdkSpec } from '../../../src/tasks/dpdk/spec.js';
import { COMPILER_OUTPUT } from '../../../src/tasks/dpdk/stamp.js';
import { inventoryOf, planContext, r630, r630Host } from '../../support/facts-builder.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'failed-build-'));
const ctl = onControl(tmp);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A bin directory whose `name` prints an error line and fails. */
function failingTool(name: string, line: string): string {
  const bin = path.join(tmp, `bin-${name}`);
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, name), `#!/bin/sh\necho ${JSON.stringify(line)}\nexit 1\n`);
  chmodSync(path.join(bin, name), 0o755);
  return bin;
}

function run(command: string, bin: string) {
  return spawnSync('sh', ['-c', command], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
}

const exec = (c: Change | undefined): string[] =>
  (c?.steps ?? []).flatMap((s: Step) => (s.kind === 'exec' ? [s.command] : []));

describe('a failed DPDK build removes its staging tree; the previous build stays', () => {
  const buildDir = path.join(tmp, 'dpdk');
  const h = r630Host({
    dpvs: { version: '1.9.10', source: { url: 'http://fx/dpvs.tar.gz', sha256: 'b'.repeat(64) }, kni: false },
    dpdk: {
      version: '20.11.10',
      source: { url: 'http://fx/dpdk.tar.xz', sha256: 'a'.repeat(64) },
      driver: 'uio_pci_generic',
      build_dir: buildDir,
    },
  } as Partial<ResolvedHost>);
  const spec = dpdkSpec(h, ctl)!;
  const f = r630().output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n').build();
  const changes = dpdkBuildTask.plan(planContext(h, f)).changes;
  const step = (id: string): string => exec(changes.find((c) => c.id === id))[0] as string;

  function previousInstall(): string {
    mkdirSync(spec.layout.root, { recursive: true });
    writeFileSync(spec.layout.stamp, 'previous build\n');
    return spec.layout.stamp;
  }

  it('meson fails: the staging tree is gone, the cause printed, the previous build untouched', () => {
    const stamp = previousInstall();
    mkdirSync(path.join(stagingDir(spec), 'src', spec.pairing.tarballTopDir), { recursive: true });
    const bin = failingTool('meson', 'config/meson.build:1:0: ERROR: Dependency "numa" not found');
    const r = run(step('dpdk-build/compile'), bin);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cause: config/meson.build:1:0: ERROR: Dependency "numa" not found');
    expect(r.stdout).toContain(`failed: removed ${stagingDir(spec)}`);
    expect(existsSync(stagingDir(spec))).toBe(false);
    expect(readFileSync(stamp, 'utf8')).toBe('previous build\n');
  });

  it('the unpack fails (no tarball in the cache): nothing is left behind either', () => {
    previousInstall();
    const r = run(step('dpdk-build/unpack'), tmp);
    expect(r.status).not.toBe(0);
    expect(existsSync(stagingDir(spec))).toBe(false);
    expect(existsSync(spec.layout.stamp)).toBe(true);
  });

  it('the switch cannot rename the staging tree into place: the previous build is put back', () => {
    previousInstall();
    // the staging tree is not there: mv fails after the previous build was moved aside
    const cmd = step('dpdk-build/install').replaceAll(stagingDir(spec), path.join(tmp, 'missing'));
    const r = run(cmd, tmp);
    expect(r.status).not.toBe(0);
    expect(readFileSync(spec.layout.stamp, 'utf8')).toBe('previous build\n');
    expect(existsSync(`${spec.layout.root}.old`)).toBe(false);
  });
});

describe('a failed DPVS build removes its work tree and half-installed release', () => {
  const h = r630Host({
    dpvs: { version: '1.9.10', source: { url: 'http://fx/dpvs.tar.gz', sha256: 'b'.repeat(64) } },
  });
  const r = releaseOf(h, inventoryOf([h]));
  const change = dpvsBuildTask.plan(planContext(h, r630().build())).changes[0];
  const root = path.join(tmp, 'dpvs-host');
  /** The planned command with the host's absolute paths moved under `root`. */
  const relocate = (c: string): string => c.replaceAll('/opt/', `${root}/opt/`);
  const work = relocate(r.tree.slice(0, r.tree.lastIndexOf('/')));

  const make = exec(change).find((c) => c.includes('make install')) as string;
  function failedMake(errorLine: string) {
    mkdirSync(relocate(r.tree), { recursive: true });
    writeFileSync(path.join(relocate(r.tree), 'half-built.o'), '');
    return run(relocate(make), failingTool('make', errorLine));
  }

  it('make fails (OpenSSL 3): the work directory is removed, the cause names the inventory fix', () => {
    const res = failedMake(
      "src/ipvs/ip_vs_synproxy.c:216:5: error: 'MD5' is deprecated: Since OpenSSL 3.0 [-Werror=deprecated-declarations]",
    );
    expect(res.status).toBe(1);
    expect(existsSync(work)).toBe(false);
    expect(res.stderr).toMatch(
      /^cause: OpenSSL 3 stops DPVS's build: 'MD5' is deprecated .*set dpvs\.build_env CFLAGS: -Wno-error=array-bounds -Wno-error=deprecated-declarations/m,
    );
  });

  it('the link cannot find -lsystemd: the cause names the package', () => {
    const res = failedMake('/usr/bin/ld: cannot find -lsystemd: No such file or directory');
    expect(res.status).toBe(1);
    expect(existsSync(work)).toBe(false);
    expect(res.stderr).toContain(
      'cause: ld: cannot find -lsystemd: libsystemd-dev on Debian, systemd-devel on RHEL is not installed',
    );
  });

  it('any other error: its first error line', () => {
    const res = failedMake('src/main.c:1:1: error: expected declaration');
    expect(res.stderr).toContain('cause: src/main.c:1:1: error: expected declaration');
  });

  it('dpvs -v fails after the copy: the release directory is removed, a current release is kept', () => {
    const dir = relocate(r.dir);
    const check = exec(change).find((c) => c.includes('/bin/dpvs -v')) as string;
    for (const isCurrent of [false, true]) {
      mkdirSync(path.join(dir, 'bin'), { recursive: true });
      writeFileSync(path.join(dir, 'bin', 'dpvs'), '#!/bin/sh\necho "dpvs version: 1.8-1"\n');
      chmodSync(path.join(dir, 'bin', 'dpvs'), 0o755);
      rmSync(relocate('/opt/dpvs/current'), { force: true });
      if (isCurrent) spawnSync('ln', ['-s', dir, relocate('/opt/dpvs/current')]);
      const res = run(relocate(check), tmp);
      expect(res.status).toBe(1);
      expect(existsSync(dir)).toBe(isCurrent);
    }
  });
});
