/**
 * A host's effective ssh_config settings, resolved the way `ssh` resolves them.
 *
 * With OpenSSH's `ssh` on PATH (Linux, macOS, BSDs, Windows' OpenSSH), `ssh -G [-F FILE] [-l USER]
 * [-p PORT] HOST` prints the settings ssh itself would use (Host and Match blocks, Include, tokens,
 * defaults): that output is what dpvs-deploy uses, so every Match criterion, Include and token behaves
 * as in ssh. Without it, the built-in reader (./ssh-config.ts) is used, and what it cannot honour (Match
 * other than `all`, ProxyCommand, ...) is refused by name instead of being skipped.
 *
 * Either way, some settings ssh2 cannot honour (CertificateFile, PKCS11Provider, HostKeyAlias) are
 * refused by name rather than ignored.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { type SshConfigResult, expandTokens, resolveSshConfig, safeLocalUser } from './ssh-config.js';

export interface ResolvedSshConfig extends SshConfigResult {
  /** how the settings were obtained */
  source: 'ssh -G' | 'built-in';
  /** IdentitiesOnly yes: the agent offers no keys of its own */
  identitiesOnly?: boolean;
  /** IdentityAgent: a socket path, or null for `none` (no agent) */
  identityAgent?: string | null;
  /** settings that are present but cannot be honoured: each names the keyword and why */
  refusals: string[];
}

export interface ResolveOptions {
  /** the ssh_config file: --ssh-config, or ~/.ssh/config */
  configPath: string;
  /** true when the user named the file (--ssh-config): ssh reads it alone, as with `ssh -F` */
  explicitConfig: boolean;
  /** the ssh binary; null: none (use the built-in reader); undefined: look it up on PATH */
  sshBinary?: string | null;
}

/** OpenSSH's `ssh` on PATH, or null. */
export function findSshBinary(env: NodeJS.ProcessEnv = process.env): string | null {
  const names = process.platform === 'win32' ? ['ssh.exe', 'ssh'] : ['ssh'];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const n of names) {
      const f = path.join(dir, n);
      try {
        accessSync(f, constants.X_OK);
        return f;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/**
 * The arguments of `ssh -G`. ssh reads ~/.ssh/config from the account's home directory (the password
 * database), dpvs-deploy from $HOME: when the two differ, or a file was named, it is passed with -F
 * (`-F none` when it does not exist: ssh would refuse a missing -F file).
 */
export function sshGArgs(host: string, ov: { user?: string; port?: number }, o: ResolveOptions): string[] {
  const args = ['-G'];
  const sshOwn = path.join(accountHome(), '.ssh', 'config');
  if (o.explicitConfig || path.resolve(o.configPath) !== sshOwn)
    args.push('-F', existsSync(o.configPath) ? o.configPath : 'none');
  if (ov.user !== undefined) args.push('-l', ov.user);
  if (ov.port !== undefined) args.push('-p', String(ov.port));
  args.push('--', host);
  return args;
}

function accountHome(): string {
  try {
    return userInfo().homedir;
  } catch {
    return homedir();
  }
}

const SSH_DEFAULT_IDENTITY = /^~\/\.ssh\/id_(rsa|dsa|ecdsa|ecdsa_sk|ed25519|ed25519_sk|xmss)$/;

/** Keywords neither reader can honour over ssh2, with what to do instead. */
const NEVER: Record<string, string> = {
  certificatefile: 'certificate authentication is not supported: use a plain key (IdentityFile)',
  pkcs11provider: 'PKCS#11 keys are not supported: load the key into ssh-agent, or use IdentityFile',
  hostkeyalias:
    'host keys are checked under the host name or address only: record the key under that name in known_hosts',
};

/** Parse `ssh -G` output (lowercase keyword, space, value; IdentityFile repeated) into the settings. */
export function parseSshG(
  text: string,
  host: string,
  ov: { user?: string; port?: number },
  home: string = homedir(),
): ResolvedSshConfig {
  const values = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const k = m[1]!.toLowerCase();
    values.set(k, [...(values.get(k) ?? []), m[2]!]);
  }
  const one = (k: string): string | undefined => values.get(k)?.[0];
  const r: ResolvedSshConfig = { identityFiles: [], source: 'ssh -G', refusals: [] };
  const hostName = one('hostname');
  if (hostName !== undefined && hostName !== '') r.hostName = hostName;
  const user = one('user');
  if (user !== undefined) r.user = user;
  const port = one('port');
  if (port !== undefined && /^\d+$/.test(port)) r.port = Number(port);
  const ctx = {
    host: r.hostName ?? host,
    originalHost: host,
    port: ov.port ?? r.port ?? 22,
    user: ov.user ?? r.user ?? safeLocalUser(),
    home,
  };
  // ssh's own default list (no IdentityFile configured) counts as none: dpvs-deploy's defaults apply
  const ids = values.get('identityfile') ?? [];
  if (!ids.every((f) => SSH_DEFAULT_IDENTITY.test(f)))
    for (const f of ids) r.identityFiles.push(expandTokens(f, ctx));
  const pj = one('proxyjump');
  if (pj !== undefined && pj.toLowerCase() !== 'none') r.proxyJump = pj;
  const pc = one('proxycommand');
  if (pc !== undefined && pc.toLowerCase() !== 'none') r.proxyCommand = pc;
  const ukh = one('userknownhostsfile');
  if (ukh !== undefined && ukh.toLowerCase() !== 'none') {
    const files = ukh.split(/\s+/);
    // ssh's default, under the account's home: dpvs-deploy's default is under $HOME (the same unless
    // HOME was changed, e.g. a CI job's fresh home)
    const own = path.join(accountHome(), '.ssh');
    const isDefault =
      files.length === 2 &&
      files[0] === path.join(own, 'known_hosts') &&
      files[1] === path.join(own, 'known_hosts2');
    r.userKnownHostsFiles = isDefault
      ? [path.join(home, '.ssh', 'known_hosts'), path.join(home, '.ssh', 'known_hosts2')]
      : files.map((f) => expandTokens(f, ctx));
  }
  const shk = one('stricthostkeychecking')?.toLowerCase();
  if (shk !== undefined) r.strictHostKeyChecking = shk === 'false' ? 'no' : shk === 'true' ? 'yes' : shk;
  const ct = one('connecttimeout');
  if (ct !== undefined && /^\d+$/.test(ct)) r.connectTimeoutS = Number(ct);
  if (one('identitiesonly')?.toLowerCase() === 'yes') r.identitiesOnly = true;
  const agent = one('identityagent');
  if (agent !== undefined) {
    if (agent.toLowerCase() === 'none') r.identityAgent = null;
    else if (agent === 'SSH_AUTH_SOCK') {
      // the default: the environment's agent
    } else if (agent.startsWith('$')) {
      const sock = process.env[agent.slice(1)];
      r.identityAgent = sock !== undefined && sock !== '' ? sock : null;
    } else r.identityAgent = expandTokens(agent, ctx);
  }
  for (const [k, why] of Object.entries(NEVER))
    if (values.has(k) && values.get(k)![0]!.toLowerCase() !== 'none')
      r.refusals.push(`${keywordName(k)} ${values.get(k)![0]}: ${why}`);
  return r;
}

function keywordName(k: string): string {
  const names: Record<string, string> = {
    certificatefile: 'CertificateFile',
    pkcs11provider: 'PKCS11Provider',
    hostkeyalias: 'HostKeyAlias',
  };
  return names[k] ?? k;
}

function runSshG(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const why = String(stderr).trim().split('\n').slice(-3).join('; ') || err.message;
        reject(new UserError(`${bin} ${args.join(' ')} failed: ${why}`));
      } else resolve(String(stdout));
    });
  });
}

/** Settings for `host` (with the inventory's user/port, which also take part in Match user/host). */
export async function resolveSshSettings(
  host: string,
  ov: { user?: string; port?: number },
  o: ResolveOptions,
): Promise<ResolvedSshConfig> {
  const bin = o.sshBinary === undefined ? findSshBinary() : o.sshBinary;
  if (bin !== null) return parseSshG(await runSshG(bin, sshGArgs(host, ov, o)), host, ov);
  let text = '';
  try {
    text = readFileSync(o.configPath, 'utf8');
  } catch {
    return { identityFiles: [], source: 'built-in', refusals: [] };
  }
  const r = resolveSshConfig(text, host, ov);
  const refusals = (r.unsupported ?? []).map((u) => `${u} (no ssh binary on PATH to resolve it with ssh -G)`);
  if (r.proxyCommand !== undefined)
    refusals.push(
      `ProxyCommand ${r.proxyCommand}: dpvs-deploy runs it only as resolved by OpenSSH's \`ssh -G\` (no ssh binary on PATH)`,
    );
  return { ...r, source: 'built-in', refusals };
}
