/** ssh_config keywords dpvs-deploy cannot honour are refused by name, never silently bypassed. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventoryBytes } from '../../src/inventory/load.js';
import { connectHost } from '../../src/transport/connect.js';
import { resolveSshConfig } from '../../src/transport/ssh-config.js';

const dir = mkdtempSync(join(tmpdir(), 'dd-sshcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const host = loadInventoryBytes(
  Buffer.from('version: 1\nhosts:\n  uxproxy: { address: 127.0.0.1, roles: [client], ssh: { port: 1 } }\n'),
  join(dir, 'inv.yaml'),
).hosts[0]!;

describe('ProxyCommand', () => {
  it('is read from the block that applies', () => {
    const r = resolveSshConfig('Host 127.0.0.1\n  ProxyCommand ssh -W %h:%p bastion\n', '127.0.0.1', {}, dir);
    expect(r.proxyCommand).toBe('ssh -W %h:%p bastion');
    expect(resolveSshConfig('Host other\n  ProxyCommand nc %h %p\n', '127.0.0.1', {}, dir).proxyCommand).toBe(
      undefined,
    );
    expect(resolveSshConfig('Host *\n  ProxyCommand none\n', '127.0.0.1', {}, dir).proxyCommand).toBe(
      undefined,
    );
  });

  it('makes connectHost refuse, naming the keyword and the way out, instead of connecting to HostName', async () => {
    const cfg = join(dir, 'config');
    writeFileSync(cfg, 'Host 127.0.0.1\n  ProxyCommand ssh -W %h:%p bastion\n');
    await expect(connectHost(host, { inventoryDir: dir, sshConfigPath: cfg })).rejects.toThrow(
      `uxproxy: ${cfg} sets ProxyCommand for 127.0.0.1 (ssh -W %h:%p bastion), which dpvs-deploy does not run: use ProxyJump there`,
    );
  });
});
