/**
 * `dpvs-deploy init --discover USER@HOST`: connect (src/transport/connect.ts), probe once (read only),
 * propose an inventory (./inventory.ts), check that it validates and run preflight on it, print it.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { InventoryError, UserError } from '../errors.js';
import { mergeRequests, probeHost } from '../facts/probe.js';
import type { Facts } from '../facts/types.js';
import { loadInventoryBytes } from '../inventory/load.js';
import type { SshSettings } from '../inventory/schema.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import type { CheckResult } from '../plan/change.js';
import { fleetOf } from '../plan/fleet.js';
import { formatCheck } from '../preflight/format.js';
import { preflightProbe, runPreflight } from '../preflight/index.js';
import { connectHost, parseHop } from '../transport/connect.js';
import { readSshConfig, safeLocalUser } from '../transport/ssh-config.js';
import type { Transport } from '../transport/types.js';
import { type Discovered, type DiscoverRole, discoverInventory } from './inventory.js';

export interface DiscoverCliOptions {
  role?: string;
  port?: number;
  identity?: string;
  knownHosts?: string;
  sshConfig?: string;
  name?: string;
  acceptNewHostKeys?: boolean;
}

export interface DiscoverIo {
  out(text: string): void;
  err(text: string): void;
}

export interface Target {
  /** what connectHost is given (an ssh_config alias stays an alias) */
  connectAs: ResolvedHost;
  sshConfigPath?: string;
  /** what the discovered inventory says */
  address: string;
  ssh: SshSettings;
}

const abs = (p: string): string => (isAbsolute(p) ? p : resolve(p));

/** USER@HOST + options → how to connect now and what the inventory should say. Reads the ssh_config only. */
export function resolveTarget(spec: string, o: DiscoverCliOptions, role: DiscoverRole): Target {
  const hop = parseHop(spec);
  if (!hop.host || !/^[A-Za-z0-9_.:-]+$/.test(hop.host))
    throw new UserError(`init --discover: expected [USER@]HOST[:PORT], got '${spec}'`);
  const port = o.port ?? hop.port;
  if (o.sshConfig !== undefined && !existsSync(o.sshConfig))
    throw new UserError(`init --discover: --ssh-config ${o.sshConfig}: no such file`);
  const cfgPath = o.sshConfig ?? join(homedir(), '.ssh', 'config');
  const cfg = readSshConfig(cfgPath, hop.host, {
    ...(hop.user !== undefined ? { user: hop.user } : {}),
    ...(port !== undefined ? { port } : {}),
  });
  const user = hop.user ?? cfg.user ?? safeLocalUser();
  const identity = o.identity ?? cfg.identityFiles.find((f) => existsSync(f));
  if (o.identity !== undefined && !existsSync(o.identity))
    throw new UserError(`init --discover: -i ${o.identity}: no such file`);
  const knownHosts = o.knownHosts ?? cfg.userKnownHostsFiles?.[0];
  const ssh: SshSettings = { user };
  const finalPort = port ?? cfg.port;
  if (finalPort !== undefined && finalPort !== 22) ssh.port = finalPort;
  if (identity !== undefined) ssh.identity_file = abs(identity);
  if (knownHosts !== undefined) ssh.known_hosts = abs(knownHosts);
  if (cfg.proxyJump !== undefined) ssh.jump_host = cfg.proxyJump;
  if (user !== 'root') ssh.sudo = true;
  // Everything the ssh_config said is now in the inventory: it does not need the file any more.
  if (o.sshConfig !== undefined) ssh.use_ssh_config = false;

  const connectSsh: SshSettings = { user };
  if (port !== undefined) connectSsh.port = port;
  if (o.identity !== undefined) connectSsh.identity_file = abs(o.identity);
  if (o.knownHosts !== undefined) connectSsh.known_hosts = abs(o.knownHosts);
  if (user !== 'root') connectSsh.sudo = true;
  const target: Target = {
    connectAs: { name: hop.host, address: hop.host, roles: [role], groups: [], ssh: connectSsh },
    address: cfg.hostName ?? hop.host,
    ssh,
  };
  if (o.sshConfig !== undefined) target.sshConfigPath = o.sshConfig;
  return target;
}

function parseRole(r: string | undefined): DiscoverRole {
  if (r === undefined || r === 'balancer' || r === 'realserver') return r ?? 'balancer';
  throw new UserError(`init --discover: --role must be balancer or realserver, got '${r}'`);
}

/** A one-host inventory for the probe request: what preflight reads depends on the role only here. */
function provisional(target: Target, role: DiscoverRole): { inv: LoadedInventory; host: ResolvedHost } {
  const text = stringify({
    version: 1,
    hosts: { probe: { address: target.address, roles: [role] } },
  });
  const inv = loadInventoryBytes(Buffer.from(text), '(discover)', resolve('discover.yaml'));
  const host = inv.hosts[0];
  if (!host) throw new Error('provisional inventory without a host');
  return { inv, host: { ...host, dpdk: { driver: 'uio_pci_generic' } } };
}

/** Loads the discovered YAML as `apply` would and runs preflight on the probed facts. */
export function checkDiscovered(d: Discovered, facts: Facts): CheckResult[] {
  let inv: LoadedInventory;
  try {
    inv = loadInventoryBytes(Buffer.from(d.yaml), '(discovered inventory)', resolve('inventory.yaml'));
  } catch (e) {
    if (e instanceof InventoryError)
      throw new UserError(
        `the discovered inventory does not validate (a bug in init --discover):\n${e.message}`,
      );
    throw e;
  }
  const host = inv.hosts.find((h) => h.name === d.name);
  if (!host) throw new UserError(`the discovered inventory lacks host ${d.name}`);
  return runPreflight({ host, inventory: inv, facts, fleet: fleetOf(inv, new Map([[d.name, facts]])) });
}

export async function discoverCommand(spec: string, o: DiscoverCliOptions, io: DiscoverIo): Promise<number> {
  const role = parseRole(o.role);
  const target = resolveTarget(spec, o, role);
  const { inv, host } = provisional(target, role);
  let transport: Transport | undefined;
  let facts: Facts;
  try {
    transport = await connectHost(target.connectAs, {
      inventoryDir: process.cwd(),
      ...(o.acceptNewHostKeys ? { hostKeyPolicy: 'accept-new' as const } : {}),
      ...(target.sshConfigPath !== undefined ? { sshConfigPath: target.sshConfigPath } : {}),
      onNotice: (m) => io.err(m),
    });
    facts = await probeHost(transport, mergeRequests([preflightProbe(host, inv)]));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`init --discover ${spec}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await transport?.close();
  }
  const words = ['dpvs-deploy init --discover', spec, `--role ${role}`];
  const d = discoverInventory(facts, {
    address: target.address,
    role,
    ssh: target.ssh,
    command: words.join(' '),
    ...(o.name !== undefined ? { name: o.name } : {}),
  });
  const results = checkDiscovered(d, facts);
  io.out(d.yaml);
  const nicsUsed = d.nics.filter((n) => n.name !== null).length;
  io.err(
    `discovered ${d.name} (${facts.os.prettyName || facts.os.id}, ${facts.numa.length} NUMA node(s), ` +
      `${facts.nics.length} NIC(s)${role === 'balancer' ? `, ${nicsUsed} proposed for DPDK` : ''})`,
  );
  for (const r of results) io.err(formatCheck(r, d.name));
  const blocking = results.filter((r) => r.severity === 'error' && r.waived === undefined);
  io.err(
    blocking.length
      ? `preflight on the discovered inventory: ${blocking.length} error(s); fix them before apply`
      : `preflight on the discovered inventory: no errors${results.length ? ` (${results.length} warning(s))` : ''}`,
  );
  return 0;
}
