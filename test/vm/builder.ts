/**
 * The VM tier's native-speed build host (test/vm/builder.sh): the guest image's own root filesystem with
 * the tool's balancer build packages, served by its own sshd on 127.0.0.1 from a private mount and PID
 * namespace. It joins the guest in one inventory so that the tool's build-once path builds real DPDK and
 * DPVS there at native speed and the guest (QEMU TCG) receives the install (copy-from-host).
 *
 * The root filesystem is cached under ~/.cache/dpvs-deploy/vm-builder/ (or $DPVS_DEPLOY_VM_BUILDER),
 * keyed by the image's inputs, builder.sh and the package list: it is a base system like the image, not a
 * build result. Every run gets a fresh overlay on it (.vm/run/builder/), removed by stop(): nothing the
 * tool builds there outlives the run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { requiredPackages } from '../../src/tasks/packages.js';
import type { ResolvedHost } from '../../src/inventory/types.js';
import { freePort, generateKey, type KeyFiles } from '../support/sshd.js';
import type { VmPaths } from './paths.js';

export const BUILDER_NAME = 'builder';
/**
 * The runtime libraries of what the build set links (libnuma-dev, libpcap-dev, ...): a dpvs linked with
 * the real libdpdk needs them on the guest (`pkg-config --static --libs libdpdk`: -lnuma -lpcap -ldbus-1
 * -lsystemd ...). The guest has no mirror and `packages: false`; those (and their dependencies) the
 * image lacks are downloaded natively and installed with dpkg -i (guestDebs).
 */
export const GUEST_RUNTIME = ['libnuma1', 'libpcap0.8', 'libdbus-1-3', 'libsystemd0', 'libssl3', 'zlib1g'];

export interface Builder {
  name: string;
  port: number;
  /** the unshare process (its child, sshd, is PID 1 of the namespace and dies with it: --kill-child) */
  pid: number;
  clientKey: KeyFiles;
  knownHosts: string;
  dir: string;
  /** seconds spent preparing the root filesystem (0: cached) */
  prepareS: number;
  /** .deb files of GUEST_RUNTIME the guest image lacks (install them on the guest: dpkg -i) */
  guestDebs: string[];
  log(): string;
  stop(): Promise<void>;
}

/** The packages the tool installs on a Debian balancer (the build set), so the builder has them. */
export function builderPackages(): string[] {
  return requiredPackages({ roles: ['balancer'] } as unknown as ResolvedHost, 'debian').sort();
}

function cacheDir(): string {
  return process.env.DPVS_DEPLOY_VM_BUILDER || join(homedir(), '.cache', 'dpvs-deploy', 'vm-builder');
}

function builderKey(p: VmPaths, pkgs: string[]): string {
  const h = createHash('sha256');
  h.update(readFileSync(p.inputsHash));
  h.update(readFileSync(join(p.source, 'builder.sh')));
  h.update(pkgs.join(' '));
  h.update(`\0${GUEST_RUNTIME.join(' ')}`);
  return h.digest('hex').slice(0, 16);
}

/** The builder's root filesystem (prepared once per image and package set). */
export function builderRootfs(p: VmPaths, log: (l: string) => void): { rootfs: string; prepareS: number } {
  const pkgs = builderPackages();
  const out = join(cacheDir(), builderKey(p, pkgs));
  const rootfs = join(out, 'rootfs');
  if (existsSync(join(rootfs, 'etc', 'dpvs-deploy-builder'))) {
    const now = new Date();
    utimesSync(out, now, now);
    return { rootfs, prepareS: 0 };
  }
  const t0 = Date.now();
  mkdirSync(cacheDir(), { recursive: true });
  // other keys unused for three days go (another checkout's builder may be running on a newer one)
  for (const e of readdirSync(cacheDir()))
    if (e !== builderKey(p, pkgs) && Date.now() - statSync(join(cacheDir(), e)).mtimeMs > 3 * 86_400_000)
      rmSync(join(cacheDir(), e), { recursive: true, force: true });
  const r = execFileSync('bash', [join(p.source, 'builder.sh'), 'prepare', p.image, out, ...pkgs], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, GUEST_RUNTIME: GUEST_RUNTIME.join(' ') },
  });
  for (const l of r.split('\n')) if (l.trim()) log(l);
  return { rootfs, prepareS: Math.round((Date.now() - t0) / 1000) };
}

function canConnect(port: number): boolean {
  try {
    execFileSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stdio: 'ignore', timeout: 2000 });
    return true;
  } catch {
    return false;
  }
}

export async function startBuilder(p: VmPaths, log: (l: string) => void): Promise<Builder> {
  const { rootfs, prepareS } = builderRootfs(p, log);
  const dir = join(p.run, 'builder');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const hostKey = generateKey(dir, 'host_ed25519');
  const clientKey = generateKey(dir, 'client_ed25519');
  writeFileSync(join(dir, 'authorized_keys'), `${clientKey.publicLine}\n`, { mode: 0o600 });
  const port = await freePort();
  const etc = '/etc/dpvs-deploy-builder.d';
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${etc}/host_ed25519`,
      `AuthorizedKeysFile ${etc}/authorized_keys`,
      'PidFile /run/sshd.pid',
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UseDNS no',
      'MaxSessions 32',
      'MaxStartups 32:30:64',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKey.publicLine.split(/\s+/).slice(0, 2).join(' ')}\n`);
  const child: ChildProcess = spawn(
    'unshare',
    [
      ...['--mount', '--pid', '--fork', '--propagation', 'private', '--kill-child'],
      ...['bash', join(p.source, 'builder.sh'), 'serve', rootfs, dir],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('the builder did not start');
  const deadline = Date.now() + 20_000;
  while (!canConnect(port)) {
    if (exited) throw new Error(`the builder's sshd exited at start:\n${stderr}`);
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGTERM');
      throw new Error(`the builder's sshd did not listen on 127.0.0.1:${port}:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: BUILDER_NAME,
    port,
    pid,
    clientKey,
    knownHosts,
    dir,
    prepareS,
    guestDebs: readdirSync(join(rootfs, 'var', 'cache', 'dpvs-deploy-builder', 'guest-debs'))
      .filter((f) => f.endsWith('.deb'))
      .map((f) => join(rootfs, 'var', 'cache', 'dpvs-deploy-builder', 'guest-debs', f)),
    log: () => stderr,
    async stop(): Promise<void> {
      if (!exited) {
        // unshare --fork ignores SIGTERM while it waits; SIGKILL it, and --kill-child sends SIGKILL to
        // its child (sshd, PID 1 of the namespace), which takes every process of the namespace with it;
        // the namespace's mounts go with them
        process.kill(pid, 'SIGKILL');
        await exitPromise;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
