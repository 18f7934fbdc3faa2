/**
 * A reader for OpenSSH client configuration (~/.ssh/config), limited to what dpvs-deploy uses:
 * Host (patterns with * ? and !negation), Match all, Include, HostName, User, Port, IdentityFile,
 * ProxyJump, UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout.
 *
 * As in OpenSSH, for each keyword the first obtained value wins (IdentityFile accumulates). `Match`
 * blocks other than `Match all` are not evaluated: they are reported in `unsupported`, with the other
 * keywords this reader cannot honour, and the caller refuses. Tokens %h %p %r %u %n %d %% and a leading
 * ~ are expanded in IdentityFile and UserKnownHostsFile; %h in HostName. This reader is the fallback
 * when there is no `ssh` binary to ask (`ssh -G`, see ./ssh-resolve.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { patternListMatches, wildcardMatch } from './known-hosts.js';

export interface SshConfigResult {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  proxyJump?: string;
  userKnownHostsFiles?: string[];
  strictHostKeyChecking?: string;
  connectTimeoutS?: number;
  /** ProxyCommand as written (run only as resolved by `ssh -G`, see ./ssh-resolve.ts). */
  proxyCommand?: string;
  /** what this reader cannot honour for the host, each naming the keyword (the caller refuses) */
  unsupported?: string[];
}

interface Directive {
  keyword: string;
  args: string[];
}

interface Block {
  /** undefined: global (before any Host); null: never matches (unsupported Match). */
  patterns: string[] | undefined | null;
  directives: Directive[];
  /** for an unsupported Match: its criteria as written */
  match?: string;
}

/** Split a config line into words, honouring double quotes. */
function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) words.push(m[1] ?? m[2] ?? '');
  return words;
}

function parseLine(raw: string): Directive | undefined {
  const line = raw.trim();
  if (line === '' || line.startsWith('#')) return undefined;
  const m = /^([A-Za-z0-9]+)\s*(?:=\s*|\s+)(.*)$/.exec(line);
  if (!m) return undefined;
  return { keyword: (m[1] ?? '').toLowerCase(), args: splitWords(m[2] ?? '') };
}

function expandTilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

/** Expand `Include` arguments: relative to ~/.ssh, `*` and `?` allowed in the last component. */
function includeFiles(pattern: string, home: string): string[] {
  let p = expandTilde(pattern, home);
  if (!isAbsolute(p)) p = join(home, '.ssh', p);
  const dir = dirname(p);
  const base = p.slice(dir.length + 1);
  if (!/[*?]/.test(base)) return [p];
  try {
    return readdirSync(dir)
      .filter((f) => wildcardMatch(f, base))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

export function parseSshConfig(text: string, home = homedir(), depth = 0): Block[] {
  const blocks: Block[] = [{ patterns: undefined, directives: [] }];
  for (const raw of text.split('\n')) {
    const d = parseLine(raw);
    if (!d) continue;
    const current = blocks[blocks.length - 1] as Block;
    if (d.keyword === 'host') {
      blocks.push({ patterns: d.args, directives: [] });
    } else if (d.keyword === 'match') {
      const all = d.args.length === 1 && d.args[0]?.toLowerCase() === 'all';
      blocks.push({
        patterns: all ? ['*'] : null,
        directives: [],
        ...(all ? {} : { match: d.args.join(' ') }),
      });
    } else if (d.keyword === 'include' && depth < 8) {
      // Included files' directives apply within the current block's condition.
      for (const arg of d.args) {
        for (const f of includeFiles(arg, home)) {
          let inc: string;
          try {
            inc = readFileSync(f, 'utf8');
          } catch {
            continue;
          }
          for (const b of parseSshConfig(inc, home, depth + 1)) {
            if (b.patterns === undefined) current.directives.push(...b.directives);
            else blocks.push(b);
          }
          blocks.push({ patterns: current.patterns, directives: [] });
        }
      }
    } else {
      current.directives.push(d);
    }
  }
  return blocks;
}

/** Whether a Host line's patterns match: some positive match and no negated match. */
export function hostPatternsMatch(host: string, patterns: ReadonlyArray<string>): boolean {
  return patternListMatches(host, patterns.join(','));
}

export interface TokenContext {
  host: string;
  originalHost: string;
  port: number;
  user: string;
  home?: string;
}

/** Expand %h %p %r %u %n %d %% and a leading ~. Unknown tokens are left as written. */
export function expandTokens(value: string, ctx: TokenContext): string {
  const home = ctx.home ?? homedir();
  const localUser = safeLocalUser();
  const out = value.replace(/%([%hprund])/g, (_m, t: string) => {
    switch (t) {
      case '%':
        return '%';
      case 'h':
        return ctx.host;
      case 'p':
        return String(ctx.port);
      case 'r':
        return ctx.user;
      case 'u':
        return localUser;
      case 'n':
        return ctx.originalHost;
      default:
        return home;
    }
  });
  return expandTilde(out, home);
}

export function safeLocalUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

/** Collect settings for `host` from parsed blocks, first value winning. Paths are not expanded here. */
export function lookupRaw(blocks: ReadonlyArray<Block>, host: string): Map<string, string[][]> {
  const found = new Map<string, string[][]>();
  for (const b of blocks) {
    if (b.patterns === null) continue;
    if (b.patterns !== undefined && !hostPatternsMatch(host, b.patterns)) continue;
    for (const d of b.directives) {
      const list = found.get(d.keyword) ?? [];
      list.push(d.args);
      found.set(d.keyword, list);
    }
  }
  return found;
}

/**
 * Resolve settings for `host`. `overrides` are the inventory's values, which win over the config and
 * are used to expand tokens (%r, %p) in the config's paths.
 */
export function resolveSshConfig(
  text: string,
  host: string,
  overrides: { user?: string; port?: number } = {},
  home = homedir(),
): SshConfigResult {
  const raw = lookupRaw(parseSshConfig(text, home), host);
  const first = (k: string): string | undefined => raw.get(k)?.[0]?.[0];
  const result: SshConfigResult = { identityFiles: [] };
  const hn = first('hostname');
  const hostName = hn !== undefined ? hn.replace(/%h/g, host).replace(/%%/g, '%') : undefined;
  if (hostName !== undefined) result.hostName = hostName;
  const user = first('user');
  if (user !== undefined) result.user = user;
  const portText = first('port');
  if (portText !== undefined && /^\d+$/.test(portText)) result.port = Number(portText);
  const ctx: TokenContext = {
    host: hostName ?? host,
    originalHost: host,
    port: overrides.port ?? result.port ?? 22,
    user: overrides.user ?? result.user ?? safeLocalUser(),
    home,
  };
  for (const args of raw.get('identityfile') ?? []) {
    const f = args[0];
    if (f !== undefined && f.toLowerCase() !== 'none') result.identityFiles.push(expandTokens(f, ctx));
  }
  const pj = first('proxyjump');
  if (pj !== undefined && pj.toLowerCase() !== 'none') result.proxyJump = pj;
  const ukh = raw.get('userknownhostsfile')?.[0];
  if (ukh && ukh.length > 0 && ukh[0]?.toLowerCase() !== 'none') {
    result.userKnownHostsFiles = ukh.map((f) => expandTokens(f, ctx));
  }
  const shk = first('stricthostkeychecking');
  if (shk !== undefined) result.strictHostKeyChecking = shk.toLowerCase();
  const pc = raw.get('proxycommand')?.[0];
  if (pc && pc.length > 0 && pc[0]?.toLowerCase() !== 'none') result.proxyCommand = pc.join(' ');
  const ct = first('connecttimeout');
  if (ct !== undefined && /^\d+$/.test(ct)) result.connectTimeoutS = Number(ct);
  const unsupported = parseSshConfig(text, home)
    .filter((b) => b.match !== undefined)
    .map(
      (b) =>
        `Match ${b.match}: dpvs-deploy's own ssh_config reader evaluates only \`Match all\` (its settings could apply to ${host})`,
    );
  for (const [k, name, why] of BUILT_IN_CANNOT) {
    const v = first(k);
    if (v !== undefined && !/^(none|no|false)$/i.test(v)) unsupported.push(`${name} ${v}: ${why}`);
  }
  if (unsupported.length) result.unsupported = unsupported;
  return result;
}

/** Keywords this reader does not honour: [keyword, as written, why]. */
const BUILT_IN_CANNOT: ReadonlyArray<[string, string, string]> = [
  ['canonicalizehostname', 'CanonicalizeHostname', 'host name canonicalisation is not done by this reader'],
  ['identityagent', 'IdentityAgent', 'this reader uses SSH_AUTH_SOCK only'],
  ['certificatefile', 'CertificateFile', 'certificate authentication is not supported: use a plain key'],
  ['pkcs11provider', 'PKCS11Provider', 'PKCS#11 keys are not supported: load the key into ssh-agent'],
  ['hostkeyalias', 'HostKeyAlias', 'host keys are checked under the host name or address only'],
];

/** Read and resolve a config file; a missing file gives an empty result. */
export function readSshConfig(
  file: string,
  host: string,
  overrides: { user?: string; port?: number } = {},
  home = homedir(),
): SshConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { identityFiles: [] };
  }
  return resolveSshConfig(text, host, overrides, home);
}
