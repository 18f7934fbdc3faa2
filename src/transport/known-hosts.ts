/**
 * OpenSSH known_hosts: parse, look up a host's key, and record a new key.
 *
 * Supported: plain and hashed (|1|salt|hash, HMAC-SHA1) host names, `[host]:port` entries, comma-separated
 * pattern lists with `*` `?` wildcards and `!` negation, several keys per host, `@revoked` (refused) and
 * `@cert-authority` (recognised; host certificates are not supported, which the caller says).
 *
 * A file is parsed once per process and shared by every connection (`knownHostsFor`): 500 connections
 * against a 500-line file parsed it 500 times (250,000 entries, CPU growing with hosts²). The parse is
 * kept by path and re-read when the file's identity changes (device, inode, size, mtime, ctime: an
 * accept-new append replaces the file), and each connection keeps only the lines naming its host.
 * (What the identity cannot see: a rewrite in place to the same size within one tick of the kernel's
 * file clock, a few milliseconds; ssh-keygen -R and -H write a new file.)
 */
import { createHash, createHmac } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
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

/** A hashed host field's salt and hash (`|1|salt|hash`), null when it is not one. */
function hashedField(field: string): { salt: Buffer; hash: string } | null {
  const parts = field.split('|');
  // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return null;
  return { salt: Buffer.from(parts[2] ?? '', 'base64'), hash: parts[3] ?? '' };
}

function hashedNameMatches(name: string, h: { salt: Buffer; hash: string } | null): boolean {
  return h !== null && createHmac('sha1', h.salt).update(name).digest('base64') === h.hash;
}

function hashedMatches(name: string, field: string): boolean {
  return hashedNameMatches(name, hashedField(field));
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

/** What the cache reads a file with (tests count reads through their own). */
export interface KnownHostsIo {
  /** the file's identity now, null when it does not exist */
  identity(file: string): Promise<string | null>;
  /** its text and the identity of what was read, null when it does not exist */
  read(file: string): Promise<{ text: string; identity: string } | null>;
}

type Stats = { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint };
const identityOf = (s: Stats): string => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
const missing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** The file system: stat, and open + fstat + read (the identity is that of the text read). */
export const fsKnownHostsIo: KnownHostsIo = {
  async identity(file) {
    try {
      return identityOf(await stat(file, { bigint: true }));
    } catch (e) {
      if (missing(e)) return null;
      throw e;
    }
  },
  async read(file) {
    let h;
    try {
      h = await open(file, 'r');
    } catch (e) {
      if (missing(e)) return null;
      throw e;
    }
    try {
      const identity = identityOf(await h.stat({ bigint: true }));
      return { text: await h.readFile('utf8'), identity };
    } finally {
      await h.close();
    }
  },
};

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** One file's parse, with an index of its literal host names. */
export class KnownHostsFile {
  /** entries whose host field is a list of plain names (no wildcard, no negation), by lower-case name */
  private readonly byName = new Map<string, KnownHostsEntry[]>();
  /** hashed entries and pattern lists: matched one by one (a hashed one's salt decoded once) */
  private readonly scan: Array<{ entry: KnownHostsEntry; hashed?: ReturnType<typeof hashedField> }> = [];
  private readonly order = new Map<KnownHostsEntry, number>();

  constructor(readonly entries: readonly KnownHostsEntry[]) {
    entries.forEach((e, i) => {
      this.order.set(e, i);
      const names = e.hosts.split(',').filter((p) => p !== '');
      if (e.hosts.startsWith('|') || !names.every((p) => PRINTABLE_ASCII.test(p) && !/[*?!]/.test(p))) {
        this.scan.push(e.hosts.startsWith('|') ? { entry: e, hashed: hashedField(e.hosts) } : { entry: e });
        return;
      }
      for (const n of new Set(names.map((p) => p.toLowerCase()))) {
        const list = this.byName.get(n);
        if (list) list.push(e);
        else this.byName.set(n, [e]);
      }
    });
  }

  /** The entries naming `name`, in file order: what `entries.filter(entryMatchesHost)` gives. */
  forHost(name: string): KnownHostsEntry[] {
    // the index compares lower-cased ASCII, as the patterns' case-insensitive match does for ASCII
    if (!PRINTABLE_ASCII.test(name)) return this.entries.filter((e) => entryMatchesHost(e, name));
    const found = [
      ...(this.byName.get(name.toLowerCase()) ?? []),
      ...this.scan
        .filter((s) =>
          s.hashed !== undefined ? hashedNameMatches(name, s.hashed) : entryMatchesHost(s.entry, name),
        )
        .map((s) => s.entry),
    ];
    return found.sort((a, b) => (this.order.get(a) ?? 0) - (this.order.get(b) ?? 0));
  }
}

/**
 * Parsed known_hosts files by path, shared by the connections of this process; a file is read again
 * when its identity changed. Concurrent loads of one file share one read and one parse.
 */
export class KnownHostsCache {
  private readonly files = new Map<string, { identity: string; parsed: Promise<KnownHostsFile> }>();
  /** how many times a file was parsed (tests, benchmarks) */
  parses = 0;

  constructor(private readonly io: KnownHostsIo = fsKnownHostsIo) {}

  /** A file's parse; an empty one when it does not exist. */
  async file(path: string): Promise<KnownHostsFile> {
    const identity = await this.io.identity(path);
    if (identity === null) {
      this.files.delete(path);
      return new KnownHostsFile([]);
    }
    const cached = this.files.get(path);
    if (cached?.identity === identity) return cached.parsed;
    const read = this.io.read(path);
    const slot = {
      identity,
      parsed: read.then((r) => {
        if (r === null) return new KnownHostsFile([]);
        // what was read may be newer than the stat above: keep it under its own identity
        slot.identity = r.identity;
        this.parses++;
        return new KnownHostsFile(parseKnownHosts(r.text, path));
      }),
    };
    this.files.set(path, slot);
    slot.parsed.catch(() => {
      if (this.files.get(path) === slot) this.files.delete(path);
    });
    return slot.parsed;
  }

  /** Forget a file (this process changed it). */
  invalidate(path: string): void {
    this.files.delete(path);
  }

  clear(): void {
    this.files.clear();
  }
}

/** The process's cache: every connection's host key check reads through it. */
export const knownHostsCache = new KnownHostsCache();

/** Read and parse several known_hosts files; missing files are empty. */
export async function loadKnownHosts(
  files: ReadonlyArray<string>,
  cache: KnownHostsCache = knownHostsCache,
): Promise<KnownHostsEntry[]> {
  const all: KnownHostsEntry[] = [];
  for (const f of files) all.push(...(await cache.file(f)).entries);
  return all;
}

/**
 * The entries of several known_hosts files that name `name` (`[host]:port` form when needed), in file
 * order: all a connection's host key check looks at, and all it keeps.
 */
export async function knownHostsFor(
  files: ReadonlyArray<string>,
  name: string,
  cache: KnownHostsCache = knownHostsCache,
): Promise<KnownHostsEntry[]> {
  const out: KnownHostsEntry[] = [];
  for (const f of files) out.push(...(await cache.file(f)).forHost(name));
  return out;
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
    knownHostsCache.invalidate(file);
  });
  appendQueues.set(
    file,
    next.catch(() => undefined),
  );
  return next.then(() => line);
}
