/**
 * What the VM suite's tests use: the running guest (brought up once by global-setup.ts), the
 * dpvs-deploy CLI run as a user runs it (`node bin/dpvs-deploy.js …`), inventory variants, and
 * `skipReason` for tasks that are not registered yet (tests SKIP with the reason, never pass).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { HostEntry, Inventory } from '../../src/inventory/schema.js';
import { vmPaths, type VmPaths } from './paths.js';
import { guestSsh, type GuestTarget, type SshResult } from './ssh.js';
import { readState, isQemu, target, type VmState } from './vm.js';

export interface Vm {
  paths: VmPaths;
  state: VmState;
  target: GuestTarget;
  /** .vm/run/vm.yaml */
  inventory: string;
  ssh: (command: string, timeoutMs?: number) => Promise<SshResult>;
  /** ssh that throws unless the command exits 0; returns stdout */
  must: (command: string, timeoutMs?: number) => Promise<string>;
}

/** Why the VM tier cannot run here, or null. Written by global-setup.ts. */
export function unavailable(): string | null {
  const p = vmPaths();
  const f = join(p.run, 'unavailable');
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : null;
}

export async function vm(): Promise<Vm> {
  const paths = vmPaths();
  const state = await readState(paths);
  if (!state || !isQemu(state.pid)) throw new Error('the VM guest is not running (global setup failed?)');
  const t = target(paths, state);
  const ssh = (c: string, ms?: number): Promise<SshResult> => guestSsh(t, c, ms);
  const must = async (c: string, ms?: number): Promise<string> => {
    const r = await ssh(c, ms);
    if (r.code !== 0) throw new Error(`guest: ${c} exited ${r.code}\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  return { paths, state, target: t, inventory: paths.inventory, ssh, must };
}

export interface CliResult extends SshResult {
  /** stdout + stderr, for failure messages */
  all: string;
}

/** `node bin/dpvs-deploy.js ARGS` from the repository root (dist/ must be built). */
export function dpvsDeploy(args: string[], timeoutMs = 600_000): Promise<CliResult> {
  const p = vmPaths();
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [join(p.root, 'bin', 'dpvs-deploy.js'), ...args],
      {
        cwd: p.root,
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, NO_COLOR: '1' },
      },
      (err, stdout, stderr) => {
        const code =
          err === null
            ? 0
            : typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : 255;
        resolvePromise({ code, stdout, stderr, all: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** Writes .vm/run/<name>.yaml: the guest's inventory with vm1 changed by `edit`. */
export async function inventoryVariant(name: string, edit: (h: HostEntry) => void): Promise<string> {
  const p = vmPaths();
  const inv = parse(readFileSync(p.inventory, 'utf8')) as Inventory;
  const host = inv.hosts.vm1;
  if (!host) throw new Error('vm1 is missing from the VM inventory');
  edit(host);
  const file = join(p.run, `${name}.yaml`);
  await writeFile(file, `# VM suite variant: ${name}\n${stringify(inv, { lineWidth: 0 })}`);
  return file;
}

/** Task names in src/tasks/registry.ts (read from the built registry, as the CLI sees it). */
export async function registeredTasks(): Promise<Set<string>> {
  const p = vmPaths();
  const mod = (await import(join(p.root, 'dist', 'src', 'tasks', 'registry.js'))) as {
    taskRegistry: ReadonlyMap<string, unknown>;
  };
  return new Set(mod.taskRegistry.keys());
}

/** null when every task is registered; otherwise the explicit reason a test skips. */
export async function missingTasks(...names: string[]): Promise<string | null> {
  const have = await registeredTasks();
  const missing = names.filter((n) => !have.has(n));
  return missing.length ? `task ${missing.join(', ')} not registered in src/tasks/registry.ts yet` : null;
}
