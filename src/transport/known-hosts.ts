/**
 * OpenSSH known_hosts: parse, look up a host's key, and record a new key.
 *
 * Supported: plain and hashed (|1|salt|hash, HMAC-SHA1) host names, `[host]:port` entries, comma-separated
 * pattern lists with `*` `?` wildcards and `!` negation, several keys per host, `@revoked` (refused) and
 * `@cert-authority` (recognised; host certificates are not supported, which the caller says).
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { atomicWriteFile } from './atomic-write.js';

export type KnownHostsMarker = 'revoked' | 'cert-authority';

export interface KnownHostsEntry {
  file: string;
  /** 1-based line number. */
  line: number;
  marker?: KnownHostsMarker;
  /** The host field as written (comma-separated patterns or one hashed name). */
  hosts: string;
  keyType: string;
  /** Decoded key blob (the SSH wire format of the public key). */
  key: Buffer;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's SHA256 fingerprint of a key blob: `SHA256:` + unpadded base64. */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** The key type named inside a key blob (its first SSH string), e.g. ssh-ed25519. */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const len = key.readUInt32BE(0);
  if (len > key.length - 4) return 'unknown';
  return key.subarray(4, 4 + len).toString('latin1');
}

/** Parse known_hosts text; malformed lines are skipped as OpenSSH does. */
export function parseKnownHosts(text: string, file: string): KnownHostsEntry[] {
  const out: KnownHostsEntry[] = [];
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostsMarker | undefined;
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return;
    }
    const [hosts, keyType, b64] = fields;
    if (hosts === undefined || keyType === undefined || b64 === undefined) return;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
    const key = Buffer.from(b64, 'base64');
    if (keyTypeOf(key) !== keyType) return;
    const entry: KnownHostsEntry = { file, line: i + 1, hosts, keyType, key };
    if (marker) entry.marker = marker;
    out.push(entry);
  });
  return out;
}

/** OpenSSH wildcard match: `*` any run, `?` one character; case-insensitive for host names. */
export function wildcardMatch(text: string, pattern: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
        .join('') +
      '$',
    'is',
  );
  return re.test(text);
}

/**
 * A comma-separated pattern list matches when some positive pattern matches and no negated one does
 * (OpenSSH match_hostname).
 */
export function patternListMatches(name: string, list: string): boolean {
  let positive = false;
  for (const p of list.split(',')) {
    if (p === '') continue;
    if (p.startsWith('!')) {
      if (wildcardMatch(name, p.slice(1))) return false;
    } else if (wildcardMatch(name, p)) positive = true;
  }
  return positive;
}

function hashedMatches(name: string, field: string): boolean {
  const parts = field.split('|');
  // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2] ?? '', 'base64');
  const want = parts[3] ?? '';
  const got = createHmac('sha1', salt).update(name).digest('base64');
  return got === want;
}

/** Whether an entry's host field names `name` (already in `[host]:port` form when needed). */
export function entryMatchesHost(entry: KnownHostsEntry, name: string): boolean {
  if (entry.hosts.startsWith('|')) return hashedMatches(name, entry.hosts);
  return patternListMatches(name, entry.hosts);
}

export type HostKeyVerdict =
  | { status: 'match'; entry: KnownHostsEntry }
  | { status: 'revoked'; entry: KnownHostsEntry }
  | { status: 'mismatch'; entry: KnownHostsEntry }
  | { status: 'unknown'; certAuthority: boolean; otherTypes: KnownHostsEntry[] };

/**
 * Check a server key against entries for `name`. A revoked key is refused whatever else matches; a key
 * equal to a recorded one matches; a different key of a recorded type is a mismatch; otherwise the host
 * is unknown (with any recorded keys of other types, and whether a @cert-authority line applies).
 */
export function checkHostKey(
  entries: ReadonlyArray<KnownHostsEntry>,
  name: string,
  key: Buffer,
): HostKeyVerdict {
  const forHost = entries.filter((e) => entryMatchesHost(e, name));
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { status: 'match', entry: same };
  const type = keyTypeOf(key);
  const changed = plain.find((e) => e.keyType === type);
  if (changed) return { status: 'mismatch', entry: changed };
  return {
    status: 'unknown',
    certAuthority: forHost.some((e) => e.marker === 'cert-authority'),
    otherTypes: plain,
  };
}

/** Key types recorded for `name`, to prefer them in host key negotiation (as OpenSSH does). */
export function knownKeyTypes(entries: ReadonlyArray<KnownHostsEntry>, name: string): string[] {
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker === undefined && entryMatchesHost(e, name) && !types.includes(e.keyType))
      types.push(e.keyType);
  }
  return types;
}

/** Read and parse several known_hosts files; missing files are empty. */
export async function loadKnownHosts(files: ReadonlyArray<string>): Promise<KnownHostsEntry[]> {
  const all: KnownHostsEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    all.push(...parseKnownHosts(text, f));
  }
  return all;
}

/** Serialises appends per file inside this process (concurrent accept-new on many hosts). */
const appendQueues = new Map<string, Promise<void>>();

/**
 * Append `name keytype base64` to a known_hosts file atomically (temp file + rename, mode 0600), creating
 * the file (and its directory, mode 0700) when missing. Returns the 1-based line number written.
 */
export function appendKnownHost(file: string, name: string, key: Buffer): Promise<number> {
  const prev = appendQueues.get(file) ?? Promise.resolve();
  let line = 0;
  const next = prev.then(async () => {
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text !== '' && !text.endsWith('\n')) text += '\n';
    text += `${name} ${keyTypeOf(key)} ${key.toString('base64')}\n`;
    line = text.split('\n').length - 1;
    await atomicWriteFile(file, text, { mode: 0o600, makeDir: 0o700 });
  });
  appendQueues.set(
    file,
    next.catch(() => undefined),
  );
  return next.then(() => line);
}
