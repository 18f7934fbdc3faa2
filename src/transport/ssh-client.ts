/**
 * Open ONE authenticated ssh2 connection (to a target or a jump host), with host key verification
 * against known_hosts and errors mapped to TransportError kinds with messages that say what to do.
 */
import type { Duplex } from 'node:stream';
import ssh2, { type AuthMethod, type ConnectConfig, type ParsedKey } from 'ssh2';

// ssh2 is CommonJS: named runtime exports are not visible to Node's ESM loader
const { Client } = ssh2;
type Client = InstanceType<typeof Client>;
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  keyTypeOf,
  knownHostsName,
  knownHostsFor,
  knownKeyTypes,
} from './known-hosts.js';
import { TransportError } from './types.js';

export type HostKeyPolicy = 'strict' | 'accept-new';

export interface Identity {
  path: string;
  key: ParsedKey;
}

export interface SshEndpoint {
  /** Name used in error messages (inventory name, or "jump host X for Y"). */
  label: string;
  host: string;
  port: number;
  user: string;
  identities: Identity[];
  /** ssh-agent socket, when the agent may be used. */
  agent?: string;
  /** known_hosts files read, in order; new keys are appended to the first. */
  knownHostsFiles: string[];
  hostKeyPolicy: HostKeyPolicy;
  connectTimeoutMs: number;
  /** A forwarded stream from a jump host to connect over, instead of TCP. */
  sock?: Duplex;
  /** Told what the connection changed on the control machine (a host key recorded by accept-new). */
  onNotice?: (message: string) => void;
}

/** ssh2's host key algorithms, in its default order (ed25519 first when available). */
const DEFAULT_HOST_KEY_ALGOS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Prefer the host key types already recorded for the host, as OpenSSH does. */
export function hostKeyAlgorithms(knownTypes: ReadonlyArray<string>): string[] {
  const preferred: string[] = [];
  for (const t of knownTypes) {
    const algos = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algos)
      if (DEFAULT_HOST_KEY_ALGOS.includes(a) && !preferred.includes(a)) preferred.push(a);
  }
  return [...preferred, ...DEFAULT_HOST_KEY_ALGOS.filter((a) => !preferred.includes(a))];
}

function hostPort(e: SshEndpoint): string {
  return e.port === 22 ? e.host : `${e.host}:${e.port}`;
}

function describeAuth(e: SshEndpoint): string {
  const tried = e.identities.map((i) => `publickey ${i.path} (${i.key.type})`);
  if (e.agent) tried.push(`ssh-agent (${e.agent})`);
  return tried.join(', ');
}

/**
 * End a client and destroy its socket for sure. ssh2's destroy() skips a socket that is no longer
 * writable (half-closed), which can leave it open until the peer reads EOF; its private `_sock` is
 * destroyed directly as a fallback.
 */
export function destroyClient(c: Client): void {
  try {
    c.end();
  } catch {
    // already ended
  }
  c.destroy();
  const sock = (c as unknown as { _sock?: { destroyed?: boolean; destroy?: () => void } })._sock;
  if (sock && sock.destroyed === false && typeof sock.destroy === 'function') sock.destroy();
}

/** Connect and authenticate; resolves with a ready client or rejects with a TransportError. */
export async function openSshClient(e: SshEndpoint): Promise<Client> {
  const khName = knownHostsName(e.host, e.port);
  // only this host's lines: every check below looks at those alone, and the verifier lives as long as
  // the connection (500 connections each holding a 500-line file's parse was quadratic memory)
  // (the files are parsed once per process and shared: knownHostsFor)
  const entries = await knownHostsFor(e.knownHostsFiles, khName);
  const auth: AuthMethod[] = e.identities.map(
    (i) => ({ type: 'publickey', username: e.user, key: i.key }) as AuthMethod,
  );
  if (e.agent) auth.push({ type: 'agent', username: e.user, agent: e.agent } as AuthMethod);
  if (auth.length === 0) {
    throw new TransportError(
      e.label,
      'auth',
      `no SSH key to log in to ${hostPort(e)} with: set ssh.identity_file, add an IdentityFile to ~/.ssh/config, or start ssh-agent (SSH_AUTH_SOCK)`,
    );
  }

  let hostKeyError: TransportError | undefined;
  const verifyHostKey = (key: Buffer, verify: (ok: boolean) => void): void => {
    const fp = fingerprint(key);
    const type = keyTypeOf(key);
    const verdict = checkHostKey(entries, khName, key);
    const files = e.knownHostsFiles.join(', ');
    switch (verdict.status) {
      case 'match':
        verify(true);
        return;
      case 'revoked':
        hostKeyError = new TransportError(
          e.label,
          'host-key-mismatch',
          `the host key of ${hostPort(e)} (${type} ${fp}) is marked @revoked in ${verdict.entry.file}:${verdict.entry.line}; refusing to connect`,
        );
        verify(false);
        return;
      case 'mismatch':
        hostKeyError = new TransportError(
          e.label,
          'host-key-mismatch',
          `REMOTE HOST IDENTIFICATION HAS CHANGED for ${khName}: the server offered ${type} ${fp}, but ` +
            `${verdict.entry.file}:${verdict.entry.line} records a different ${verdict.entry.keyType} key ` +
            `(${fingerprint(verdict.entry.key)}). Someone could be intercepting the connection, or the host was ` +
            `reinstalled. If the change is expected, remove that line (ssh-keygen -R ${quoteArg(khName)} -f ${quoteArg(verdict.entry.file)}) and reconnect.`,
        );
        verify(false);
        return;
      case 'unknown': {
        if (e.hostKeyPolicy === 'accept-new' && verdict.otherTypes.length === 0) {
          const file = e.knownHostsFiles[0];
          if (file === undefined) {
            hostKeyError = new TransportError(
              e.label,
              'host-key-unknown',
              'no known_hosts file to record the new host key in',
            );
            verify(false);
            return;
          }
          appendKnownHost(file, khName, key).then(
            () => {
              // as OpenSSH says it, with the file and the fingerprint to check
              e.onNotice?.(
                `Warning: Permanently added '${khName}' (${type}) to the list of known hosts (${file}; ${fp}).`,
              );
              verify(true);
            },
            (err: unknown) => {
              hostKeyError = new TransportError(
                e.label,
                'host-key-unknown',
                `cannot record the host key of ${khName} in ${file}: ${(err as Error).message}`,
              );
              verify(false);
            },
          );
          return;
        }
        let msg: string;
        if (verdict.otherTypes.length > 0) {
          const other = verdict.otherTypes[0];
          msg =
            `the server ${khName} offered a ${type} host key (${fp}), but ${other?.file}:${other?.line} records only ` +
            `${verdict.otherTypes.map((o) => o.keyType).join(', ')} key(s) for it; refusing a key of another type ` +
            `(verify it, then add it to known_hosts)`;
        } else {
          msg =
            `the host key of ${khName} is not known (${type} ${fp}; looked in ${files || 'no known_hosts file'}). ` +
            `Verify the fingerprint and add it (ssh-keyscan -p ${e.port} ${e.host} >> known_hosts), or use host key ` +
            `policy accept-new to record it on first connect`;
          if (verdict.certAuthority) {
            msg += `. Note: known_hosts has a @cert-authority entry for this host, but host certificates are not supported by dpvs-deploy; add the host's plain key`;
          }
        }
        hostKeyError = new TransportError(e.label, 'host-key-unknown', msg);
        verify(false);
        return;
      }
    }
  };

  const client = new Client();
  const cfg: ConnectConfig = {
    username: e.user,
    readyTimeout: e.connectTimeoutMs,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    agentForward: false,
    authHandler: auth,
    hostVerifier: verifyHostKey,
    algorithms: { serverHostKey: hostKeyAlgorithms(knownKeyTypes(entries, khName)) as never },
  };
  if (e.sock) cfg.sock = e.sock;
  else {
    cfg.host = e.host;
    cfg.port = e.port;
  }

  return new Promise<Client>((resolve, reject) => {
    let done = false;
    const fail = (err: TransportError): void => {
      if (done) return;
      done = true;
      destroyClient(client);
      reject(err);
    };
    client.once('ready', () => {
      done = true;
      resolve(client);
    });
    client.on('error', (err: Error & { code?: string; level?: string }) => {
      if (done) return;
      if (hostKeyError) return fail(hostKeyError);
      fail(mapConnectError(e, err));
    });
    client.once('close', () => {
      if (hostKeyError) return fail(hostKeyError);
      fail(
        new TransportError(
          e.label,
          'disconnected',
          `${hostPort(e)} closed the connection during the SSH handshake`,
        ),
      );
    });
    try {
      client.connect(cfg);
    } catch (err) {
      fail(
        new TransportError(
          e.label,
          'unreachable',
          `cannot connect to ${hostPort(e)}: ${(err as Error).message}`,
        ),
      );
    }
  });
}

function quoteArg(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./[\]-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function mapConnectError(
  e: SshEndpoint,
  err: Error & { code?: string; level?: string },
): TransportError {
  const where = hostPort(e);
  const secs = Math.round(e.connectTimeoutMs / 100) / 10;
  switch (err.code) {
    case 'ECONNREFUSED':
      return new TransportError(
        e.label,
        'refused',
        `connection refused by ${where}: is sshd running and listening on port ${e.port}?`,
      );
    case 'ETIMEDOUT':
      return new TransportError(
        e.label,
        'unreachable',
        `no answer from ${where} within ${secs} s (host down or filtered?)`,
      );
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new TransportError(
        e.label,
        'unreachable',
        `${where} is unreachable (${err.code}): check the address and routing`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new TransportError(e.label, 'unreachable', `cannot resolve host name ${e.host} (${err.code})`);
    case 'ECONNRESET':
      return new TransportError(
        e.label,
        'unreachable',
        `${where} reset the connection before the SSH handshake finished`,
      );
    default:
      break;
  }
  if (err.level === 'client-timeout') {
    return new TransportError(
      e.label,
      'unreachable',
      `no SSH handshake with ${where} within ${secs} s (connect_timeout_s)`,
    );
  }
  if (err.level === 'client-authentication') {
    return new TransportError(
      e.label,
      'auth',
      `authentication as ${e.user} on ${where} failed (tried: ${describeAuth(e)}): is the public key in ~${e.user}/.ssh/authorized_keys?`,
    );
  }
  return new TransportError(e.label, 'unreachable', `cannot connect to ${where}: ${err.message}`);
}
