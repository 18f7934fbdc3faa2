/**
 * What other tests use to work against the lab: `ensureLab()` brings a fresh default lab up (one left
 * running is taken down first), and `labSsh()` runs a command on a lab host with the system OpenSSH client.
 */
import { execFile } from 'node:child_process';
import { down, status, up } from './lab.js';
import { loadFakeKernel } from './fakekernel-adapter.js';
import { labPaths } from './paths.js';
import type { LabHostProfile } from './profile-types.js';
import { FIXTURES_URL } from './lab.js';
import { LAB_INSTANCE } from './instance.js';
import { inventoryYaml, labInventory, writeInventory } from './inventory.js';

export interface LabInfo {
  /** inventories/lab.yaml */
  inventory: string;
  hosts: LabHostProfile[];
  /** .lab/ssh/ssh_config: `ssh -F <sshConfig> lb1` */
  sshConfig: string;
  identity: string;
  knownHosts: string;
  /** http://10.241.0.1:8080/, serving .lab/fixtures/www */
  fixturesUrl: string;
  fixturesDir: string;
  /** true when the FUSE fake kernel gives /sys its kernel write semantics (bind, unbind, hugepages) */
  fakeKernel: boolean;
  /** false when nftables could not be set up (hosts could then reach root-namespace listeners) */
  firewall: boolean;
}

export async function ensureLab(): Promise<LabInfo> {
  const paths = labPaths();
  // A lab found running was left up by someone else (`npm run demo`, a crashed run) and carries their
  // applied state (hugepages, bound NICs, a running dpvs): tests get a fresh one, never that.
  if ((await status(paths)).length) await down({ paths });
  const r = await up({ paths });
  if (LAB_INSTANCE) {
    // another instance: its own addresses, so its own inventory (the default one is committed)
    const inv = labInventory(r.profiles, {
      inventoryFile: paths.defaultInventory,
      identity: paths.identity,
      knownHosts: paths.knownHosts,
      fixtures: paths.www,
    });
    await writeInventory(
      paths.defaultInventory,
      inventoryYaml(inv, `DPVS_LAB_INSTANCE=${LAB_INSTANCE} ensureLab()`),
    );
  }
  const fake = await loadFakeKernel();
  return {
    inventory: paths.defaultInventory,
    hosts: r.profiles,
    sshConfig: paths.sshConfig,
    identity: paths.identity,
    knownHosts: paths.knownHosts,
    fixturesUrl: FIXTURES_URL,
    fixturesDir: paths.www,
    fakeKernel: fake.real,
    firewall: r.state.firewall,
  };
}

/** Tears the lab down (tests that brought it up call this in afterAll). */
export async function stopLab(): Promise<void> {
  await down();
}

export { status as labStatus };

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` (a remote shell string) on `host` ("lb1" or "deploy@lb1") over real SSH. */
export function labSsh(host: string, command: string, timeoutMs = 60_000): Promise<SshResult> {
  const cfg = labPaths().sshConfig;
  return new Promise((resolve) => {
    execFile(
      'ssh',
      ['-F', cfg, host, '--', command],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 255) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}
