/**
 * installHostBin: puts the lab's fake host tools (test/lab/hostbin/{sbin,bin,lib,share}) into the
 * host's /usr/local (its overlay upper dir), with the host's profile in share/lab/profile.json. With
 * hostUsrUpper (the upper dir of the host's /usr overlay) and profile.kernelHeaders, it also creates
 * /usr/lib/modules/<kernel>/build with the fake kbuild Makefile, as if the headers were installed.
 *
 * The stand-ins' scripts go to lib/lab/py/{bin,sbin} (with lib and share links beside them, so a
 * script's own relative paths still resolve), and every bin/NAME and sbin/NAME is the compiled launcher
 * (standin-client.c): it hands the call to the host's stand-in daemon (hostbin/lib/lab/labd.py) or
 * execs the script. Without a C compiler on this machine the scripts are installed as before.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  cp,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

const CLIENT_SOURCE = join(repoRoot(), 'test', 'lab', 'fakekernel', 'standin-client.c');
let client: Promise<string | null> | undefined;

/**
 * The compiled launcher, cached by the hash of its source in ~/.cache/dpvs-deploy/lab-standin/ (or
 * $DPVS_LAB_STANDIN_CACHE); null when it cannot be built here (no cc: the scripts run as themselves).
 */
export function standinClient(): Promise<string | null> {
  client ??= (async () => {
    const src = await readFile(CLIENT_SOURCE);
    const key = createHash('sha256').update(src).digest('hex').slice(0, 16);
    const dir = process.env.DPVS_LAB_STANDIN_CACHE || join(homedir(), '.cache', 'dpvs-deploy', 'lab-standin');
    const out = join(dir, `client-${key}`);
    if (existsSync(out)) return out;
    await mkdir(dir, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    try {
      await promisify(execFile)('cc', ['-O2', '-Wall', '-o', tmp, CLIENT_SOURCE]);
      await rename(tmp, out);
      return out;
    } catch (e) {
      await rm(tmp, { force: true });
      process.stderr.write(
        `lab: the stand-in launcher did not build (${(e as Error).message.split('\n')[0]}); stand-ins run as Python scripts\n`,
      );
      return null;
    }
  })();
  return client;
}

export async function installHostBin(
  hostUsrLocalUpper: string,
  profile: LabHostProfile,
  hostUsrUpper?: string,
): Promise<void> {
  await Promise.all(
    PARTS.map((p) => cp(join(HOSTBIN_DIR, p), join(hostUsrLocalUpper, p), { recursive: true, force: true })),
  );
  // DPVS_LAB_STANDINS=scripts: the stand-ins as their own Python processes, no daemon (the lab before
  // the launcher; for comparisons, e.g. bench/labprobe.ts's lab-py and CI time before/after)
  const launcher = process.env.DPVS_LAB_STANDINS === 'scripts' ? null : await standinClient();
  if (launcher !== null) {
    const py = join(hostUsrLocalUpper, 'lib', 'lab', 'py');
    await mkdir(py, { recursive: true });
    await Promise.all(['lib', 'share'].map((l) => rm(join(py, l), { force: true })));
    await Promise.all([
      symlink('../..', join(py, 'lib')),
      symlink('../../../share', join(py, 'share')),
      ...['bin', 'sbin'].map(async (part) => {
        await cp(join(HOSTBIN_DIR, part), join(py, part), { recursive: true, force: true });
        for (const name of await readdir(join(HOSTBIN_DIR, part))) {
          await copyFile(launcher, join(hostUsrLocalUpper, part, name));
          await chmod(join(hostUsrLocalUpper, part, name), 0o755);
        }
      }),
    ]);
  }
  await writeFile(
    join(hostUsrLocalUpper, 'share', 'lab', 'profile.json'),
    JSON.stringify(profile, null, 1) + '\n',
  );
  if (hostUsrUpper !== undefined && profile.kernelHeaders) await writeKbuildDir(hostUsrUpper, profile.kernel);
}
