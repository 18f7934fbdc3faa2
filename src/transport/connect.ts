/**
 * connectHost: resolve a host's SSH settings (inventory first, then ~/.ssh/config, then OpenSSH
 * defaults), open the one connection for the run (through jump hosts when configured) and return the
 * SSH Transport.
 *
 * Precedence for each setting: the inventory (host.ssh) wins, then ssh_config (unless use_ssh_config
 * is false), then defaults (local user name, port 22, ~/.ssh/known_hosts, ~/.ssh/id_ed25519|id_ecdsa|
 * id_rsa, ssh-agent). ssh_config is resolved by OpenSSH's own `ssh -G` when an ssh binary is on PATH
 * (every Match, Include and token as ssh does), else by the built-in reader, which refuses what it cannot
 * honour (./ssh-resolve.ts). The host key policy from the caller (CLI) wins over the inventory's
 * host_key_policy. StrictHostKeyChecking no/off in ssh_config means accept-new here: a changed key is
 * never accepted.
 *
 * ProxyCommand (resolved by `ssh -G` only) is run as ssh runs it and its stdio carries the connection
 * (./proxy-command.ts).
 *
 * Jump hosts (jump_host or ProxyJump, comma-separated hops): each hop is looked up in ssh_config by its
 * own name; its user defaults to the local user (as `ssh -J`), its keys to the target's. Host keys are
 * verified for every hop against the same known_hosts files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2, { type Client } from 'ssh2';

// ssh2 is CommonJS: named runtime exports are not visible to Node's ESM loader
const { utils } = ssh2;
import type { ResolvedHost } from '../inventory/types.js';
import { resolveLocalPath, resolveSecret } from '../inventory/secret.js';
import { safeLocalUser } from './ssh-config.js';
import { proxyCommandSocket } from './proxy-command.js';
import { type ResolvedSshConfig, resolveSshSettings } from './ssh-resolve.js';
import { expandTokens } from './ssh-config.js';
import {
  type HostKeyPolicy,
  type Identity,
  type SshEndpoint,
  destroyClient,
  openSshClient,
} from './ssh-client.js';
import { SshTransport } from './ssh.js';
import type { TranscriptEvent } from './transcript.js';
import { type Transport, TransportError } from './types.js';
import { DEFAULT_CONNECT_TIMEOUT_S } from '../inventory/defaults.js';
import { UserError } from '../errors.js';

export type { TranscriptEvent } from './transcript.js';

export interface ConnectOptions {
  /** Directory of the inventory file: relative paths resolve against it. */
  inventoryDir: string;
  /** Overrides the inventory's host_key_policy (e.g. from a CLI flag). */
  hostKeyPolicy?: HostKeyPolicy;
  /** ssh_config to read (default ~/.ssh/config). */
  sshConfigPath?: string;
  /** ssh-agent socket (default SSH_AUTH_SOCK). */
  agent?: string;
  onTranscript?: (e: TranscriptEvent) => void;
  /** What a connection changed on the control machine (host keys recorded by accept-new). */
  onNotice?: (message: string) => void;
  /** Parallel channels per connection before queueing (default 10, OpenSSH's MaxSessions). */
  maxSessions?: number;
  /** OpenSSH's ssh for `ssh -G`; null: use the built-in ssh_config reader; default: ssh on PATH. */
  sshBinary?: string | null;
}

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

interface Hop {
  user?: string;
  host: string;
  port?: number;
}

/** Parse `[user@]host[:port]`, also `[v6addr]:port`. */
export function parseHop(spec: string): Hop {
  const at = spec.lastIndexOf('@');
  const user = at >= 0 ? spec.slice(0, at) : undefined;
  let rest = at >= 0 ? spec.slice(at + 1) : spec;
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracket) {
    rest = bracket[1] ?? rest;
    if (bracket[2]) port = Number(bracket[2]);
  } else {
    const m = /^([^:]+):(\d+)$/.exec(rest);
    if (m) {
      rest = m[1] ?? rest;
      port = Number(m[2]);
    }
  }
  const hop: Hop = { host: rest };
  if (user) hop.user = user;
  if (port !== undefined) hop.port = port;
  return hop;
}

function loadIdentity(label: string, path: string): Identity {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    throw new TransportError(
      label,
      'auth',
      `cannot read identity file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const parsed = utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error) {
    const why = key instanceof Error ? key.message : 'no key found';
    if (/passphrase|encrypted/i.test(why)) {
      throw new TransportError(
        label,
        'auth',
        `identity file ${path} is protected by a passphrase: load it into ssh-agent (ssh-add) and leave ssh.identity_file unset`,
      );
    }
    throw new TransportError(label, 'auth', `identity file ${path} is not a usable private key (${why})`);
  }
  if (!key.isPrivateKey())
    throw new TransportError(label, 'auth', `identity file ${path} holds a public key, not a private key`);
  return { path, key };
}

function policyFromConfig(v: string | undefined): HostKeyPolicy | undefined {
  if (v === undefined) return undefined;
  if (v === 'accept-new' || v === 'no' || v === 'off') return 'accept-new';
  return 'strict';
}

export async function connectHost(host: ResolvedHost, opts: ConnectOptions): Promise<Transport> {
  const ssh = host.ssh ?? {};
  const useConfig = ssh.use_ssh_config !== false;
  const configPath = opts.sshConfigPath ?? join(homedir(), '.ssh', 'config');
  const lookup = async (name: string, ov: { user?: string; port?: number }): Promise<ResolvedSshConfig> => {
    if (!useConfig) return { identityFiles: [], source: 'built-in', refusals: [] };
    const r = await resolveSshSettings(name, ov, {
      configPath,
      explicitConfig: opts.sshConfigPath !== undefined,
      ...(opts.sshBinary !== undefined ? { sshBinary: opts.sshBinary } : {}),
    });
    // what cannot be honoured is refused by name, never skipped (or the connection would go elsewhere)
    if (r.refusals.length)
      throw new UserError(
        `${host.name}: ssh_config (${r.source === 'ssh -G' ? 'as resolved by ssh -G' : configPath}) for ${name} sets what dpvs-deploy cannot honour:\n  ${r.refusals.join('\n  ')}\n` +
          `change it there, set it in the inventory (ssh.*), or set ssh.use_ssh_config: false to ignore the file`,
      );
    return r;
  };

  const overrides: { user?: string; port?: number } = {};
  if (ssh.user !== undefined) overrides.user = ssh.user;
  if (ssh.port !== undefined) overrides.port = ssh.port;
  const cfg = await lookup(host.address, overrides);
  const user = ssh.user ?? cfg.user ?? safeLocalUser();
  const port = ssh.port ?? cfg.port ?? 22;
  const hostName = cfg.hostName ?? host.address;

  // Keys: the inventory's identity_file alone; otherwise ssh_config IdentityFiles or the defaults, + agent.
  const agentSock =
    cfg.identityAgent === null ? undefined : (opts.agent ?? cfg.identityAgent ?? process.env.SSH_AUTH_SOCK);
  let identities: Identity[];
  let agent: string | undefined;
  if (ssh.identity_file !== undefined) {
    identities = [loadIdentity(host.name, resolveLocalPath(ssh.identity_file, opts.inventoryDir))];
  } else {
    const files =
      cfg.identityFiles.length > 0
        ? cfg.identityFiles
        : DEFAULT_IDENTITIES.map((f) => join(homedir(), '.ssh', f));
    identities = files.filter((f) => existsSync(f)).map((f) => loadIdentity(host.name, f));
    // IdentitiesOnly: only the named files (ssh would offer the agent's copy of those; ssh2 cannot choose)
    const onlyFiles = cfg.identitiesOnly === true && cfg.identityFiles.length > 0 && identities.length > 0;
    agent = agentSock !== undefined && agentSock !== '' && !onlyFiles ? agentSock : undefined;
  }

  let knownHostsFiles: string[];
  if (ssh.known_hosts !== undefined) knownHostsFiles = [resolveLocalPath(ssh.known_hosts, opts.inventoryDir)];
  else {
    knownHostsFiles = cfg.userKnownHostsFiles ?? [join(homedir(), '.ssh', 'known_hosts')];
    knownHostsFiles = [...knownHostsFiles, '/etc/ssh/ssh_known_hosts'];
  }
  const hostKeyPolicy: HostKeyPolicy =
    opts.hostKeyPolicy ?? ssh.host_key_policy ?? policyFromConfig(cfg.strictHostKeyChecking) ?? 'strict';
  const connectTimeoutMs = (ssh.connect_timeout_s ?? cfg.connectTimeoutS ?? DEFAULT_CONNECT_TIMEOUT_S) * 1000;

  let sudoPassword: string | undefined;
  if (ssh.sudo_password !== undefined) {
    try {
      sudoPassword = resolveSecret(ssh.sudo_password, opts.inventoryDir);
    } catch (e) {
      throw new TransportError(host.name, 'sudo', `ssh.sudo_password: ${(e as Error).message}`);
    }
  }

  const jumpSpec = ssh.jump_host ?? cfg.proxyJump;
  const hops = jumpSpec ? jumpSpec.split(',').map((s) => parseHop(s.trim())) : [];
  // ProxyCommand (only from ssh -G: the built-in reader refused it above); the inventory's jump_host wins
  const proxyCommand =
    ssh.jump_host === undefined && cfg.proxyJump === undefined && cfg.proxyCommand !== undefined
      ? expandTokens(cfg.proxyCommand, { host: hostName, originalHost: host.address, port, user })
      : undefined;

  const jumpClients: Client[] = [];
  let sock: Duplex | undefined;
  let proxySock: Duplex | undefined;
  try {
    if (proxyCommand !== undefined) {
      proxySock = await proxyCommandSocket(proxyCommand, host.name);
      sock = proxySock;
    }
    for (const hop of hops) {
      const hcfg = await lookup(hop.host, hop.port !== undefined ? { port: hop.port } : {});
      if (hcfg.proxyCommand !== undefined && hcfg.proxyJump === undefined)
        throw new UserError(
          `${host.name}: ssh_config sets ProxyCommand for the jump host ${hop.host} (${hcfg.proxyCommand}): dpvs-deploy runs a ProxyCommand for the target only; use ProxyJump for the jump host`,
        );
      const hopHost = hcfg.hostName ?? hop.host;
      const hopPort = hop.port ?? hcfg.port ?? 22;
      const hopIds = hcfg.identityFiles.filter((f) => existsSync(f)).map((f) => loadIdentity(host.name, f));
      const hopEndpoint: SshEndpoint = {
        label: `${host.name} (jump host ${hop.host})`,
        host: hopHost,
        port: hopPort,
        user: hop.user ?? hcfg.user ?? safeLocalUser(),
        identities: hopIds.length > 0 ? hopIds : identities,
        knownHostsFiles: hcfg.userKnownHostsFiles
          ? [...knownHostsFiles, ...hcfg.userKnownHostsFiles]
          : knownHostsFiles,
        hostKeyPolicy,
        connectTimeoutMs,
        ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
      };
      const hopAgent =
        agent ??
        (agentSock !== undefined && agentSock !== '' && ssh.identity_file === undefined
          ? agentSock
          : undefined);
      if (hopAgent) hopEndpoint.agent = hopAgent;
      if (sock) hopEndpoint.sock = sock;
      const c = await openSshClient(hopEndpoint);
      jumpClients.push(c);
      const idx = hops.indexOf(hop);
      const nextHop = hops[idx + 1];
      const nextCfg = nextHop ? await lookup(nextHop.host, {}) : undefined;
      const [nh, np] = nextHop
        ? [nextCfg?.hostName ?? nextHop.host, nextHop.port ?? nextCfg?.port ?? 22]
        : [hostName, port];
      sock = await forward(c, nh, np, hopEndpoint.label);
    }
    const endpoint: SshEndpoint = {
      label: host.name,
      host: hostName,
      port,
      user,
      identities,
      knownHostsFiles,
      hostKeyPolicy,
      connectTimeoutMs,
      ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    };
    if (agent) endpoint.agent = agent;
    if (sock) endpoint.sock = sock;
    const client = await openSshClient(endpoint);
    const t = new SshTransport({
      name: host.name,
      user,
      client,
      jumpClients,
      connections: jumpClients.length + 1,
      sudo: ssh.sudo === true,
      ...(sudoPassword !== undefined ? { sudoPassword } : {}),
      ...(ssh.command_timeout_s !== undefined ? { commandTimeoutMs: ssh.command_timeout_s * 1000 } : {}),
      ...(opts.maxSessions !== undefined ? { maxSessions: opts.maxSessions } : {}),
      ...(opts.onTranscript ? { onTranscript: opts.onTranscript } : {}),
    });
    return t;
  } catch (e) {
    for (const c of jumpClients.reverse()) destroyClient(c);
    proxySock?.destroy();
    throw e;
  }
}

function forward(c: Client, host: string, port: number, label: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    c.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
      if (err) {
        reject(
          new TransportError(
            label,
            /refused|connect failed/i.test(err.message) ? 'refused' : 'unreachable',
            `the jump host could not reach ${host}:${port}: ${err.message}`,
          ),
        );
      } else resolve(stream);
    });
  });
}
