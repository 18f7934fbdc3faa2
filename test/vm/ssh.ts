/**
 * Runs commands in the guest with the system OpenSSH client, the generated key and the pinned
 * known_hosts (strict host key checking: a different guest key is refused).
 */
import { execFile } from 'node:child_process';

export interface GuestTarget {
  port: number;
  identity: string;
  knownHosts: string;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function sshArgv(t: GuestTarget, command: string, connectTimeoutS = 5): string[] {
  return [
    ...['-p', String(t.port), '-i', t.identity],
    ...['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', `ConnectTimeout=${connectTimeoutS}`],
    ...['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${t.knownHosts}`],
    ...['-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-F', '/dev/null'],
    'root@127.0.0.1',
    '--',
    command,
  ];
}

/** `command` is one remote shell string (the caller quotes). Never rejects: the code says. */
export function guestSsh(t: GuestTarget, command: string, timeoutMs = 120_000): Promise<SshResult> {
  return new Promise((resolvePromise) => {
    execFile(
      'ssh',
      sshArgv(t, command),
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code =
          err === null
            ? 0
            : typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : 255;
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Copies local files into the guest (scp -r). */
export function guestCopy(t: GuestTarget, local: string[], remoteDir: string): Promise<SshResult> {
  return new Promise((resolvePromise) => {
    execFile(
      'scp',
      [
        ...['-q', '-r', '-P', String(t.port), '-i', t.identity, '-o', 'BatchMode=yes'],
        ...['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${t.knownHosts}`, '-F', '/dev/null'],
        ...local,
        `root@127.0.0.1:${remoteDir}`,
      ],
      { timeout: 120_000 },
      (err, stdout, stderr) =>
        resolvePromise({ code: err ? 1 : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

/** The known_hosts line pinning the guest's host key at 127.0.0.1:<port>. */
export function knownHostsLine(port: number, hostKeyPub: string): string {
  const [type, key] = hostKeyPub.trim().split(/\s+/);
  if (!type || !key) throw new Error('malformed host public key');
  return `[127.0.0.1]:${port} ${type} ${key}\n`;
}
