/**
 * DPVS releases: the id of the release a host should run (a hash of everything the build depends on),
 * the build stamp, the steps that build it against the installed DPDK (or copy it from a host of the
 * run that builds the identical target), and the `dpvs -v` check. Pure.
 *
 *   /opt/dpvs/releases/<id>/bin/{dpvs,dpip,ipvsadm,keepalived}
 *   /opt/dpvs/releases/<id>/.dpvs-deploy-build.json   stamp: the inputs of the build (written last)
 *   /opt/dpvs/releases/<id>.tar.gz                    the artifact other hosts copy
 *   /opt/dpvs-deploy/dpvs/<id>/src                    the source tree the build ran in
 */
import { createHash } from 'node:crypto';
import type { Facts } from '../../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../../inventory/types.js';
import type { Step } from '../../plan/change.js';
import { quote, sh } from '../../transport/quote.js';
import { parseDpvsVersion } from '../../versions.js';
import { dpdkLayout, pkgConfigPath } from '../../desired/layout.js';
import { dpvsVersionOf, isBalancer, layoutOf, pairingOf } from './settings.js';
import { firstOther, minName, throwFirstOther, type HostError } from '../build-once.js';
import type { Fleet, FleetDerivation } from '../../plan/fleet.js';
import { dpdkInputsId } from '../dpdk/stamp.js';
import { loggedBuild } from '../cause.js';
import { removeOnFailure } from '../dpdk/scripts.js';
import { dpdkSpec } from '../dpdk/spec.js';
import { fetchAndUnpackSteps, resolveSource, sourceIdentity, type ResolvedSource } from './source.js';

export const DPVS_WORK_ROOT = '/opt/dpvs-deploy/dpvs';
export const STAMP_NAME = '.dpvs-deploy-build.json';

export interface ReleasePlan {
  id: string;
  version: string;
  dpdkVersion: string;
  source: ResolvedSource;
  /** releases/<id> */
  dir: string;
  stamp: string;
  stampContent: string;
  artifact: string;
  tree: string;
}

function dpdkBuildOf(host: ResolvedHost, inventory: LoadedInventory): string | undefined {
  const spec = dpdkSpec(host, inventory);
  return spec ? dpdkInputsId(spec, inventory) : undefined;
}

export function releaseOf(host: ResolvedHost, inventory: LoadedInventory): ReleasePlan {
  const version = dpvsVersionOf(host);
  const { pairing, dpdkVersion } = pairingOf(host);
  const source = resolveSource(host.dpvs?.source, version, inventory);
  const inputs = {
    dpvs: version,
    source: sourceIdentity(source),
    dpdk: dpdkVersion,
    dpdkDiscovery: pairing.dpdkDiscovery,
    march: host.dpdk?.march ?? 'native',
    // absent unless set, so the ids of releases built without it stay the same
    buildEnv: host.dpvs?.build_env,
    // the inventory's DPDK build inputs (dpdk/stamp.ts): a new DPDK tarball, dpdk.patches,
    // dpdk.meson_options, build_dir or kernel modules rebuild DPDK, and so DPVS, which links it statically
    dpdkBuild: dpdkBuildOf(host, inventory),
  };
  const hash = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 12);
  const id = `${version}-${hash}`;
  const l = layoutOf(host);
  const dir = `${l.releases}/${id}`;
  return {
    id,
    version,
    dpdkVersion,
    source,
    dir,
    stamp: `${dir}/${STAMP_NAME}`,
    stampContent: `${JSON.stringify({ release: id, ...inputs })}\n`,
    artifact: `${dir}.tar.gz`,
    tree: `${DPVS_WORK_ROOT}/${id}/src`,
  };
}

/** The release is installed and complete on a host (its stamp is the one this build writes). */
export function releaseInstalled(r: ReleasePlan, facts: Facts): boolean {
  return facts.files[r.stamp]?.content === r.stampContent;
}

/** `dpvs -v` prints "dpvs version: 1.9-10, build on ..."; the inventory writes 1.9.10. */
export function versionPattern(version: string): string {
  const v = parseDpvsVersion(version);
  if (!v) return version.replace(/[.]/g, '\\.');
  return `dpvs version: ${v.major}\\.${v.minor}[.-]${v.patch}([^0-9]|$)`;
}

export function versionCheckCommand(r: ReleasePlan): string {
  const bin = `${r.dir}/bin/dpvs`;
  return (
    sh`v=$(${bin} -v 2>&1); printf '%s\n' "$v"; printf '%s\n' "$v" | grep -Eq ${versionPattern(r.version)} || ` +
    sh`{ echo ${`${bin} -v does not report DPVS ${r.version}`} >&2; exit 1; }`
  );
}

/**
 * What must be identical for one host's build to run on another: OS, architecture, and the CPU target:
 * with -march=native the CPU flags (the compiler targets the build host's CPU), else the -march named.
 */
export function buildTargetKey(facts: Facts, march = 'native'): string {
  return JSON.stringify([
    facts.os.id,
    facts.os.versionId,
    facts.kernel.machine,
    march === 'native' ? [...facts.cpu.flags].sort().join(' ') : `march=${march}`,
  ]);
}

const marchOf = (host: ResolvedHost): string => host.dpdk?.march ?? 'native';

export type Provision = { kind: 'build' } | { kind: 'copy'; from: string };

interface ReleasePeer {
  name: string;
  /** the release is installed on it (fleet facts) */
  has: boolean;
}

interface ReleaseGroups {
  /** build target + release id + dir -> the balancers of the fleet wanting it, sorted by name */
  peers: Map<string, ReleasePeer[]>;
  /** the same, only those that have it */
  holders: Map<string, ReleasePeer[]>;
  /** each inventory host's release (null: not a balancer, or its release cannot be computed) */
  releases: Map<string, ReleasePlan | null>;
  errors: HostError[];
}

const groupKey = (target: string, r: ReleasePlan): string => `${target}\n${r.id}\n${r.dir}`;

function byName(a: ReleasePeer, b: ReleasePeer): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The fleet's balancers grouped by build target and release. */
function groupReleases(inventory: LoadedInventory, fleet: ReadonlyMap<string, Facts>): ReleaseGroups {
  const g: ReleaseGroups = { peers: new Map(), holders: new Map(), releases: new Map(), errors: [] };
  const add = (m: Map<string, ReleasePeer[]>, key: string, peer: ReleasePeer): void => {
    const list = m.get(key);
    if (list) list.push(peer);
    else m.set(key, [peer]);
  };
  for (const h of inventory.hosts) {
    const balancer = isBalancer(h);
    let r: ReleasePlan | null = null;
    if (balancer)
      try {
        r = releaseOf(h, inventory);
      } catch {
        r = null;
      }
    g.releases.set(h.name, r);
    const f = fleet.get(h.name);
    if (!f || !balancer) continue;
    let target: string;
    try {
      target = buildTargetKey(f, marchOf(h));
    } catch (error) {
      g.errors.push({ host: h.name, error });
      continue;
    }
    if (!r) continue;
    const peer = { name: h.name, has: releaseInstalled(r, f) };
    add(g.peers, groupKey(target, r), peer);
    if (peer.has) add(g.holders, groupKey(target, r), peer);
  }
  for (const m of [g.peers, g.holders]) for (const list of m.values()) list.sort(byName);
  return g;
}

export const releaseGroups: FleetDerivation<ReleaseGroups> = {
  name: 'dpvs-release-groups',
  derive: groupReleases,
};

/**
 * Build once per identical target: among the balancers of this run that want the same release on the
 * same target, the first (by name) that already has it is the source, else the first one builds. This
 * host builds when it is that host, and copies from it otherwise. This host is judged on `facts` (its
 * projected facts), the others on the fleet's; the fleet is grouped once per planning pass, not scanned
 * per host.
 */
export function provisionOf(host: ResolvedHost, fleet: Fleet, facts: Facts, release: ReleasePlan): Provision {
  const me = host.name;
  const key = groupKey(buildTargetKey(facts, marchOf(host)), release);
  const g = fleet.derived(releaseGroups);
  throwFirstOther(g.errors, me);
  // this host is a peer when its inventory entry is a balancer wanting this very release
  const mine = g.releases.get(me);
  const self = mine && mine.id === release.id && mine.dir === release.dir ? mine : null;
  const selfHas = self !== null && releaseInstalled(self, facts);
  const holder = minName(selfHas ? me : undefined, firstOther(g.holders.get(key) ?? [], me)?.name);
  const source = holder ?? minName(self ? me : undefined, firstOther(g.peers.get(key) ?? [], me)?.name);
  if (!source || source === me) return { kind: 'build' };
  return { kind: 'copy', from: source };
}

function buildEnv(host: ResolvedHost, dpdkVersion: string): string {
  const { pairing } = pairingOf(host);
  const d = dpdkLayout(dpdkVersion, host.dpdk?.build_dir);
  // dpvs.build_env first (names validated by the schema, values quoted), then what dpvs-deploy sets
  const user = Object.entries(host.dpvs?.build_env ?? {})
    .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `${k}=${quote(v)} `)
    .join('');
  if (pairing.dpdkDiscovery === 'rte_sdk') {
    return user + sh`RTE_SDK=${`${d.srcParent}/${pairing.tarballTopDir}`} RTE_TARGET=${d.rteTarget}`;
  }
  return user + sh`PKG_CONFIG_PATH=${pkgConfigPath(d.prefix)}`;
}

/** Copies the tree's bin/ into a fresh releases/<id> (temp dir, then rename), then packs the artifact. */
function installSteps(r: ReleasePlan): Step[] {
  const tmp = `${r.dir}.tmp`;
  return [
    {
      kind: 'exec',
      command:
        sh`rm -rf ${tmp} && mkdir -p ${tmp} && cp -pR ${`${r.tree}/bin`} ${`${tmp}/bin`}` +
        sh` && rm -rf ${r.dir} && mv ${tmp} ${r.dir}`,
    },
    { kind: 'exec', command: versionCheckCommand(r) },
    {
      kind: 'exec',
      command: sh`tar -czf ${`${r.artifact}.part`} -C ${r.dir} . && mv -f ${`${r.artifact}.part`} ${r.artifact}`,
    },
    { kind: 'write', path: r.stamp, content: r.stampContent, mode: 0o644 },
  ];
}

/**
 * Fetch, unpack, `make && make install` in the tree's own directory (INSDIR comes from PWD), install.
 * A failed unpack, build or install removes the build's work directory and the half-copied release
 * (no half-built tree stays behind; `current` and the releases before it are untouched).
 */
export function buildSteps(host: ResolvedHost, r: ReleasePlan): Step[] {
  const env = buildEnv(host, r.dpdkVersion);
  const work = r.tree.slice(0, r.tree.lastIndexOf('/'));
  // the build's output in <work>/build.log; a failure names its cause (cause.ts: GCC 12 / OpenSSL 3
  // with the inventory's fix, a library the link cannot find, else the first error line)
  const make = loggedBuild(
    `DPVS ${r.version} build`,
    sh`cd ${r.tree} && ` + `${env} make -j"$(nproc 2>/dev/null || echo 1)" && ${env} make install`,
    `${work}/build.log`,
  );
  const clean = (s: Step): Step =>
    s.kind === 'exec' ? { ...s, command: removeOnFailure(s.command, [work, `${r.dir}.tmp`]) } : s;
  const l = layoutOf(host);
  // a release that fails `dpvs -v` or its packing is half-installed: removed, unless `current` is it
  const unInstall = (s: Step): Step =>
    s.kind === 'exec'
      ? {
          ...s,
          command: removeOnFailure(
            s.command,
            [work, `${r.dir}.tmp`, `${r.artifact}.part`],
            sh`[ "$(readlink ${l.current})" = ${r.dir} ] || rm -rf ${r.dir}`,
          ),
        }
      : s;
  const [copy, check, pack, ...rest] = installSteps(r);
  return [
    ...fetchAndUnpackSteps(r.source, r.tree).map((s) =>
      s.kind === 'exec' && s.command.includes(r.tree) ? clean(s) : s,
    ),
    clean({ kind: 'exec', command: make, timeoutMs: 3_600_000 }),
    ...[copy, check, pack].map((s) => (s === copy ? clean(s as Step) : unInstall(s as Step))),
    ...rest,
  ];
}

/** Copy the artifact another host of the run built, unpack it as releases/<id>, check it. */
export function copySteps(r: ReleasePlan, from: string): Step[] {
  const tmp = `${r.dir}.tmp`;
  return [
    { kind: 'exec', command: sh`mkdir -p ${r.dir.slice(0, r.dir.lastIndexOf('/'))}` },
    { kind: 'copy-from-host', sourceHost: from, sourcePath: r.artifact, path: r.artifact, mode: 0o644 },
    {
      kind: 'exec',
      command: sh`rm -rf ${tmp} && mkdir -p ${tmp} && tar -xzf ${r.artifact} -C ${tmp} && rm -f ${`${tmp}/${STAMP_NAME}`} && rm -rf ${r.dir} && mv ${tmp} ${r.dir}`,
    },
    { kind: 'exec', command: versionCheckCommand(r) },
    { kind: 'write', path: r.stamp, content: r.stampContent, mode: 0o644 },
  ];
}
