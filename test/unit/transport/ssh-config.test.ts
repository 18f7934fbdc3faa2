import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHop } from '../../../src/transport/connect.js';
import { expandTokens, hostPatternsMatch, resolveSshConfig } from '../../../src/transport/ssh-config.js';
import { stdinFor, sudoFailure, timeboxCommand, wrapCommand } from '../../../src/transport/sudo.js';

const home = mkdtempSync(join(tmpdir(), 'dpvs-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const config = `
# global defaults come first only if written first
User globaluser

Host lb? !lb9
  HostName %h.dc1.example.net
  Port 2201
  IdentityFile ~/.ssh/lb_%r_%p
  ProxyJump bastion

Host *.internal
  User internal
  StrictHostKeyChecking accept-new

Host lb1
  Port 9999
  User notused
  IdentityFile ~/.ssh/second

Host *
  UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2
  Port 22
`;

describe('ssh_config', () => {
  it('matches Host patterns with * ? and negation', () => {
    expect(hostPatternsMatch('lb1', ['lb?', '!lb9'])).toBe(true);
    expect(hostPatternsMatch('lb9', ['lb?', '!lb9'])).toBe(false);
    expect(hostPatternsMatch('lb10', ['lb?'])).toBe(false);
    expect(hostPatternsMatch('a.internal', ['*.internal'])).toBe(true);
    expect(hostPatternsMatch('anything', ['!x'])).toBe(false); // only negations never match
  });

  it('takes the first obtained value; IdentityFile accumulates; tokens expand', () => {
    const r = resolveSshConfig(config, 'lb1', {}, home);
    expect(r.user).toBe('globaluser'); // the global line came first
    expect(r.hostName).toBe('lb1.dc1.example.net');
    expect(r.port).toBe(2201); // not 9999 nor 22: first wins
    expect(r.proxyJump).toBe('bastion');
    expect(r.identityFiles).toEqual([join(home, '.ssh/lb_globaluser_2201'), join(home, '.ssh/second')]);
    expect(r.userKnownHostsFiles).toEqual([join(home, '.ssh/kh1'), join(home, '.ssh/kh2')]);
  });

  it('uses inventory values (user, port) for %r and %p', () => {
    const r = resolveSshConfig(config, 'lb2', { user: 'deploy', port: 22022 }, home);
    expect(r.identityFiles).toEqual([join(home, '.ssh/lb_deploy_22022')]);
  });

  it('negated hosts and non-matching hosts get only the catch-all', () => {
    const r = resolveSshConfig(config, 'lb9', {}, home);
    expect(r.hostName).toBeUndefined();
    expect(r.port).toBe(22);
    const i = resolveSshConfig(config, 'db.internal', {}, home);
    expect(i.user).toBe('globaluser');
    expect(i.strictHostKeyChecking).toBe('accept-new');
  });

  it('accepts Keyword=value, quotes, Match all, skips other Match blocks, follows Include', () => {
    mkdirSync(join(home, '.ssh', 'conf.d'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'conf.d', 'a.conf'), 'Host inc\n  HostName included.example\n');
    const text = [
      'Include conf.d/*.conf',
      'Match user nobody',
      '  Port 1111',
      'Match all',
      '  IdentityFile="~/.ssh/with space"',
      'Host x',
      '  HostName=x.example',
    ].join('\n');
    expect(resolveSshConfig(text, 'inc', {}, home).hostName).toBe('included.example');
    const x = resolveSshConfig(text, 'x', {}, home);
    expect(x.hostName).toBe('x.example');
    expect(x.port).toBeUndefined();
    expect(x.identityFiles).toEqual([join(home, '.ssh/with space')]);
  });

  it('expands %h %p %r %n %% and ~', () => {
    expect(
      expandTokens('~/k_%h_%p_%r_%n_%%', {
        host: 'h.example',
        originalHost: 'h',
        port: 2,
        user: 'u',
        home: '/H',
      }),
    ).toBe('/H/k_h.example_2_u_h_%');
  });

  it('parses jump host specs', () => {
    expect(parseHop('bastion')).toEqual({ host: 'bastion' });
    expect(parseHop('ops@bastion:2222')).toEqual({ user: 'ops', host: 'bastion', port: 2222 });
    expect(parseHop('[fd00::1]:22')).toEqual({ host: 'fd00::1', port: 22 });
  });
});

describe('sudo wrapping', () => {
  it('wraps the command, quoted, after --', () => {
    expect(wrapCommand(`echo 'a b'`, 'none')).toBe(`echo 'a b'`);
    expect(wrapCommand(`echo 'a b'`, 'nopasswd')).toBe(`sudo -n -- sh -c 'echo '\\''a b'\\'''`);
    const pw = wrapCommand('id -u', 'password');
    expect(pw).toBe(`sudo -k -S -p '' -- sh -c 'id -u'`);
  });

  it('sends the password only on stdin, first, then the input', () => {
    const parts = stdinFor('password', 's3cret', 'data');
    expect(Buffer.concat(parts).toString()).toBe('s3cret\ndata');
    expect(stdinFor('nopasswd', 's3cret', undefined)).toEqual([]);
    expect(wrapCommand('true', 'password')).not.toContain('s3cret');
  });

  it('recognises sudo failures and tells the user what to do', () => {
    expect(sudoFailure(1, 'sudo: a password is required\n', 'deploy')).toMatch(/NOPASSWD.*sudo_password/);
    expect(sudoFailure(1, 'Sorry, try again.\nsudo: 1 incorrect password attempt\n', 'deploy')).toMatch(
      /rejected/,
    );
    expect(sudoFailure(1, 'nosudo is not in the sudoers file.\n', 'nosudo')).toBeUndefined();
    expect(
      sudoFailure(1, 'sudo: nosudo is not in the sudoers file.  This incident will be reported.\n', 'nosudo'),
    ).toMatch(/may not run/);
    expect(sudoFailure(127, 'sh: 1: sudo: not found\n', 'deploy')).toMatch(/not installed/);
    expect(sudoFailure(2, 'sudo: a password is required\n', 'deploy')).toBeUndefined();
    expect(sudoFailure(1, 'grep: no match\n', 'deploy')).toBeUndefined();
  });

  it('timeboxes commands on the host with GNU timeout when present', () => {
    expect(timeboxCommand('sleep 30', 500)).toBe(
      `if command -v timeout >/dev/null 2>&1; then exec timeout -k 2 2 sh -c 'sleep 30'; else exec sh -c 'sleep 30'; fi`,
    );
  });
});
