/**
 * The guest's life cycle: up (overlay, the supervisor that boots the guest from its own bootloader
 * configuration and again after each reboot, wait for SSH, find the test NICs, write known_hosts and
 * the inventory), down (poweroff over SSH; stop the supervisor and kill only the qemu pid as a
 * fallback), status, reboot. One guest at a time: its state is .vm/run/state.json.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { buildImage } from './image.js';
import {
  HUGEPAGES_PER_NODE,
  TEMPLATE_E1000_PCI,
  TEMPLATE_PORT,
  TEMPLATE_VIRTIO_PCI,
  vmInventory,
  vmInventoryYaml,
  writeFileAtomic,
} from './inventory.js';
import type { VmPaths } from './paths.js';
import { E1000_MAC, VIRTIO_MAC, freePort, pidAlive } from './qemu.js';
import { guestSsh, knownHostsLine, type GuestTarget } from './ssh.js';
import { readBoots, type BootRecord, type SupervisorConfig } from './supervisor.js';

const execFileP = promisify(execFile);

export interface VmState {
  /** the running qemu-system-x86_64's pid (its -pidfile; a reboot starts a new QEMU) */
  pid: number;
  /** the supervisor's pid (supervisor.ts): it lives from `up` to the guest's poweroff */
  supervisor: number;
  port: number;
  startedAt: string;
  kver: string;
  bootMs: number;
  nics: { e1000: string; virtio: string };
}

export type Log = (line: string) => void;

export function target(p: VmPaths, s: Pick<VmState, 'port'>): GuestTarget {
  return { port: s.port, identity: p.identity, knownHosts: p.knownHosts };
}

/** True when `pid` is alive and is a QEMU process (never signal anything else). */
export function isQemu(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim().startsWith('qemu-system');
  } catch {
    return false;
  }
}

/** True when `pid` is alive and is this tier's supervisor (node …/supervisor.js). */
export function isSupervisor(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return /supervisor\.js\0/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/** The running QEMU's pid (its pid file exists while it runs), or 0. */
export function currentQemuPid(p: VmPaths): number {
  try {
    const n = Number(readFileSync(p.pidFile, 'utf8').trim());
    return Number.isInteger(n) && n > 0 && isQemu(n) ? n : 0;
  } catch {
    return 0;
  }
}

/** The state, with `pid` the QEMU running now (a reboot starts another one). */
export async function readState(p: VmPaths): Promise<VmState | null> {
  if (!existsSync(p.state)) return null;
  const s = JSON.parse(await readFile(p.state, 'utf8')) as VmState;
  const now = currentQemuPid(p);
  return now ? { ...s, pid: now } : s;
}

/** Running: the supervisor is alive (between two boots of a reboot no QEMU runs for a moment). */
export async function status(p: VmPaths): Promise<{ running: boolean; state: VmState | null }> {
  const s = await readState(p);
  return { running: s !== null && isSupervisor(s.supervisor), state: s };
}

/** The boots of the current run (the last one is running while the guest is up). */
export function boots(p: VmPaths): BootRecord[] {
  return readBoots(p.bootLog);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function readPid(file: string, deadline: number): Promise<number> {
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      const n = Number((await readFile(file, 'utf8')).trim());
      if (Number.isInteger(n) && n > 0) return n;
    }
    await sleep(200);
  }
  throw new Error('qemu did not write its pid file');
}

function tail(file: string, n = 25): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

function bootLogTail(p: VmPaths): string {
  return boots(p)
    .slice(-3)
    .map((b) => JSON.stringify(b))
    .join('\n');
}

/** Polls `ssh true` once a second until it works; fails early if the supervisor ends. */
export async function waitForSsh(
  p: VmPaths,
  t: GuestTarget,
  supervisor: number,
  opts: { maxTries?: number; since?: number } = {},
): Promise<void> {
  const tries = opts.maxTries ?? 240;
  for (let i = 0; i < tries; i++) {
    if (!isSupervisor(supervisor))
      throw new Error(
        `the guest stopped while booting:\n${bootLogTail(p)}\n${tail(p.qemuLog)}\n${tail(p.serialLog)}`,
      );
    const r = await guestSsh(t, 'true', 15_000);
    if (r.code === 0) return;
    if (
      r.stderr.includes('REMOTE HOST IDENTIFICATION HAS CHANGED') ||
      r.stderr.includes('Host key verification failed')
    )
      throw new Error(`the guest's host key is not the pinned one: ${r.stderr.trim()}`);
    await sleep(1000);
  }
  throw new Error(`no SSH to the guest after ${tries} tries:\n${tail(p.serialLog)}`);
}

/** PCI address of the guest NIC with this MAC (read from the guest's sysfs). */
export async function pciByMac(t: GuestTarget, mac: string): Promise<string> {
  const r = await guestSsh(
    t,
    // A virtio-net interface's device is the virtio device (…/0000:00:04.0/virtio2): take its parent.
    `for i in /sys/class/net/*; do [ "$(cat $i/address)" = '${mac}' ] || continue; d=$(readlink -f $i/device); ` +
      `case "\${d##*/}" in virtio*) d=\${d%/*};; esac; echo "\${d##*/}"; done; true`,
  );
  const bdf = r.stdout.trim().split('\n')[0] ?? '';
  if (!/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(bdf))
    throw new Error(`no guest NIC with MAC ${mac} (${r.stderr.trim() || r.stdout.trim()})`);
  return bdf;
}

async function writeInventories(p: VmPaths, s: VmState): Promise<void> {
  const inv = vmInventory({
    inventoryFile: p.inventory,
    identity: p.identity,
    knownHosts: p.knownHosts,
    port: s.port,
    e1000Pci: s.nics.e1000,
    virtioPci: s.nics.virtio,
  });
  await writeFileAtomic(p.inventory, vmInventoryYaml(inv, `Written by npm run vm -- up at ${s.startedAt}.`));
}

/** The committed template (inventories/vm.yaml): deterministic, port 2222. */
export function templateYaml(p: VmPaths): string {
  const inv = vmInventory({
    inventoryFile: p.template,
    identity: p.identity,
    knownHosts: p.knownHosts,
    port: TEMPLATE_PORT,
    e1000Pci: TEMPLATE_E1000_PCI,
    virtioPci: TEMPLATE_VIRTIO_PCI,
  });
  return vmInventoryYaml(
    inv,
    'TEMPLATE: `npm run vm -- up` writes the real one, with its per-run port, to .vm/run/vm.yaml.',
  );
}

export interface UpResult {
  reused: boolean;
  state: VmState;
  inventory: string;
}

export async function up(p: VmPaths, log: Log): Promise<UpResult> {
  const cur = await status(p);
  if (cur.running && cur.state) {
    // A guest whose `up` stopped after SSH came up (NIC discovery, inventory) is finished here.
    if (cur.state.nics.e1000 === '' || !existsSync(p.inventory)) await finish(p, cur.state, log);
    return { reused: true, state: (await readState(p)) ?? cur.state, inventory: p.inventory };
  }
  const img = await buildImage(p, { log });
  if (!img.cached) log(`image built in ${(img.ms / 1000).toFixed(1)} s`);
  await rm(p.run, { recursive: true, force: true });
  await mkdir(p.run, { recursive: true });
  await execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', p.baseRaw, p.overlay]);
  const port = await freePort();
  await writeFile(p.knownHosts, knownHostsLine(port, await readFile(p.hostKeyPub, 'utf8')));
  // The key is copied next to the run's inventory, so inventories name it inside the checkout wherever
  // the image cache lives.
  await copyFile(p.imageIdentity, p.identity);
  await chmod(p.identity, 0o600);
  const t0 = Date.now();
  const supervisor = startSupervisor(p, port);
  let pid: number;
  try {
    pid = await readPid(p.pidFile, Date.now() + 60_000);
  } catch (e) {
    await stopAll(p, supervisor, log);
    throw new Error(`${(e as Error).message}:\n${bootLogTail(p)}\n${tail(p.qemuLog)}`);
  }
  const t = { port, identity: p.identity, knownHosts: p.knownHosts };
  const partial = { pid, supervisor, port, startedAt: new Date().toISOString(), kver: img.kver, bootMs: 0 };
  await writeFile(p.state, JSON.stringify({ ...partial, nics: { e1000: '', virtio: '' } }, null, 2));
  try {
    await waitForSsh(p, t, supervisor);
  } catch (e) {
    await stopAll(p, supervisor, log);
    throw e;
  }
  const state = await finish(
    p,
    { ...partial, bootMs: Date.now() - t0, nics: { e1000: '', virtio: '' } },
    log,
  );
  return { reused: false, state, inventory: p.inventory };
}

/** Finds the test NICs by MAC, records the state and writes the inventory. */
async function finish(p: VmPaths, s: VmState, log: Log): Promise<VmState> {
  const t = target(p, s);
  const nics = { e1000: await pciByMac(t, E1000_MAC), virtio: await pciByMac(t, VIRTIO_MAC) };
  const state: VmState = { ...s, nics };
  await writeFile(p.state, JSON.stringify(state, null, 2));
  await writeInventories(p, state);
  log(
    `guest up in ${(s.bootMs / 1000).toFixed(1)} s: ssh 127.0.0.1:${s.port}, kernel ${s.kver}, ` +
      `hugepages ${HUGEPAGES_PER_NODE}/node, e1000 ${nics.e1000}, virtio ${nics.virtio}`,
  );
  return state;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isQemu(pid)) return true;
    await sleep(250);
  }
  return !isQemu(pid);
}

/**
 * Starts the supervisor detached (its own session): it boots the guest from its disk's grub.cfg and
 * again after every reboot, until the guest powers off (supervisor.ts).
 */
function startSupervisor(p: VmPaths, port: number): number {
  if (!existsSync(p.supervisorScript))
    throw new Error(`${p.supervisorScript} is missing: run npm run build first`);
  const c: SupervisorConfig = {
    run: p.run,
    overlay: p.overlay,
    pidFile: p.pidFile,
    serialLog: p.serialLog,
    qemuLog: p.qemuLog,
    monitor: p.monitor,
    sshPort: port,
    bootLog: p.bootLog,
    stopFile: p.stopFile,
    timeoutS: 3600,
  };
  writeFileSync(p.supervisorConfig, JSON.stringify(c, null, 2));
  const fd = openSync(join(p.run, 'supervisor.out'), 'a');
  try {
    const child = spawn(process.execPath, [p.supervisorScript, p.supervisorConfig], {
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    if (child.pid === undefined) throw new Error('could not start the VM supervisor');
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Kills only this qemu pid: SIGTERM, then SIGKILL. */
async function stopPid(pid: number, log: Log): Promise<void> {
  if (!isQemu(pid)) return;
  log(`killing qemu pid ${pid}`);
  process.kill(pid, 'SIGTERM');
  if (await waitGone(pid, 10_000)) return;
  process.kill(pid, 'SIGKILL');
  await waitGone(pid, 10_000);
}

/** No further boot (the stop file), the running QEMU killed, the supervisor ended: by pid only. */
async function stopAll(p: VmPaths, supervisor: number, log: Log): Promise<void> {
  writeFileSync(p.stopFile, 'stop\n');
  const q = currentQemuPid(p);
  if (q) await stopPid(q, log);
  const deadline = Date.now() + 10_000;
  while (isSupervisor(supervisor) && Date.now() < deadline) await sleep(200);
  if (isSupervisor(supervisor)) {
    log(`killing the VM supervisor pid ${supervisor}`);
    process.kill(supervisor, 'SIGKILL');
  }
}

export async function down(p: VmPaths, log: Log): Promise<{ wasRunning: boolean; clean: boolean }> {
  const s = await readState(p);
  let wasRunning = false;
  let clean = false;
  if (s && (isSupervisor(s.supervisor) || isQemu(s.pid))) {
    wasRunning = true;
    await guestSsh(target(p, s), 'systemctl poweroff', 20_000);
    // The guest powers off, QEMU ends, the supervisor sees `reboot: Power down` and ends too.
    const deadline = Date.now() + 90_000;
    while (isSupervisor(s.supervisor) && Date.now() < deadline) await sleep(250);
    clean = !isSupervisor(s.supervisor) && currentQemuPid(p) === 0;
    if (!clean) await stopAll(p, s.supervisor, log);
    const q = currentQemuPid(p);
    if (q) throw new Error(`qemu pid ${q} is still running`);
  }
  // The overlay, state and inventory go; logs stay for a post-mortem.
  for (const f of [p.overlay, p.state, p.inventory, p.knownHosts, p.pidFile, p.monitor, p.stopFile])
    await rm(f, { force: true });
  await rm(join(p.run, 'boot'), { recursive: true, force: true });
  return { wasRunning, clean };
}
