/**
 * ssh_config resolved by the real OpenSSH `ssh -G`, connecting to a real sshd (test/support/sshd.ts) on
 * 127.0.0.1: a Match block (which dpvs-deploy's own reader refuses) decides HostName, Port, key and
 * known_hosts; a ProxyCommand (a small node script that pipes to 127.0.0.1:PORT and records that it
 * ran) carries the connection, and is gone when the transport closes. Needs root, /usr/sbin/sshd and ssh.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedHost } from '../../src/inventory/types.js';
import { connectHost } from '../../src/transport/connect.js';
import { findSshBinary } from '../../src/transport/ssh-resolve.js';
import { type Sshd, startSshd } from '../support/sshd.js';

const ssh = findSshBinary();
let a: Sshd;
let work = '';
let cfg = '';
let proxyLog = '';

beforeAll(async () => {
  a = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'dd-sshg-'));
  const kh = join(work, 'known_hosts');
  writeFileSync(kh, `${a.knownHostsLine}\n`);
  proxyLog = join(work, 'proxy.log');
  const proxy = join(work, 'proxy.mjs');
  writeFileSync(
    proxy,
    [
      "import { connect } from 'node:net';",
      "import { appendFileSync } from 'node:fs';",
      'const [host, port] = process.argv.slice(2);',
      `appendFileSync(${JSON.stringify(proxyLog)}, \`\${process.pid} \${host} \${port}\\n\`);`,
      'const s = connect(Number(port), host);',
      'process.stdin.pipe(s);',
      's.pipe(process.stdout);',
      's.on("close", () => process.exit(0));',
      'process.stdin.on("end", () => s.end());',
      '',
    ].join('\n'),
  );
  cfg = join(work, 'ssh_config');
  writeFileSync(
    cfg,
    [
      // Match first: ssh takes the first value obtained
      'Match originalhost uxmatch user root',
      '  HostName 127.0.0.1',
      `  Port ${a.port}`,
      `  IdentityFile ${a.clientKey.privatePath}`,
      `  UserKnownHostsFile ${kh}`,
      'Host uxproxy',
      '  HostName 127.0.0.1',
      `  Port ${a.port}`,
      `  IdentityFile ${a.clientKey.privatePath}`,
      `  UserKnownHostsFile ${kh}`,
      `  ProxyCommand ${process.execPath} ${proxy} %h %p`,
      'Host *',
      '  Port 1',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await a?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function host(name: string, user = 'root'): ResolvedHost {
  return { name, address: name, roles: ['client'], groups: [], ssh: { user } };
}

describe.skipIf(ssh === null)('ssh_config through the real ssh -G, to a real sshd', () => {
  it('a Match block decides where and with which key and known_hosts to log in', async () => {
    const t = await connectHost(host('uxmatch'), { inventoryDir: work, sshConfigPath: cfg });
    try {
      const r = await t.exec('echo "$SSH_CONNECTION"');
      expect(r.stdout.trim().split(' ')[3]).toBe(String(a.port));
    } finally {
      await t.close();
    }
    // the same block does not match another user: ssh -G gives Host *'s port 1
    const other = await connectHost(host('uxmatch', 'deploy'), {
      inventoryDir: work,
      sshConfigPath: cfg,
    }).catch((e: unknown) => e as Error);
    expect(String(other)).toMatch(/127\.0\.0\.1:1|uxmatch:1/);
    // without an ssh binary, the built-in reader refuses the Match block by name
    const refused = await connectHost(host('uxmatch'), {
      inventoryDir: work,
      sshConfigPath: cfg,
      sshBinary: null,
    }).catch((e: unknown) => e as Error);
    expect(String(refused)).toContain('Match originalhost uxmatch user root: dpvs-deploy');
  });

  it('ProxyCommand carries the connection, with %h %p expanded, and is stopped on close', async () => {
    const t = await connectHost(host('uxproxy'), { inventoryDir: work, sshConfigPath: cfg });
    let pid = 0;
    try {
      const r = await t.exec('echo through-the-proxy');
      expect(r.stdout).toBe('through-the-proxy\n');
      const lines = readFileSync(proxyLog, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      const [p, h, port] = lines[0]!.split(' ');
      expect([h, port]).toEqual(['127.0.0.1', String(a.port)]);
      pid = Number(p);
      expect(() => process.kill(pid, 0)).not.toThrow();
    } finally {
      await t.close();
    }
    const deadline = Date.now() + 5000;
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
    expect(existsSync(proxyLog)).toBe(true);
  });
});
