/**
 * Where the VM tier keeps its files:
 *   the image cache (base.raw, vmlinuz, initrd.img, keys, inputs.sha256): $DPVS_DEPLOY_VM_IMAGE, else
 *     ~/.cache/dpvs-deploy/vm-image/<key>, key = the first 16 hex digits of the inputs' sha256 (build.sh,
 *     packages.txt). It is kept outside the checkout: every clone on the machine (CI's fresh clones
 *     too) reuses one build, and branches with different images keep one entry each.
 *   .vm/run/     the running guest (overlay, pid file, serial log, state.json, known_hosts, vm.yaml),
 *     in the repository (git-ignored).
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';

function repoRoot(): string {
  // Works from test/vm/*.ts (vitest) and from dist/test/vm/*.js (npm run vm).
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'test', 'vm', 'build.sh'))) return d;
    d = dirname(d);
  }
  throw new Error('test/vm: cannot find the repository root');
}

/** sha256 over the image's inputs (their paths relative to the repository, and their bytes). */
export function imageInputsHash(root: string, files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f.slice(root.length));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex');
}

export interface VmPaths {
  root: string;
  /** test/vm (build.sh, packages.txt, fixtures/) */
  source: string;
  buildScript: string;
  packageList: string;
  image: string;
  baseRaw: string;
  kernel: string;
  initrd: string;
  kver: string;
  /** the root key the image was built with (in the image cache) */
  imageIdentity: string;
  /** its copy for this run (.vm/run/id_vm, 0600): what SSH and the inventories use */
  identity: string;
  hostKeyPub: string;
  inputsHash: string;
  run: string;
  overlay: string;
  pidFile: string;
  serialLog: string;
  qemuLog: string;
  monitor: string;
  /** the supervisor's configuration, its record of boots (supervisor.ts) and its stop file */
  supervisorConfig: string;
  bootLog: string;
  stopFile: string;
  /** dist/test/vm/supervisor.js (npm run build) */
  supervisorScript: string;
  state: string;
  knownHosts: string;
  /** the inventory written by `up` (it holds the per-run SSH port) */
  inventory: string;
  /** inventories/vm.yaml: the committed template (port 2222) */
  template: string;
}

export function vmPaths(root = repoRoot()): VmPaths {
  const buildScript = join(root, 'test', 'vm', 'build.sh');
  const packageList = join(root, 'test', 'vm', 'packages.txt');
  const image =
    process.env.DPVS_DEPLOY_VM_IMAGE ||
    join(
      homedir(),
      '.cache',
      'dpvs-deploy',
      'vm-image',
      imageInputsHash(root, [buildScript, packageList]).slice(0, 16),
    );
  const run = join(root, '.vm', 'run');
  return {
    root,
    source: join(root, 'test', 'vm'),
    buildScript,
    packageList,
    image,
    baseRaw: join(image, 'base.raw'),
    kernel: join(image, 'vmlinuz'),
    initrd: join(image, 'initrd.img'),
    kver: join(image, 'kver'),
    imageIdentity: join(image, 'id_vm'),
    identity: join(run, 'id_vm'),
    hostKeyPub: join(image, 'host_ed25519.pub'),
    inputsHash: join(image, 'inputs.sha256'),
    run,
    overlay: join(run, 'run.qcow2'),
    pidFile: join(run, 'qemu.pid'),
    serialLog: join(run, 'serial.log'),
    qemuLog: join(run, 'qemu.out'),
    monitor: join(run, 'mon.sock'),
    supervisorConfig: join(run, 'supervisor.json'),
    bootLog: join(run, 'boots.jsonl'),
    stopFile: join(run, 'stop'),
    supervisorScript: join(root, 'dist', 'test', 'vm', 'supervisor.js'),
    state: join(run, 'state.json'),
    knownHosts: join(run, 'known_hosts'),
    inventory: join(run, 'vm.yaml'),
    template: resolve(root, 'inventories', 'vm.yaml'),
  };
}
