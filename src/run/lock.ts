/**
 * Host locks: apply takes /var/lib/dpvs-deploy/lock (an atomic mkdir) before its first change and
 * releases it at the end. The owner file says who holds it. A lock whose owner process is gone (same
 * control machine, dead pid) is stale: reported as such and broken only with --break-lock.
 */
import os from 'node:os';
import { UserError } from '../errors.js';
import { sh } from '../transport/quote.js';
import type { Transport } from '../transport/types.js';

export const LOCK_DIR = '/var/lib/dpvs-deploy/lock';

export interface LockOwner {
  controlHost: string;
  pid: number;
  started: string;
  command: string;
  user: string;
}

export function ownLock(command: string): LockOwner {
  return {
    controlHost: os.hostname(),
    pid: process.pid,
    started: new Date().toISOString(),
    command,
    user: os.userInfo().username,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function isStale(owner: LockOwner): boolean {
  return owner.controlHost === os.hostname() && !alive(owner.pid);
}

export function describeOwner(o: LockOwner): string {
  return `${o.user}@${o.controlHost} pid ${o.pid} since ${o.started} (${o.command})`;
}

export class LockHeld extends UserError {
  constructor(
    readonly host: string,
    readonly owner: LockOwner | null,
    readonly stale: boolean,
  ) {
    super(
      `${host}: locked by ${owner ? describeOwner(owner) : 'an unknown owner'}` +
        (stale
          ? ' — that process is gone: the lock is stale; rerun with --break-lock to remove it'
          : ' — another apply is running; wait for it, or use --lock-timeout SECONDS'),
    );
  }
}

export async function acquireLock(
  t: Transport,
  owner: LockOwner,
  opts: { breakLock?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const info = JSON.stringify(owner);
  const deadline = Date.now() + (opts.timeoutMs ?? 0);
  let broke = false;
  for (;;) {
    const pre = opts.breakLock && !broke ? sh`rm -rf ${LOCK_DIR}; ` : '';
    broke = true;
    const r = await t.exec(
      pre +
        sh`mkdir -p /var/lib/dpvs-deploy && if e=$(mkdir ${LOCK_DIR} 2>&1); then printf '%s\n' ${info} > ${`${LOCK_DIR}/owner`} && echo acquired; elif [ -d ${LOCK_DIR} ]; then cat ${`${LOCK_DIR}/owner`} 2>/dev/null; exit 75; else printf '%s\n' "$e" >&2; exit 1; fi`,
      { timeoutMs: 30_000 },
    );
    if (r.code === 0) return;
    if (r.code !== 75)
      throw new UserError(
        `${t.name}: cannot take the apply lock ${LOCK_DIR}: ${(r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split('\n').slice(-2).join(' / ')} — the SSH user needs to be root, or set ssh.sudo: true`,
      );
    let current: LockOwner | null = null;
    try {
      current = JSON.parse(r.stdout.trim()) as LockOwner;
    } catch {
      current = null;
    }
    const stale = current ? isStale(current) : false;
    if (stale || Date.now() >= deadline) throw new LockHeld(t.name, current, stale);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

export async function releaseLock(t: Transport, owner: LockOwner): Promise<void> {
  // remove only our own lock
  await t.exec(
    sh`if grep -q ${`"pid":${owner.pid},"started":"${owner.started}"`} ${`${LOCK_DIR}/owner`} 2>/dev/null; then rm -rf ${LOCK_DIR}; fi`,
    { timeoutMs: 30_000 },
  );
}

export async function readLock(t: Transport): Promise<LockOwner | null> {
  const r = await t.exec(sh`cat ${`${LOCK_DIR}/owner`} 2>/dev/null`, { timeoutMs: 30_000 });
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout.trim()) as LockOwner;
  } catch {
    return null;
  }
}
