/**
 * Server-side counts from the lab's sshd logs. Every lab host's sshd logs to its init.log (sshd -e);
 * the bench brings the lab up with LAB_SSHD_LOGLEVEL=VERBOSE (test/lab/host-init.py), so sshd logs
 *   "Connection from A port P on B port 22 ..."      one per TCP connection
 *   "Accepted publickey for root from ..."          one per authenticated connection
 *   "Starting session: command for root from ..."   one per exec request (a round trip)
 *   "Starting session: subsystem 'sftp' for ..."    one per subsystem request (sftp)
 * We remember each log's size before a run and count the lines added during it.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type Marks = Map<string, number>;

export interface SshdCounts {
  connections: number;
  accepted: number;
  execs: number;
  subsystems: number;
  /** other session kinds (shell, forced-command) */
  otherSessions: number;
}

function logPath(hostsDir: string, host: string): string {
  return join(hostsDir, host, 'init.log');
}

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export function mark(hostsDir: string, hosts: ReadonlyArray<string>): Marks {
  return new Map(hosts.map((h) => [h, size(logPath(hostsDir, h))]));
}

function readFrom(file: string, offset: number): string {
  const end = size(file);
  if (end <= offset) return '';
  const buf = Buffer.alloc(end - offset);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}

export function countLines(text: string): SshdCounts {
  const c: SshdCounts = { connections: 0, accepted: 0, execs: 0, subsystems: 0, otherSessions: 0 };
  for (const line of text.split('\n')) {
    if (line.includes('Connection from ')) c.connections++;
    else if (line.includes('Accepted publickey for ')) c.accepted++;
    else if (line.includes('Starting session: command ')) c.execs++;
    else if (line.includes('Starting session: subsystem ')) c.subsystems++;
    else if (line.includes('Starting session: ')) c.otherSessions++;
  }
  return c;
}

/** Counts per host of the lines each host's log gained since `marks`. */
export function countSince(hostsDir: string, marks: Marks): Map<string, SshdCounts> {
  const out = new Map<string, SshdCounts>();
  for (const [host, offset] of marks) out.set(host, countLines(readFrom(logPath(hostsDir, host), offset)));
  return out;
}

/** max and mean over hosts of each count */
export function summarize(per: Map<string, SshdCounts>): {
  maxConnections: number;
  maxExecs: number;
  meanConnections: number;
  meanExecs: number;
  maxSubsystems: number;
} {
  const v = [...per.values()];
  const n = Math.max(1, v.length);
  const execs = (c: SshdCounts): number => c.execs + c.otherSessions;
  return {
    maxConnections: Math.max(0, ...v.map((c) => c.connections)),
    maxExecs: Math.max(0, ...v.map(execs)),
    meanConnections: v.reduce((s, c) => s + c.connections, 0) / n,
    meanExecs: v.reduce((s, c) => s + execs(c), 0) / n,
    maxSubsystems: Math.max(0, ...v.map((c) => c.subsystems)),
  };
}
