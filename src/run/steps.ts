/**
 * Executing one Step on one host. The only place (with put) where hosts change.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CommandError, causeOf, lastLines } from '../errors.js';
import type { Step } from '../plan/change.js';
import { quote, sh } from '../transport/quote.js';
import type { Transport } from '../transport/types.js';
import type { RunDir } from './transcript.js';

export interface StepEnv {
  transport: Transport;
  runDir: RunDir;
  inventoryDir: string;
  /** Resolves with the transport of a host once its task `task` finished successfully. */
  artifactSource(host: string): Promise<Transport>;
  defaultTimeoutMs: number;
  /**
   * A new connection to the host (after a reboot); the old one is closed. Rejects while the host does
   * not answer.
   */
  reconnect?(): Promise<Transport>;
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export function describeStep(s: Step): string {
  switch (s.kind) {
    case 'exec':
      return s.command;
    case 'write':
      return `write ${s.path} (mode ${s.mode.toString(8)}, ${Buffer.byteLength(s.content)} bytes)`;
    case 'upload':
      return `upload ${s.localPath} -> ${s.path}`;
    case 'copy-from-host':
      return `copy ${s.sourceHost}:${s.sourcePath} -> ${s.path}`;
    case 'wait':
      return `wait until: ${s.description}`;
    case 'reboot':
      return `${s.command} (detached), then wait until: ${s.description}`;
  }
}

/** The command that starts `command` detached from the SSH session, so its exec returns at once. */
export function detached(command: string): string {
  return `nohup sh -c ${quote(`sleep 1; ${command}`)} </dev/null >/dev/null 2>&1 &`;
}

const BOOT_ID_RE = /^[0-9a-f-]{36}$/;

/**
 * A controlled reboot: the boot id before, the reboot command detached, then new connections until one
 * answers with another boot id, within step.timeoutMs. Resolves with the new connection.
 */
async function reboot(step: Extract<Step, { kind: 'reboot' }>, env: StepEnv): Promise<Transport> {
  const t = env.transport;
  const host = t.name;
  if (!env.reconnect)
    throw new Error(`${host}: this run cannot reconnect to hosts, so it cannot reboot them`);
  const read = sh`cat ${step.bootIdPath}`;
  const before = await t.exec(read, { timeoutMs: 30_000 });
  const oldId = before.stdout.trim();
  if (before.code !== 0 || !BOOT_ID_RE.test(oldId))
    throw new CommandError(
      host,
      read,
      before.code,
      before.stdout,
      before.stderr,
      `${host}: cannot read the boot id before rebooting`,
    );
  env.runDir.log(host, `${new Date().toISOString()} boot id before reboot: ${oldId}`);
  const r = await t.exec(detached(step.command), { timeoutMs: 30_000 });
  if (r.code !== 0) throw new CommandError(host, step.command, r.code, r.stdout, r.stderr);
  const started = Date.now();
  const deadline = started + step.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    await new Promise((res) => setTimeout(res, step.intervalMs));
    try {
      const n = await env.reconnect();
      try {
        const id = await n.exec(read, { timeoutMs: 30_000 });
        const newId = id.stdout.trim();
        if (id.code === 0 && BOOT_ID_RE.test(newId) && newId !== oldId) {
          env.runDir.log(
            host,
            `${new Date().toISOString()} back after ${Math.round((Date.now() - started) / 1000)} s, boot id ${newId}`,
          );
          return n;
        }
        last =
          id.code === 0
            ? `still boot id ${newId} (not rebooted yet)`
            : `cannot read the boot id: ${id.stderr.trim()}`;
      } catch (e) {
        last = (e as Error).message;
      }
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() + step.intervalMs > deadline) break;
  }
  throw new Error(
    `${host}: did not come back within ${Math.round(step.timeoutMs / 1000)} s after \`${step.command}\` (waiting until ${step.description}; last: ${last}). Check its console; kernel.reboot_timeout_s sets the wait`,
  );
}

export async function runStep(step: Step, env: StepEnv): Promise<Transport | void> {
  const { transport: t, runDir } = env;
  const host = t.name;
  switch (step.kind) {
    case 'reboot':
      return reboot(step, env);
    case 'exec': {
      // the transport writes every command and its output to the transcript
      const r = await t.exec(step.command, { timeoutMs: step.timeoutMs ?? env.defaultTimeoutMs });
      if (!(step.okCodes ?? [0]).includes(r.code ?? -1)) {
        const base = new CommandError(host, step.command, r.code, r.stdout, r.stderr);
        if (!step.onFailure) throw base;
        const f = await t.exec(step.onFailure, { timeoutMs: 30_000 });
        throw new CommandError(
          host,
          step.command,
          r.code,
          r.stdout,
          r.stderr,
          `${base.message}\n${f.stdout.trimEnd()}`,
        );
      }
      return;
    }
    case 'write': {
      await t.put(step.path, step.content, { mode: step.mode, owner: step.owner, keepPrevious: true });
      return;
    }
    case 'upload': {
      const local = path.resolve(env.inventoryDir, step.localPath);
      const data = await readFile(local);
      const got = sha(data);
      if (got !== step.sha256)
        throw new Error(
          `${host}: ${local} has sha256 ${got}, the plan expected ${step.sha256} (file changed since plan?)`,
        );
      await t.put(step.path, data, { mode: step.mode });
      runDir.log(host, `${new Date().toISOString()} ${describeStep(step)} sha256=${got}`);
      return;
    }
    case 'copy-from-host': {
      const src = await env.artifactSource(step.sourceHost);
      const data = await src.get(step.sourcePath);
      const got = sha(data);
      if (step.sha256 && got !== step.sha256)
        throw new Error(
          `${host}: artifact ${step.sourceHost}:${step.sourcePath} has sha256 ${got}, expected ${step.sha256}`,
        );
      await t.put(step.path, data, { mode: step.mode });
      runDir.log(host, `${new Date().toISOString()} ${describeStep(step)} sha256=${got}`);
      return;
    }
    case 'wait': {
      const deadline = Date.now() + step.timeoutMs;
      let last = { code: null as number | null, stdout: '', stderr: '', durationMs: 0 };
      let gaveUp = false;
      for (;;) {
        last = await t.exec(step.command, {
          timeoutMs: Math.max(1000, Math.min(30_000, deadline - Date.now())),
        });
        if (last.code === 0) return;
        if (step.giveUpCode !== undefined && last.code === step.giveUpCode) {
          gaveUp = true;
          break;
        }
        if (Date.now() + step.intervalMs > deadline) break;
        await new Promise((r) => setTimeout(r, step.intervalMs));
      }
      let extra = '';
      if (step.onFailure) {
        const f = await t.exec(step.onFailure, { timeoutMs: 30_000 });
        extra = `\n${f.stdout.trimEnd()}`;
      }
      const cause = causeOf(last.stdout, last.stderr);
      const said = lastLines(`${last.stdout}\n${last.stderr}`.trim(), 15);
      const head = gaveUp
        ? `${host}: ${cause ?? 'gave up'} (gave up waiting until ${step.description})\n${said}`
        : `${host}: ${cause ? `${cause} (` : ''}timed out after ${Math.round(step.timeoutMs / 1000)} s waiting until ${step.description}${cause ? ')' : ''}`;
      throw new CommandError(host, step.command, last.code, last.stdout, last.stderr, `${head}${extra}`);
    }
  }
}
