/** Where the lab keeps its state: <repo>/.lab (git-ignored); the hot part on a tmpfs at .lab/run. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_INSTANCE, stateDir } from './instance.js';

/** The repository root: the nearest directory above this module holding package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'lab'))) return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new Error('cannot find the repository root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export interface LabPaths {
  root: string;
  /** .lab */
  lab: string;
  /** .lab/state.json: what `up` created (on disk, so `down` finds it after a crash) */
  stateFile: string;
  /** .lab/ssh: client key, known_hosts, ssh_config */
  ssh: string;
  identity: string;
  knownHosts: string;
  sshConfig: string;
  /** .lab/fixtures/www: served at http://10.241.0.1:8080/ inside the lab */
  www: string;
  /** .lab/run: tmpfs with every host's private directories and the fake kernel's state */
  run: string;
  hosts: string;
  fakeState: string;
  fakeMount: string;
  /** test/lab/host-init.py (source tree, not dist) */
  hostInit: string;
  defaultInventory: string;
  /** .lab/inventory.yaml (.lab-<name>/inventory.yaml): what `up` writes for a lab of another shape */
  instanceInventory: string;
}

/** The paths of this process's instance, or of `instance` ('' for the default lab). */
export function labPaths(root: string = repoRoot(), instance: string = LAB_INSTANCE): LabPaths {
  const lab = join(root, stateDir(instance));
  const ssh = join(lab, 'ssh');
  const run = join(lab, 'run');
  return {
    root,
    lab,
    stateFile: join(lab, 'state.json'),
    ssh,
    identity: join(ssh, 'id_ed25519'),
    knownHosts: join(ssh, 'known_hosts'),
    sshConfig: join(ssh, 'ssh_config'),
    www: join(lab, 'fixtures', 'www'),
    run,
    hosts: join(run, 'hosts'),
    fakeState: join(run, 'fk-state'),
    fakeMount: join(run, 'fk'),
    hostInit: resolve(root, 'test', 'lab', 'host-init.py'),
    // the default lab's is committed; another instance's is written by `up` (its own addresses)
    defaultInventory: instance ? join(lab, 'inventory.yaml') : join(root, 'inventories', 'lab.yaml'),
    instanceInventory: join(lab, 'inventory.yaml'),
  };
}
