/**
 * Source tarballs the VM suite pushes to the guest (`source: {file: …}`): the lab's DPDK and DPVS
 * fixture trees (test/lab/fixtures), with DPVS's kmod/toa and kmod/uoa replaced by real kernel-module
 * stand-ins (test/vm/fixtures/dpvs-kmod), because the guest builds them with the real kbuild.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildFixtures, hashSources } from '../lab/fixtures/build.js';
import { vmPaths } from './paths.js';

const run = promisify(execFile);

export interface VmSources {
  dpdk: { version: string; file: string };
  dpvs: { version: string; file: string };
}

export const DPVS_VERSION = '1.9.10';
export const DPDK_VERSION = '20.11.10';

export async function vmSources(): Promise<VmSources> {
  const p = vmPaths();
  const out = join(p.root, '.vm', 'fixtures');
  await mkdir(out, { recursive: true });
  const m = await buildFixtures(join(out, 'lab'));
  const dpdk = m.artifacts.find((a) => a.kind === 'dpdk' && a.version === DPDK_VERSION);
  const dpvs = m.artifacts.find((a) => a.kind === 'dpvs' && a.version === DPVS_VERSION);
  if (!dpdk || !dpvs) throw new Error('lab fixtures lack DPDK 20.11.10 or DPVS 1.9.10');
  // Named by both inputs: the lab's fixture sources and the kmod stand-ins that replace their kmod/.
  const kmodDir = join(p.source, 'fixtures', 'dpvs-kmod', 'kmod');
  const key = createHash('sha256')
    .update(m.sourcesHash)
    .update(await hashSources(kmodDir))
    .digest('hex');
  const file = join(out, `dpvs-${DPVS_VERSION}-vm-${key.slice(0, 12)}.tar.gz`);
  if (!existsSync(file)) {
    const tmp = await mkdtemp(join(out, 'tmp-'));
    try {
      await run('tar', ['-xzf', dpvs.path, '-C', tmp]);
      const kmod = join(tmp, dpvs.topDir, 'kmod');
      await rm(kmod, { recursive: true, force: true });
      await run('cp', ['-r', kmodDir, kmod]);
      await run('tar', [
        ...['--sort=name', '--mtime=@1750636800', '--owner=0', '--group=0', '--numeric-owner'],
        ...['-czf', `${file}.tmp`, '-C', tmp, dpvs.topDir],
      ]);
      await run('mv', [`${file}.tmp`, file]);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return { dpdk: { version: DPDK_VERSION, file: dpdk.path }, dpvs: { version: DPVS_VERSION, file } };
}
