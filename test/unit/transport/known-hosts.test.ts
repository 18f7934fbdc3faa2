import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  entryMatchesHost,
  fingerprint,
  fsKnownHostsIo,
  KnownHostsCache,
  knownHostsCache,
  knownHostsFor,
  type KnownHostsIo,
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

describe('known_hosts parsed once per process', () => {
  /** the file system, counting reads */
  const counting = (): KnownHostsIo & { reads: string[] } => {
    const reads: string[] = [];
    return {
      reads,
      identity: (f) => fsKnownHostsIo.identity(f),
      read: (f) => {
        reads.push(f);
        return fsKnownHostsIo.read(f);
      },
    };
  };

  it('connections to two hosts share one read and one parse; each gets only its own lines', async () => {
    const f = join(dir, 'shared');
    writeFileSync(f, `lb1 ${k1.line}\nlb2 ${k2.line}\nlb3 ${k3.line}\n`);
    const io = counting();
    const cache = new KnownHostsCache(io);
    const [a, b] = await Promise.all([knownHostsFor([f], 'lb1', cache), knownHostsFor([f], 'lb2', cache)]);
    expect(a.map((e) => e.line)).toEqual([1]);
    expect(b.map((e) => e.line)).toEqual([2]);
    expect(checkHostKey(a, 'lb1', k1.blob).status).toBe('match');
    expect(checkHostKey(b, 'lb2', k1.blob).status).toBe('mismatch');
    const c = await knownHostsFor([f], 'lb3', cache);
    expect(c.map((e) => e.keyType)).toEqual(['ecdsa-sha2-nistp256']);
    expect(io.reads).toEqual([f]);
    expect(cache.parses).toBe(1);
  });

  it('reads a file again after an accept-new append and after another process rewrote it', async () => {
    const f = join(dir, 'appended', 'known_hosts');
    // the process-wide cache, as openSshClient and appendKnownHost use it
    const before = knownHostsCache.parses;
    expect(await knownHostsFor([f], 'lb1')).toEqual([]); // no file yet
    await appendKnownHost(f, 'lb1', k1.blob);
    expect((await knownHostsFor([f], 'lb1')).map((e) => e.line)).toEqual([1]);
    expect(await knownHostsFor([f], 'lb2')).toEqual([]);
    expect(knownHostsCache.parses).toBe(before + 1);
    await appendKnownHost(f, 'lb2', k2.blob);
    expect((await knownHostsFor([f], 'lb2')).map((e) => e.line)).toEqual([2]);
    expect(knownHostsCache.parses).toBe(before + 2);

    // another process (ssh-keygen -R, an editor) rewrote it in place: a new size, or only a new mtime
    const io = counting();
    const cache = new KnownHostsCache(io);
    expect(checkHostKey(await knownHostsFor([f], 'lb1', cache), 'lb1', k1.blob).status).toBe('match');
    writeFileSync(f, `lb1 ${k3.line}\n`);
    expect(checkHostKey(await knownHostsFor([f], 'lb1', cache), 'lb1', k1.blob).status).toBe('unknown');
    const sameSize = `lb9 ${k3.line}\n`;
    writeFileSync(f, sameSize);
    const t = new Date(Date.now() + 5000);
    utimesSync(f, t, t);
    expect(await knownHostsFor([f], 'lb1', cache)).toEqual([]);
    expect((await knownHostsFor([f], 'lb9', cache)).map((e) => e.line)).toEqual([1]);
    expect(io.reads).toHaveLength(3);
    // unchanged: no read
    await knownHostsFor([f], 'lb9', cache);
    expect(io.reads).toHaveLength(3);
  });

  it('gives each host what filtering the whole parse gives: markers, patterns, negation, hashed, ports', async () => {
    const f = join(dir, 'mixed');
    const hashedLb7 = join(dir, 'mixed-hashed');
    writeFileSync(hashedLb7, `lb7 ${k2.line}\n[10.9.8.7]:2200 ${k1.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', hashedLb7], { stdio: 'ignore' });
    const hashed = readFileSync(hashedLb7, 'utf8').trim().split('\n');
    writeFileSync(
      f,
      [
        `LB1,10.0.0.1 ${k1.line}`,
        `@revoked lb1,!nothing ${k2.line}`,
        `@cert-authority *.corp ${k3.line}`,
        `lb1 ${k3.line}`,
        `*.example.com,!bad.example.com ${k3.line}`,
        `[10.0.0.2]:2222 ${k2.line}`,
        `kh1 ${k2.line}`,
        ...hashed,
        `@revoked lb7 ${k1.line}`,
        '@bogus lb1 x',
        '',
      ].join('\n'),
    );
    const all = parseKnownHosts(readFileSync(f, 'utf8'), f);
    const cache = new KnownHostsCache();
    const names = ['lb1', 'Lb1', '10.0.0.1', 'x.corp', 'a.example.com', 'bad.example.com', '[10.0.0.2]:2222'];
    // KELVIN SIGN lower-cases to k, but the patterns' case-insensitive match does not take it for K
    names.push('10.0.0.2', 'lb7', '[10.9.8.7]:2200', 'nowhere', 'KH1', '\u212Ah1');
    for (const n of names) {
      const got = await knownHostsFor([f], n, cache);
      expect(got, n).toEqual(all.filter((e) => entryMatchesHost(e, n)));
      for (const k of [k1, k2, k3])
        expect(checkHostKey(got, n, k.blob), n).toEqual(checkHostKey(all, n, k.blob));
    }
    expect(await knownHostsFor([f], '\u212Ah1', cache)).toEqual([]);
    expect((await knownHostsFor([f], 'KH1', cache)).map((e) => e.hosts)).toEqual(['kh1']);
    expect(cache.parses).toBe(1);
    // the markers, through the cache
    expect(checkHostKey(await knownHostsFor([f], 'lb1', cache), 'lb1', k2.blob).status).toBe('revoked');
    expect(checkHostKey(await knownHostsFor([f], 'x.corp', cache), 'x.corp', k1.blob)).toMatchObject({
      status: 'unknown',
      certAuthority: true,
    });
    expect(checkHostKey(await knownHostsFor([f], 'lb7', cache), 'lb7', k2.blob).status).toBe('match');
    expect(checkHostKey(await knownHostsFor([f], 'lb7', cache), 'lb7', k1.blob).status).toBe('revoked');
    expect(
      checkHostKey(await knownHostsFor([f], '[10.9.8.7]:2200', cache), '[10.9.8.7]:2200', k1.blob).status,
    ).toBe('match');
  });

  it('a file that cannot be read is an error, and is tried again next time', async () => {
    let fail = true;
    const io: KnownHostsIo = {
      identity: () => Promise.resolve('1'),
      read: () =>
        fail
          ? Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))
          : Promise.resolve({ text: `lb1 ${k1.line}\n`, identity: '1' }),
    };
    const cache = new KnownHostsCache(io);
    await expect(knownHostsFor(['/kh'], 'lb1', cache)).rejects.toThrow(/EACCES/);
    fail = false;
    expect((await knownHostsFor(['/kh'], 'lb1', cache)).map((e) => e.line)).toEqual([1]);
  });
});
