/**
 * ssh_config as ssh resolves it. With an `ssh` binary (here a fake one on PATH that prints canned
 * `ssh -G` output and records how it was called), connectHost uses `ssh -G`'s answer: Match, ProxyCommand
 * and the rest are ssh's business. Without one, the built-in reader refuses by name what it cannot
 * honour, never silently connecting somewhere else. test/integration/ssh-resolve.test.ts does the same
 * with the real ssh against a real sshd.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventoryBytes } from '../../../src/inventory/load.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { connectHost } from '../../../src/transport/connect.js';
import { resolveSshConfig } from '../../../src/transport/ssh-config.js';
import { findSshBinary, parseSshG, sshGArgs } from '../../../src/transport/ssh-resolve.js';

const dir = mkdtempSync(join(tmpdir(), 'dd-sshcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hostOf(yamlSsh: string, name = 'uxproxy', address = '127.0.0.1'): ResolvedHost {
  return loadInventoryBytes(
    Buffer.from(
      `version: 1\nhosts:\n  ${name}: { address: ${address}, roles: [client], ssh: { ${yamlSsh} } }\n`,
    ),
    join(dir, 'inv.yaml'),
  ).hosts[0]!;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
    });
  });
}

/**
 * A fake `ssh` in its own directory: records its argv, prints `output` for -G (or, when the last
 * argument is a key of `perHost`, that).
 */
function fakeSsh(
  output: string,
  perHost: Record<string, string> = {},
): { bin: string; dir: string; argv(): string[] } {
  const d = mkdtempSync(join(dir, 'bin-'));
  const bin = join(d, 'ssh');
  writeFileSync(join(d, 'out'), output);
  for (const [h, o] of Object.entries(perHost)) writeFileSync(join(d, `out-${h}`), o);
  writeFileSync(
    bin,
    `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "${d}/argv"\n[ "$1" = -G ] || exit 9\n` +
      `for last; do :; done\nif [ -f "${d}/out-$last" ]; then cat "${d}/out-$last"; else cat "${d}/out"; fi\n`,
  );
  chmodSync(bin, 0o755);
  return { bin, dir: d, argv: () => readFileSync(join(d, 'argv'), 'utf8').trimEnd().split('\n') };
}

describe('without an ssh binary: the built-in reader refuses what it cannot honour, by name', () => {
  it('ProxyCommand is read from the block that applies', () => {
    const r = resolveSshConfig('Host 127.0.0.1\n  ProxyCommand ssh -W %h:%p bastion\n', '127.0.0.1', {}, dir);
    expect(r.proxyCommand).toBe('ssh -W %h:%p bastion');
    expect(resolveSshConfig('Host other\n  ProxyCommand nc %h %p\n', '127.0.0.1', {}, dir).proxyCommand).toBe(
      undefined,
    );
    expect(resolveSshConfig('Host *\n  ProxyCommand none\n', '127.0.0.1', {}, dir).proxyCommand).toBe(
      undefined,
    );
  });

  it('ProxyCommand: connectHost refuses, naming it, instead of connecting to HostName', async () => {
    const cfg = join(dir, 'config-proxy');
    writeFileSync(cfg, 'Host 127.0.0.1\n  ProxyCommand ssh -W %h:%p bastion\n');
    const e = await connectHost(hostOf('port: 1'), {
      inventoryDir: dir,
      sshConfigPath: cfg,
      sshBinary: null,
    }).catch((x: unknown) => x as Error);
    expect(String(e)).toContain(
      `uxproxy: ssh_config (${cfg}) for 127.0.0.1 sets what dpvs-deploy cannot honour`,
    );
    expect(String(e)).toContain('ProxyCommand ssh -W %h:%p bastion');
    expect(String(e)).toContain('no ssh binary on PATH');
    expect(String(e)).toContain('ssh.use_ssh_config: false');
  });

  it('Match other than `all` is refused, naming the block; Match all is honoured', async () => {
    const cfg = join(dir, 'config-match');
    writeFileSync(cfg, 'Match user deploy host 10.*\n  IdentityFile ~/.ssh/deploy\nHost *\n  Port 2222\n');
    const e = await connectHost(hostOf('port: 1', 'uxmatch'), {
      inventoryDir: dir,
      sshConfigPath: cfg,
      sshBinary: null,
    }).catch((x: unknown) => x as Error);
    expect(String(e)).toContain('Match user deploy host 10.*: dpvs-deploy');
    expect(String(e)).toContain('evaluates only `Match all`');
    expect(String(e)).not.toContain('no SSH key');
    const all = resolveSshConfig('Match all\n  Port 2200\n', 'x', {}, dir);
    expect(all.port).toBe(2200);
    expect(all.unsupported).toBeUndefined();
  });

  it('IdentityAgent, CanonicalizeHostname, CertificateFile, PKCS11Provider, HostKeyAlias are named', () => {
    const r = resolveSshConfig(
      'Host *\n  IdentityAgent ~/a.sock\n  CanonicalizeHostname yes\n  CertificateFile ~/c\n  PKCS11Provider /p.so\n  HostKeyAlias lb\n',
      'x',
      {},
      dir,
    );
    expect(r.unsupported?.map((u) => u.split(' ')[0])).toEqual([
      'CanonicalizeHostname',
      'IdentityAgent',
      'CertificateFile',
      'PKCS11Provider',
      'HostKeyAlias',
    ]);
    expect(resolveSshConfig('Host *\n  CanonicalizeHostname no\n', 'x', {}, dir).unsupported).toBeUndefined();
  });
});

describe('with an ssh binary: ssh -G decides', () => {
  it('finds ssh on PATH (any directory, no Linux path assumed), or none', () => {
    const f = fakeSsh('');
    expect(findSshBinary({ PATH: `/nonexistent${':'}${f.dir}` })).toBe(f.bin);
    expect(findSshBinary({ PATH: '/nonexistent' })).toBe(null);
  });

  it('asks ssh -G with the inventory user and port (they take part in Match), -F only for a file ssh would not read', () => {
    const own = join(userInfo().homedir, '.ssh', 'config');
    expect(
      sshGArgs('lb1', { user: 'deploy', port: 2222 }, { configPath: own, explicitConfig: false }),
    ).toEqual(['-G', '-l', 'deploy', '-p', '2222', '--', 'lb1']);
    const mine = join(dir, 'config-proxy');
    expect(sshGArgs('lb1', {}, { configPath: mine, explicitConfig: true })).toEqual([
      '-G',
      '-F',
      mine,
      '--',
      'lb1',
    ]);
    expect(sshGArgs('lb1', {}, { configPath: join(dir, 'missing'), explicitConfig: false })).toEqual([
      '-G',
      '-F',
      'none',
      '--',
      'lb1',
    ]);
  });

  it("parses ssh -G: ssh's default key list and known_hosts count as unset; tokens expand; certificates refused", () => {
    const acct = userInfo().homedir;
    const out = [
      'host uxmatch',
      'user deploy',
      'hostname 10.9.8.7',
      'port 2202',
      'identityfile ~/.ssh/id_rsa',
      'identityfile ~/.ssh/id_ed25519',
      `userknownhostsfile ${acct}/.ssh/known_hosts ${acct}/.ssh/known_hosts2`,
      'stricthostkeychecking false',
      'connecttimeout none',
      'identitiesonly yes',
      'proxycommand node /x.js %h %p',
    ].join('\n');
    const r = parseSshG(out, 'uxmatch', {}, '/home/ci');
    expect(r).toMatchObject({
      source: 'ssh -G',
      user: 'deploy',
      hostName: '10.9.8.7',
      port: 2202,
      identityFiles: [],
      userKnownHostsFiles: ['/home/ci/.ssh/known_hosts', '/home/ci/.ssh/known_hosts2'],
      strictHostKeyChecking: 'no',
      identitiesOnly: true,
      proxyCommand: 'node /x.js %h %p',
      refusals: [],
    });
    expect(r.connectTimeoutS).toBeUndefined();
    const own = parseSshG(
      'identityfile ~/.ssh/k_%h_%r\nhostname h1\nuser u\ncertificatefile ~/c.pub\n',
      'a',
      {},
      '/h',
    );
    expect(own.identityFiles).toEqual(['/h/.ssh/k_h1_u']);
    expect(own.refusals).toEqual([
      'CertificateFile ~/c.pub: certificate authentication is not supported: use a plain key (IdentityFile)',
    ]);
  });

  it("connectHost connects where ssh -G says (a Match block's HostName and Port), with ssh -G's key", async () => {
    const port = await closedPort();
    const key = join(dir, 'id_test');
    const { execFileSync } = await import('node:child_process');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const f = fakeSsh(`hostname 127.0.0.1\nport ${port}\nuser matched\nidentityfile ${key}\n`);
    const cfg = join(dir, 'config-any');
    writeFileSync(cfg, '# the fake ssh does not read it\n');
    const e = await connectHost(hostOf('user: root', 'uxmatch', 'uxmatch.example'), {
      inventoryDir: dir,
      sshConfigPath: cfg,
      sshBinary: f.bin,
    }).catch((x: unknown) => x as Error);
    expect(String(e)).toMatch(
      new RegExp(
        `127\\.0\\.0\\.1:${port}.*(refused|ECONNREFUSED)|(refused|ECONNREFUSED).*127\\.0\\.0\\.1:${port}`,
        's',
      ),
    );
    expect(f.argv()).toEqual(['-G', '-F', cfg, '-l', 'root', '--', 'uxmatch.example']);
  });

  it('runs the ProxyCommand ssh -G gives (tokens expanded) and reports its failure with its stderr', async () => {
    const f = fakeSsh(
      "hostname 127.0.0.9\nport 2222\nuser root\nproxycommand sh -c 'echo proxied-to-%h-%p-as-%r >&2; exit 3'\n",
    );
    const e = await connectHost(hostOf('identity_file: id_test', 'uxproxy', 'uxproxy'), {
      inventoryDir: dir,
      sshConfigPath: join(dir, 'config-any'),
      sshBinary: f.bin,
    }).catch((x: unknown) => x as Error);
    expect(String(e)).toContain('proxied-to-127.0.0.9-2222-as-root');
  });

  it('a ProxyCommand is not run when the inventory names a jump host', async () => {
    const marker = join(dir, 'proxy-ran');
    const port = await closedPort();
    const f = fakeSsh(`hostname 127.0.0.9\nport 2222\nuser root\nproxycommand touch ${marker}\n`, {
      '127.0.0.1': `hostname 127.0.0.1\nport ${port}\nuser root\n`,
    });
    const e = await connectHost(hostOf(`identity_file: id_test, jump_host: 'root@127.0.0.1:${port}'`), {
      inventoryDir: dir,
      sshConfigPath: join(dir, 'config-any'),
      sshBinary: f.bin,
    }).catch((x: unknown) => x as Error);
    expect(String(e)).toContain(`connection refused by 127.0.0.1:${port}`);
    expect(existsSync(marker)).toBe(false);
  });

  it('ssh -G failing (a broken config) is an error naming the command', async () => {
    const d = mkdtempSync(join(dir, 'bad-'));
    const bin = join(d, 'ssh');
    writeFileSync(bin, '#!/bin/sh\necho "config line 3: Bad configuration option: nonsense" >&2\nexit 255\n');
    chmodSync(bin, 0o755);
    await expect(
      connectHost(hostOf('port: 1'), {
        inventoryDir: dir,
        sshConfigPath: join(dir, 'config-any'),
        sshBinary: bin,
      }),
    ).rejects.toThrow(/ssh -G .* failed: config line 3: Bad configuration option: nonsense/);
  });
});
