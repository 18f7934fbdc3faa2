import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  knownHostsName,
  knownKeyTypes,
  loadKnownHosts,
  parseKnownHosts,
} from '../../../src/transport/known-hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'dpvs-kh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real key pair from ssh-keygen: [public line, blob]. */
function key(name: string, type = 'ed25519'): { line: string; blob: Buffer; file: string } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const line = readFileSync(file + '.pub', 'utf8').trim();
  const [t, b64] = line.split(' ');
  return { line: `${t} ${b64}`, blob: Buffer.from(b64 ?? '', 'base64'), file: file + '.pub' };
}

const k1 = key('k1');
const k2 = key('k2');
const k3 = key('k3', 'ecdsa');

describe('known_hosts parsing and matching', () => {
  it('names hosts as OpenSSH does', () => {
    expect(knownHostsName('lb1', 22)).toBe('lb1');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('fingerprints like ssh-keygen -l', () => {
    const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k1.file], { encoding: 'utf8' });
    expect(fingerprint(k1.blob)).toBe(out.split(' ')[1]);
  });

  it('matches comma lists, wildcards, negation and [host]:port', () => {
    const text = [
      '# comment',
      '',
      `lb1,10.0.0.1 ${k1.line}`,
      `[10.0.0.2]:2222 ${k2.line}`,
      `*.example.com,!bad.example.com ${k3.line}`,
      'garbage line',
    ].join('\n');
    const e = parseKnownHosts(text, 'kh');
    expect(e.map((x) => x.line)).toEqual([3, 4, 5]);
    expect(checkHostKey(e, '10.0.0.1', k1.blob).status).toBe('match');
    expect(checkHostKey(e, 'lb1', k1.blob).status).toBe('match');
    expect(checkHostKey(e, '[10.0.0.2]:2222', k2.blob).status).toBe('match');
    // port matters: the same address on port 22 is unknown
    expect(checkHostKey(e, '10.0.0.2', k2.blob).status).toBe('unknown');
    expect(checkHostKey(e, 'a.example.com', k3.blob).status).toBe('match');
    expect(checkHostKey(e, 'bad.example.com', k3.blob).status).toBe('unknown');
  });

  it('tells a mismatch (same key type, other key) from an unknown host', () => {
    const e = parseKnownHosts(`lb1 ${k1.line}\n`, '/x/known_hosts');
    const v = checkHostKey(e, 'lb1', k2.blob);
    expect(v.status).toBe('mismatch');
    if (v.status === 'mismatch') expect(v.entry).toMatchObject({ file: '/x/known_hosts', line: 1 });
    expect(checkHostKey(e, 'lb2', k2.blob).status).toBe('unknown');
    // only another key type recorded: unknown, with the other types reported
    const other = checkHostKey(e, 'lb1', k3.blob);
    expect(other.status).toBe('unknown');
    if (other.status === 'unknown') expect(other.otherTypes.map((o) => o.keyType)).toEqual(['ssh-ed25519']);
  });

  it('accepts any of several keys for one host', () => {
    const e = parseKnownHosts(`lb1 ${k1.line}\nlb1 ${k2.line}\n`, 'kh');
    expect(checkHostKey(e, 'lb1', k2.blob).status).toBe('match');
    expect(knownKeyTypes(e, 'lb1')).toEqual(['ssh-ed25519']);
  });

  it('refuses @revoked keys and recognises @cert-authority', () => {
    const e = parseKnownHosts(
      `lb1 ${k1.line}\n@revoked * ${k1.line}\n@cert-authority *.corp ${k2.line}\n`,
      'kh',
    );
    expect(checkHostKey(e, 'lb1', k1.blob).status).toBe('revoked');
    const ca = checkHostKey(e, 'x.corp', k3.blob);
    expect(ca).toMatchObject({ status: 'unknown', certAuthority: true });
  });

  it('matches hashed entries written by ssh-keygen -H', async () => {
    const f = join(dir, 'hashed');
    writeFileSync(f, `lb1 ${k1.line}\n[10.9.8.7]:2200 ${k2.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
    const text = readFileSync(f, 'utf8');
    expect(text).not.toContain('lb1');
    expect(text.split('\n').filter((l) => l.startsWith('|1|'))).toHaveLength(2);
    const e = await loadKnownHosts([f, join(dir, 'missing')]);
    expect(checkHostKey(e, 'lb1', k1.blob).status).toBe('match');
    expect(checkHostKey(e, '[10.9.8.7]:2200', k2.blob).status).toBe('match');
    expect(checkHostKey(e, 'lb1', k2.blob).status).toBe('mismatch');
    expect(checkHostKey(e, 'lb2', k1.blob).status).toBe('unknown');
  });

  it('appends atomically with mode 0600, serialising concurrent appends, readable by ssh-keygen', async () => {
    const f = join(dir, 'sub', 'known_hosts');
    await Promise.all([appendKnownHost(f, 'lb1', k1.blob), appendKnownHost(f, '[10.0.0.5]:2222', k2.blob)]);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const e = await loadKnownHosts([f]);
    expect(e).toHaveLength(2);
    expect(checkHostKey(e, 'lb1', k1.blob).status).toBe('match');
    expect(checkHostKey(e, '[10.0.0.5]:2222', k2.blob).status).toBe('match');
    const found = execFileSync('ssh-keygen', ['-F', '[10.0.0.5]:2222', '-f', f], { encoding: 'utf8' });
    expect(found).toContain('ssh-ed25519');
  });
});
