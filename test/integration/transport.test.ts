/**
 * The SSH and local transports against REAL OpenSSH servers (test/support/sshd.ts) on 127.0.0.1.
 * Needs root and /usr/sbin/sshd (Debian: openssh-server, openssh-client, sudo).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshSettings } from '../../src/inventory/schema.js';
import type { ResolvedHost } from '../../src/inventory/types.js';
import { connectHost, type TranscriptEvent } from '../../src/transport/connect.js';
import { LocalTransport } from '../../src/transport/local.js';
import { type Transport, TransportError } from '../../src/transport/types.js';
import { type Sshd, childPids, freePort, generateKey, startSshd } from '../support/sshd.js';

let a: Sshd; // main server
let b: Sshd; // second server (jump target), MaxSessions 3
let work: string;
let knownHosts: string;
const open: Transport[] = [];

beforeAll(async () => {
  a = await startSshd();
  b = await startSshd({ maxSessions: 3, extraConfig: ['AllowTcpForwarding no'] });
  // a's client key may log in to b too (the jump test goes through a with the same key).
  writeFileSync(join(b.dir, 'authorized_keys'), `${b.clientKey.publicLine}\n${a.clientKey.publicLine}\n`);
  work = mkdtempSync(join(tmpdir(), 'dpvs-transport-'));
  knownHosts = join(work, 'known_hosts');
  writeFileSync(knownHosts, `${a.knownHostsLine}\n${b.knownHostsLine}\n`, { mode: 0o600 });
});

afterAll(async () => {
  for (const t of open) await t.close();
  await a?.stop();
  await b?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function host(port: number, ssh: Partial<SshSettings> = {}): ResolvedHost {
  return {
    name: 'lb1',
    address: '127.0.0.1',
    roles: ['balancer'],
    groups: [],
    ssh: {
      user: 'root',
      port,
      identity_file: a.clientKey.privatePath,
      known_hosts: knownHosts,
      use_ssh_config: false,
      ...ssh,
    },
  };
}

async function connect(
  h: ResolvedHost,
  extra: {
    onTranscript?: (e: TranscriptEvent) => void;
    hostKeyPolicy?: 'strict' | 'accept-new';
    onNotice?: (m: string) => void;
  } = {},
): Promise<Transport> {
  const t = await connectHost(h, { inventoryDir: work, ...extra });
  open.push(t);
  return t;
}

async function failure(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TransportError) return e;
    throw e;
  }
  throw new Error('expected a TransportError, got success');
}

/** OpenSSH's own fingerprint of a public key line. */
function sshKeygenFingerprint(pubFile: string): string {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' });
  return out.split(/\s+/)[1] ?? '';
}

/** Most commands running at once, from each output's first line (start) and last line (end) times. */
function maxOverlap(outputs: string[][]): number {
  const spans = outputs.map((lines) => {
    const nums = lines.filter((l) => /^\d+\.\d+$/.test(l)).map(Number);
    return [nums[0] ?? 0, nums[nums.length - 1] ?? 0] as const;
  });
  return Math.max(...spans.map(([s]) => spans.filter(([s2, e2]) => s2 <= s && s < e2).length));
}

describe('ssh transport: exec', () => {
  it('returns stdout, stderr and the exit code; stdin reaches the command', async () => {
    const t = await connect(host(a.port));
    const r = await t.exec('echo out; echo err >&2; exit 7');
    expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', code: 7 });
    const cat = await t.exec('tr a-z A-Z', { stdin: 'hello\n' });
    expect(cat.stdout).toBe('HELLO\n');
    expect(cat.code).toBe(0);
    await t.close();
  });

  it('runs 20 execs in parallel on ONE connection, at most MaxSessions at a time', async () => {
    const t = await connect(host(a.port));
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.exec(`date +%s.%N; sleep 1; echo ${i}; echo $SSH_CONNECTION; date +%s.%N`),
      ),
    );
    rs.forEach((r, i) => expect(r.stdout.split('\n')[1]).toBe(String(i)));
    // One TCP connection: every command saw the same client port.
    expect(new Set(rs.map((r) => r.stdout.split('\n')[2])).size).toBe(1);
    expect(t.stats).toEqual({ connections: 1, execs: 20, uploads: 0 });
    const peak = maxOverlap(rs.map((r) => r.stdout.split('\n')));
    expect(peak).toBeGreaterThan(1); // really parallel
    expect(peak).toBeLessThanOrEqual(10); // never above MaxSessions
    await t.close();
  });

  it("adapts to a server's lower MaxSessions (3) and still runs all 20", async () => {
    const t = await connect(host(b.port, { identity_file: b.clientKey.privatePath }));
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => t.exec(`date +%s.%N; sleep 0.3; echo ${i}; date +%s.%N`)),
    );
    expect(rs.map((r) => r.stdout.split('\n')[1])).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(maxOverlap(rs.map((r) => r.stdout.split('\n')))).toBeLessThanOrEqual(3);
    expect(t.stats.connections).toBe(1);
    await t.close();
  });

  it('stops a command at its timeout and names it', async () => {
    const t = await connect(host(a.port));
    const start = Date.now();
    const e = await failure(t.exec('sleep 30.25', { timeoutMs: 500 }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain('sleep 30.25');
    expect(Date.now() - start).toBeLessThan(5000);
    // The remote command was signalled, not left running (the server is this machine).
    let running = '';
    for (let i = 0; i < 100; i++) {
      running = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' });
      if (!running.includes('sleep 30.25')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(running).not.toContain('sleep 30.25');
    // The connection is still usable.
    expect((await t.exec('echo still-here')).stdout).toBe('still-here\n');
    await t.close();
  });

  it('applies command_timeout_s from the inventory', async () => {
    const t = await connect(host(a.port, { command_timeout_s: 0.5 }));
    const e = await failure(t.exec('sleep 20'));
    expect(e.kind).toBe('timeout');
    await t.close();
  });

  it('reports a connection lost mid-command as disconnected', async () => {
    const t = await connect(host(a.port));
    const running = t.exec('sleep 20');
    await new Promise((r) => setTimeout(r, 500));
    const sessions = childPids(a.pid);
    expect(sessions.length).toBeGreaterThan(0);
    for (const p of sessions) process.kill(p, 'SIGKILL');
    const e = await failure(running);
    expect(e.kind).toBe('disconnected');
    const after = await failure(t.exec('true'));
    expect(after.kind).toBe('disconnected');
    await t.close();
  });

  it('close() ends the connection promptly and the server session goes away', async () => {
    const t = await connect(host(a.port));
    await t.exec('true');
    const start = Date.now();
    await t.close();
    expect(Date.now() - start).toBeLessThan(1500);
    let left = childPids(a.pid);
    for (let i = 0; i < 40 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = childPids(a.pid);
    }
    expect(left).toEqual([]);
  });
});

describe('ssh transport: put and get', () => {
  it('writes atomically with the mode, keeps the previous copy, leaves no temp files', async () => {
    const t = await connect(host(a.port));
    const dir = mkdtempSync(join(tmpdir(), 'dpvs-put-'));
    const target = join(dir, 'dpvs.conf');
    await t.put(target, 'first\n', { mode: 0o640 });
    expect(readFileSync(target, 'utf8')).toBe('first\n');
    expect(statSync(target).mode & 0o7777).toBe(0o640);
    expect(existsSync(target + '.dpvs-deploy.bak')).toBe(false);

    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
    await t.put(target, big, { mode: 0o600 });
    expect(readFileSync(target).equals(big)).toBe(true);
    expect(statSync(target).mode & 0o7777).toBe(0o600);
    expect(readFileSync(target + '.dpvs-deploy.bak', 'utf8')).toBe('first\n');

    await t.put(target, 'third\n', { mode: 0o644, keepPrevious: false, owner: 'root:root' });
    expect(readFileSync(target, 'utf8')).toBe('third\n');
    expect(readFileSync(target + '.dpvs-deploy.bak', 'utf8')).toBe('first\n'); // keepPrevious: false
    expect(readdirSync(dir).sort()).toEqual(['dpvs.conf', 'dpvs.conf.dpvs-deploy.bak']);
    expect((await t.get(target)).toString()).toBe('third\n');
    expect(t.stats.uploads).toBe(3);
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  it('fails cleanly when the target directory does not exist', async () => {
    const t = await connect(host(a.port));
    const e = await failure(t.put(join(work, 'no-such-dir', 'f.conf'), 'x', { mode: 0o644 }));
    expect(e.kind).toBe('sftp');
    expect(e.message).toContain('no-such-dir');
    expect(existsSync(join(work, 'no-such-dir'))).toBe(false);
    const g = await failure(t.get(join(work, 'missing-file')));
    expect(g.kind).toBe('sftp');
    await t.close();
  });
});

describe('ssh transport: host keys', () => {
  it('refuses a changed host key, naming the file, line and the fingerprint seen', async () => {
    const other = generateKey(work, 'other_host_key');
    const kh = join(work, 'kh_mismatch');
    writeFileSync(kh, `# comment\n[127.0.0.1]:${a.port} ${other.publicLine}\n`);
    const e = await failure(connect(host(a.port, { known_hosts: kh })));
    expect(e.kind).toBe('host-key-mismatch');
    expect(e.message).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
    expect(e.message).toContain(`${kh}:2`);
    expect(e.message).toContain(sshKeygenFingerprint(a.hostKey.privatePath + '.pub'));
  });

  it('accepts a hashed known_hosts entry written by ssh-keygen -H', async () => {
    const kh = join(work, 'kh_hashed');
    writeFileSync(kh, `${a.knownHostsLine}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    expect(readFileSync(kh, 'utf8')).toMatch(/^\|1\|/);
    const t = await connect(host(a.port, { known_hosts: kh }));
    expect((await t.exec('echo ok')).stdout).toBe('ok\n');
    await t.close();
  });

  it('refuses an unknown host under strict, records it under accept-new', async () => {
    const kh = join(work, 'kh_new');
    const e = await failure(connect(host(a.port, { known_hosts: kh })));
    expect(e.kind).toBe('host-key-unknown');
    expect(e.message).toContain(sshKeygenFingerprint(a.hostKey.privatePath + '.pub'));
    expect(existsSync(kh)).toBe(false);

    const notices: string[] = [];
    const t = await connect(host(a.port, { known_hosts: kh }), {
      hostKeyPolicy: 'accept-new',
      onNotice: (m) => notices.push(m),
    });
    await t.close();
    // said like OpenSSH's "Permanently added", with the file and the fingerprint to check
    expect(notices).toEqual([
      `Warning: Permanently added '[127.0.0.1]:${a.port}' (ssh-ed25519) to the list of known hosts (${kh}; ${sshKeygenFingerprint(a.hostKey.privatePath + '.pub')}).`,
    ]);
    expect(statSync(kh).mode & 0o777).toBe(0o600);
    expect(readFileSync(kh, 'utf8')).toBe(`${a.knownHostsLine}\n`);
    // Recorded: strict now connects, and ssh-keygen finds the entry.
    const again: string[] = [];
    const t2 = await connect(host(a.port, { known_hosts: kh, host_key_policy: 'strict' }), {
      onNotice: (m) => again.push(m),
    });
    await t2.close();
    expect(again).toEqual([]);
    const found = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${a.port}`, '-f', kh], { encoding: 'utf8' });
    expect(found).toContain('ssh-ed25519');
  });
});

describe('ssh transport: connection errors', () => {
  it('auth failure names the user and the methods tried, never key material', async () => {
    const wrong = generateKey(work, 'wrong_client_key');
    const e = await failure(connect(host(a.port, { identity_file: wrong.privatePath })));
    expect(e.kind).toBe('auth');
    expect(e.message).toContain('root');
    expect(e.message).toContain(wrong.privatePath);
    expect(e.message).not.toMatch(/PRIVATE KEY|AAAA/);
  });

  it('connection refused on a closed port', async () => {
    const port = await freePort();
    const e = await failure(connect(host(port)));
    expect(e.kind).toBe('refused');
    expect(e.message).toContain(`127.0.0.1:${port}`);
  });

  it('a server that never speaks SSH times out after connect_timeout_s', async () => {
    const silent: Server = createServer((s) => s.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const addr = silent.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const start = Date.now();
    const e = await failure(connect(host(port, { connect_timeout_s: 1 })));
    expect(e.kind).toBe('unreachable');
    expect(Date.now() - start).toBeLessThan(4000);
    await new Promise((r) => silent.close(() => r(undefined)));
  });
});

describe('ssh transport: jump host', () => {
  it('reaches the target through the jump host (forwardOut), verifying both host keys', async () => {
    const h = host(b.port, { jump_host: `root@127.0.0.1:${a.port}` });
    const t = await connect(h);
    const r = await t.exec('echo $SSH_CONNECTION');
    expect(r.stdout.trim().split(' ')[3]).toBe(String(b.port));
    expect(t.stats.connections).toBe(2);
    await t.close();

    // The jump host's key is verified too.
    const kh = join(work, 'kh_only_target');
    writeFileSync(kh, `${b.knownHostsLine}\n`);
    const e = await failure(
      connect(host(b.port, { jump_host: `root@127.0.0.1:${a.port}`, known_hosts: kh })),
    );
    expect(e.kind).toBe('host-key-unknown');
    expect(e.message).toContain('jump host');

    // The path really goes through the jump host: through b (AllowTcpForwarding no) to a fails there.
    const viaB = await failure(
      connect(
        host(a.port, { jump_host: `root@127.0.0.1:${b.port}`, identity_file: a.clientKey.privatePath }),
      ),
    );
    expect(viaB.message).toContain(`could not reach 127.0.0.1:${a.port}`);
  });

  it('follows ProxyJump from an ssh_config file', async () => {
    const cfg = join(work, 'ssh_config');
    writeFileSync(
      cfg,
      [
        `Host target-via-jump`,
        `  HostName 127.0.0.1`,
        `  Port ${b.port}`,
        `  ProxyJump root@127.0.0.1:${a.port}`,
        '',
      ].join('\n'),
    );
    const h: ResolvedHost = {
      name: 'rs1',
      address: 'target-via-jump',
      roles: ['realserver'],
      groups: [],
      ssh: { user: 'root', identity_file: a.clientKey.privatePath, known_hosts: knownHosts },
    };
    const t = await connectHost(h, { inventoryDir: work, sshConfigPath: cfg });
    open.push(t);
    expect((await t.exec('echo $SSH_CONNECTION')).stdout.trim().split(' ')[3]).toBe(String(b.port));
    expect(t.stats.connections).toBe(2);
    await t.close();
  });
});

describe('ssh transport: sudo', () => {
  const password = 'Pw-never-shown-4711';

  it('wraps commands in sudo -n, and never lets the sudo password into transcripts', async () => {
    const events: TranscriptEvent[] = [];
    const t = await connect(host(a.port, { sudo: true, sudo_password: password }), {
      onTranscript: (e) => events.push(e),
    });
    const r = await t.exec('id -u; echo "$SUDO_USER"; ps -o args= -p $PPID');
    const [uid, sudoUser, parent] = r.stdout.split('\n');
    expect(uid).toBe('0');
    expect(sudoUser).toBe('root');
    expect(parent).toMatch(/^sudo -n -- sh -c /);
    // A command that prints the password itself is redacted in the transcript.
    await t.exec(`echo ${password}`);
    const dir = mkdtempSync(join(tmpdir(), 'dpvs-sudo-put-'));
    const target = join(dir, 'keepalived.conf');
    await t.put(target, 'one\n', { mode: 0o600 });
    await t.put(target, 'two\n', { mode: 0o644 });
    expect(readFileSync(target, 'utf8')).toBe('two\n');
    expect(statSync(target).mode & 0o7777).toBe(0o644);
    expect(readFileSync(target + '.dpvs-deploy.bak', 'utf8')).toBe('one\n');
    expect(readdirSync(dir).sort()).toEqual(['keepalived.conf', 'keepalived.conf.dpvs-deploy.bak']);
    expect((await t.get(target)).toString()).toBe('two\n');
    const missing = await failure(t.put(join(dir, 'nope', 'x'), 'x', { mode: 0o644 }));
    expect(missing.kind).toBe('sftp');
    rmSync(dir, { recursive: true, force: true });
    await t.close();

    expect(events.some((e) => e.sudo && e.command.startsWith('id -u'))).toBe(true);
    expect(events.some((e) => e.kind === 'put' && e.command.includes('keepalived.conf'))).toBe(true);
    const all = JSON.stringify(events);
    expect(all).not.toContain(password);
    expect(all).toContain('********');
  });
});

describe('local transport', () => {
  it('exec, timeout, atomic put with previous kept, get', async () => {
    const events: TranscriptEvent[] = [];
    const t = new LocalTransport({ onTranscript: (e) => events.push(e) });
    const r = await t.exec('echo out; echo err >&2; exit 3');
    expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', code: 3 });
    expect((await t.exec('cat', { stdin: 'in' })).stdout).toBe('in');
    const started = Date.now();
    const e = await failure(t.exec('sleep 30; echo never', { timeoutMs: 300 }));
    expect(e.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(10_000); // the whole process group was killed

    const dir = mkdtempSync(join(tmpdir(), 'dpvs-local-'));
    const target = join(dir, 'f');
    await t.put(target, 'a', { mode: 0o600 });
    await t.put(target, 'b', { mode: 0o644 });
    expect(readFileSync(target, 'utf8')).toBe('b');
    expect(statSync(target).mode & 0o7777).toBe(0o644);
    expect(readFileSync(target + '.dpvs-deploy.bak', 'utf8')).toBe('a');
    expect(readdirSync(dir).sort()).toEqual(['f', 'f.dpvs-deploy.bak']);
    expect((await t.get(target)).toString()).toBe('b');
    const bad = await failure(t.put(join(dir, 'none', 'f'), 'x', { mode: 0o644 }));
    expect(bad.kind).toBe('sftp');
    expect(t.stats).toEqual({ connections: 0, execs: 3, uploads: 3 });
    expect(events.filter((x) => x.kind === 'put')).toHaveLength(3);
    rmSync(dir, { recursive: true, force: true });
  });
});
