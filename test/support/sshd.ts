/**
 * A throwaway real OpenSSH server for tests: /usr/sbin/sshd on 127.0.0.1 on a free port, with its own
 * host key, sshd_config, authorized_keys and PID file in a temp directory, run in the foreground
 * (-D -e) as a child of the test process. `stop()` kills it by PID and waits for it to exit.
 *
 * Needs root (sshd's privilege separation) and the privilege separation directory /run/sshd, which is
 * created when missing (Debian creates it at boot via systemd-tmpfiles).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SSHD_BIN = '/usr/sbin/sshd';

/** The one check for suites that start their own sshd: root (sshd's privilege separation) and the binary. */
export const canStartSshd: boolean = process.getuid?.() === 0 && existsSync(SSHD_BIN);

export interface KeyFiles {
  /** Private key file (OpenSSH format, no passphrase). */
  privatePath: string;
  /** "ssh-ed25519 AAAA... comment" */
  publicLine: string;
  /** The decoded public key blob. */
  blob: Buffer;
}

/** Generate an ed25519 key pair with ssh-keygen in `dir`. */
export function generateKey(dir: string, name: string): KeyFiles {
  const privatePath = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', privatePath]);
  const publicLine = readFileSync(privatePath + '.pub', 'utf8').trim();
  const b64 = publicLine.split(/\s+/)[1] ?? '';
  return { privatePath, publicLine, blob: Buffer.from(b64, 'base64') };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** PIDs of the direct children of `pid` (Linux /proc; the tests run on Linux). */
export function childPids(pid: number): number[] {
  if (!existsSync('/proc')) return [];
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // the process went away
    }
  }
  return out;
}

export interface SshdOptions {
  /** MaxSessions in sshd_config (default 10). */
  maxSessions?: number;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
}

export interface Sshd {
  port: number;
  pid: number;
  dir: string;
  hostKey: KeyFiles;
  /** A key authorized for root. */
  clientKey: KeyFiles;
  /** known_hosts line for this server (`[127.0.0.1]:PORT ssh-ed25519 ...`). */
  knownHostsLine: string;
  /** Everything sshd wrote to stderr so far (for debugging a failing test). */
  log(): string;
  stop(): Promise<void>;
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'dpvs-sshd-'));
  const hostKey = generateKey(dir, 'host_ed25519');
  const clientKey = generateKey(dir, 'client_ed25519');
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, clientKey.publicLine + '\n', { mode: 0o600 });
  const port = await freePort();
  const cfg = join(dir, 'sshd_config');
  writeFileSync(
    cfg,
    [
      // sshd uses the first value it reads for most keywords: extra lines go first to override.
      ...(options.extraConfig ?? []),
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey.privatePath}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AllowTcpForwarding yes',
      'AllowAgentForwarding no',
      `MaxSessions ${options.maxSessions ?? 10}`,
      'MaxStartups 100',
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(SSHD_BIN, ['-D', '-e', '-f', cfg], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
  if (pid === undefined) throw new Error('sshd did not start');
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited) throw new Error(`sshd exited at start:\n${stderr}`);
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`sshd did not listen on 127.0.0.1:${port}:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    pid,
    dir,
    hostKey,
    clientKey,
    knownHostsLine: `[127.0.0.1]:${port} ${hostKey.publicLine.split(/\s+/).slice(0, 2).join(' ')}`,
    log: () => stderr,
    async stop(): Promise<void> {
      if (!exited) {
        // Session processes (one per connection) outlive the listener: stop them too, by PID.
        const sessions = childPids(pid);
        process.kill(pid, 'SIGTERM');
        for (const p of sessions) {
          try {
            process.kill(p, 'SIGTERM');
          } catch {
            // already gone
          }
        }
        const t = setTimeout(() => {
          if (!exited) process.kill(pid, 'SIGKILL');
        }, 3000);
        await exitPromise;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
