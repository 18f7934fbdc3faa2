/**
 * installHostBin: puts the lab's fake host tools (test/lab/hostbin/{sbin,bin,lib,share}) into the
 * host's /usr/local (its overlay upper dir), with the host's profile in share/lab/profile.json. With
 * hostUsrUpper (the upper dir of the host's /usr overlay) and profile.kernelHeaders, it also creates
 * /usr/lib/modules/<kernel>/build with the fake kbuild Makefile, as if the headers were installed.
 */
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../paths.js';
import type { LabHostProfile } from '../profile-types.js';

/** Resolved in the source tree, so it also works when this module runs from dist/. */
export const HOSTBIN_DIR = join(repoRoot(), 'test', 'lab', 'hostbin');
const PARTS = ['sbin', 'bin', 'lib', 'share'];

/** The build dir the fake kernel-headers package provides (same as the package stand-ins write). */
export async function writeKbuildDir(usrRoot: string, kernel: string): Promise<void> {
  const build = join(usrRoot, 'lib', 'modules', kernel, 'build');
  await mkdir(build, { recursive: true });
  await cp(join(HOSTBIN_DIR, 'share', 'lab', 'kbuild.mk'), join(build, 'Makefile'));
  await writeFile(join(build, 'kernel.release'), `${kernel}\n`);
}

export async function installHostBin(
  hostUsrLocalUpper: string,
  profile: LabHostProfile,
  hostUsrUpper?: string,
): Promise<void> {
  await Promise.all(
    PARTS.map((p) => cp(join(HOSTBIN_DIR, p), join(hostUsrLocalUpper, p), { recursive: true, force: true })),
  );
  await writeFile(
    join(hostUsrLocalUpper, 'share', 'lab', 'profile.json'),
    JSON.stringify(profile, null, 1) + '\n',
  );
  if (hostUsrUpper !== undefined && profile.kernelHeaders) await writeKbuildDir(hostUsrUpper, profile.kernel);
}
