/**
 * Build-once decisions on a large fleet: the fleet is grouped once per planning pass (fleet derivations,
 * src/plan/fleet.ts) instead of being scanned for every host. Every host's decision must equal the one the per-host fleet
 * scan made; the scans are kept here verbatim as the reference.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../../../src/inventory/types.js';
import {
  buildDecision,
  dpdkBuildGroups,
  needsBuild as dpdkNeedsBuild,
  type BuildRole,
} from '../../../src/tasks/dpdk/build-role.js';
import { dpdkSpec } from '../../../src/tasks/dpdk/spec.js';
import { COMPILER_OUTPUT, expectedStamp as dpdkStamp } from '../../../src/tasks/dpdk/stamp.js';
import {
  buildTargetKey,
  provisionOf,
  releaseInstalled,
  releaseOf,
  type Provision,
  type ReleasePlan,
} from '../../../src/tasks/dpvs/release.js';
import { isBalancer } from '../../../src/tasks/dpvs/settings.js';
import {
  kmodRole,
  needsBuild as kmodNeedsBuild,
  refusal,
  type KmodRole,
} from '../../../src/tasks/toa/builder.js';
import { setObserved } from '../../support/rs-kmod-facts.js';
import {
  expectedStamp as kmodStamp,
  kmodSpec,
  type KmodName,
  type KmodSpec,
} from '../../../src/tasks/toa/spec.js';
import { fleetOf, type Fleet as PlanFleet } from '../../../src/plan/fleet.js';
import type { PlanContext } from '../../../src/plan/task.js';
import { factsBuilder, inventoryOf, r630, r630Host } from '../../support/facts-builder.js';

// ---- the per-host fleet scans as they were (reference) ----

function refDpdkRole(ctx: PlanContext): BuildRole | null {
  const spec = dpdkSpec(ctx.host, ctx.inventory);
  if (!spec) return null;
  const stamp = dpdkStamp(spec, ctx.facts, ctx.inventory);
  if (!dpdkNeedsBuild(spec, ctx.facts, stamp)) return { kind: 'current' };
  const group: string[] = [];
  for (const h of ctx.inventory.hosts) {
    if (h.name === ctx.host.name) {
      group.push(h.name);
      continue;
    }
    const f = ctx.fleet.facts.get(h.name);
    if (!f) continue;
    const s = dpdkSpec(h, ctx.inventory);
    if (!s) continue;
    const st = dpdkStamp(s, f, ctx.inventory);
    if (st === stamp && dpdkNeedsBuild(s, f, st)) group.push(h.name);
  }
  group.sort();
  const builder = group[0] as string;
  return builder === ctx.host.name
    ? { kind: 'build', receivers: group.slice(1) }
    : { kind: 'receive', builder };
}

function refProvision(
  host: ResolvedHost,
  inventory: LoadedInventory,
  fleet: ReadonlyMap<string, Facts>,
  facts: Facts,
  release: ReleasePlan,
): Provision {
  const key = buildTargetKey(facts, host.dpdk?.march ?? 'native');
  const peers: Array<{ name: string; has: boolean }> = [];
  for (const h of inventory.hosts) {
    const f = h.name === host.name ? facts : fleet.get(h.name);
    if (!f || !isBalancer(h) || buildTargetKey(f, h.dpdk?.march ?? 'native') !== key) continue;
    let r: ReleasePlan;
    try {
      r = releaseOf(h, inventory);
    } catch {
      continue;
    }
    if (r.id !== release.id || r.dir !== release.dir) continue;
    peers.push({ name: h.name, has: releaseInstalled(r, f) });
  }
  peers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const source = peers.find((p) => p.has) ?? peers[0];
  if (!source || source.name === host.name) return { kind: 'build' };
  return { kind: 'copy', from: source.name };
}

function refKmodRole(ctx: PlanContext, spec: KmodSpec, m: KmodName): KmodRole {
  const stamp = kmodStamp(spec, ctx.facts, m);
  if (!kmodNeedsBuild(spec, ctx.facts, m)) return { kind: 'current' };
  const group = [ctx.host.name];
  const holders: string[] = [];
  for (const h of ctx.inventory.hosts) {
    if (h.name === ctx.host.name) continue;
    const f = ctx.fleet.facts.get(h.name);
    const s = f ? kmodSpec(h, ctx.inventory) : null;
    if (!f || !s || !s.modules.includes(m) || refusal(h.name, s, f, m)) continue;
    if (kmodStamp(s, f, m) !== stamp) continue;
    if (kmodNeedsBuild(s, f, m)) group.push(h.name);
    else holders.push(h.name);
  }
  if (holders.length) return { kind: 'receive', builder: holders.sort()[0] as string };
  group.sort();
  const builder = group[0] as string;
  return builder === ctx.host.name
    ? { kind: 'build', receivers: group.slice(1) }
    : { kind: 'receive', builder };
}

// ---- a 300-host fleet with several build groups, built, unbuilt, unreachable and projected hosts ----

const SHA = 'a'.repeat(64);
const N = 300;

/** A deterministic pseudo-random sequence (names in a shuffled inventory order, variants). */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

interface Fleet {
  hosts: ResolvedHost[];
  inventory: LoadedInventory;
  fleet: Map<string, Facts>;
  /** what each host plans against (projected facts: sometimes not the fleet's entry) */
  own: Map<string, Facts>;
}

function balancerFleet(seed: number): Fleet {
  const rand = rng(seed);
  const versions = ['1.9.10', '1.10.2'] as const;
  const dpdkOf = { '1.9.10': '20.11.10', '1.10.2': '24.11' } as const;
  const hosts: ResolvedHost[] = [];
  for (let i = 0; i < N; i++) {
    const dpvs = versions[Math.floor(rand() * 2)] as (typeof versions)[number];
    const march = rand() < 0.2 ? 'haswell' : undefined;
    hosts.push(
      r630Host({
        name: `lb${String(Math.floor(rand() * 1e6)).padStart(6, '0')}-${i}`,
        dpvs: { version: dpvs, source: { url: `http://fx/dpvs-${dpvs}.tar.gz`, sha256: SHA } },
        dpdk: {
          version: dpdkOf[dpvs],
          source: { url: `http://fx/dpdk-${dpdkOf[dpvs]}.tar.xz`, sha256: SHA },
          driver: 'uio_pci_generic',
          ...(march ? { march } : {}),
        },
      }),
    );
  }
  const inventory = inventoryOf(hosts);
  const variants = [
    r630().output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n').build(),
    r630().output(COMPILER_OUTPUT, 'gcc (Debian 12.2.0-14) 12.2.0\n').cpuFlags(['sse4_2', 'avx2']).build(),
    r630().os('rocky9').output(COMPILER_OUTPUT, 'gcc (GCC) 11.4.1\n').build(),
  ];
  const fleet = new Map<string, Facts>();
  const own = new Map<string, Facts>();
  for (const h of hosts) {
    let f = variants[Math.floor(rand() * variants.length)] as Facts;
    const roll = rand();
    if (roll < 0.15) {
      // DPDK already built here
      f = structuredClone(f);
      const spec = dpdkSpec(h, inventory)!;
      f.files[spec.layout.stamp] = {
        exists: true,
        sha256: null,
        mode: '0644',
        content: dpdkStamp(spec, f, inventory),
      };
    } else if (roll < 0.3) {
      // DPVS release already installed here
      f = structuredClone(f);
      const r = releaseOf(h, inventory);
      f.files[r.stamp] = { exists: true, sha256: null, mode: '0644', content: r.stampContent };
    }
    if (rand() < 0.05) {
      own.set(h.name, f); // unreachable: planned (by the test) but absent from the fleet
      continue;
    }
    fleet.set(h.name, f);
    // an earlier task of the run changed the compiler on some hosts: they plan on projected facts
    own.set(
      h.name,
      rand() < 0.1
        ? { ...f, outputs: { ...f.outputs, [COMPILER_OUTPUT]: { code: 0, stdout: 'gcc 13\n' } } }
        : f,
    );
  }
  return { hosts, inventory, fleet, own };
}

const ROCKY = '5.14.0-362.8.1.el9_3.x86_64';
const DEBIAN = '6.1.0-18-amd64';

function realserverFleet(seed: number): Fleet {
  const rand = rng(seed);
  const hosts: ResolvedHost[] = [];
  for (let i = 0; i < N; i++)
    hosts.push({
      name: `rs${String(Math.floor(rand() * 1e6)).padStart(6, '0')}-${i}`,
      address: `10.1.${i >> 8}.${i & 255}`,
      roles: ['realserver'],
      groups: [],
      dpvs: { version: '1.9.10', source: { url: 'http://mirror/dpvs-1.9.10.tar.gz', sha256: SHA } },
      realserver: rand() < 0.3 ? { uoa: true } : {},
    });
  const inventory = inventoryOf(hosts);
  const fleet = new Map<string, Facts>();
  const own = new Map<string, Facts>();
  for (const h of hosts) {
    const kernel = rand() < 0.5 ? ROCKY : DEBIAN;
    const f = factsBuilder()
      .hostname(h.name)
      .os(kernel === ROCKY ? 'rocky9' : 'debian12')
      .kernel({ release: kernel, machine: 'x86_64', headersInstalled: true, lockdown: 'none', ipv6: true })
      .build();
    const spec = kmodSpec(h, inventory)!;
    const built = rand() < 0.1;
    setObserved(
      f,
      kernel,
      Object.fromEntries(
        (['toa', 'uoa'] as const).map((m) => [
          m,
          {
            ...(built && spec.modules.includes(m) ? { stamp: kmodStamp(spec, f, m) } : {}),
            ...(built ? { built: 'b'.repeat(64) } : {}),
          },
        ]),
      ),
    );
    own.set(h.name, f);
    if (rand() >= 0.05) fleet.set(h.name, f);
  }
  return { hosts, inventory, fleet, own };
}

/** One planning pass's fleet (as planFleet builds one per run). */
const pass = (w: Fleet): PlanFleet => fleetOf(w.inventory, w.fleet);

const ctxOf = (w: Fleet, view: PlanFleet, h: ResolvedHost): PlanContext => ({
  host: h,
  inventory: w.inventory,
  facts: w.own.get(h.name) as Facts,
  fleet: view,
});

describe(`build once on a ${N}-host fleet (grouped once per run)`, () => {
  it('DPDK: every host gets the builder the per-host fleet scan chose', () => {
    const w = balancerFleet(7);
    const view = pass(w);
    const roles = w.hosts.map((h) => buildDecision(ctxOf(w, view, h))?.role ?? null);
    const ref = w.hosts.map((h) => refDpdkRole(ctxOf(w, view, h)));
    expect(roles).toEqual(ref);
    // not a vacuous fleet: several groups, each with one builder and receivers
    const builders = roles.filter((r) => r?.kind === 'build');
    expect(builders.length).toBeGreaterThan(3);
    expect(roles.filter((r) => r?.kind === 'receive').length).toBeGreaterThan(N / 2);
    expect(roles.filter((r) => r?.kind === 'current').length).toBeGreaterThan(10);
  });

  it('DPVS: every balancer builds or copies from the host the per-host fleet scan chose', () => {
    const w = balancerFleet(11);
    const view = pass(w);
    const got = w.hosts.map((h) =>
      provisionOf(h, view, w.own.get(h.name) as Facts, releaseOf(h, w.inventory)),
    );
    const ref = w.hosts.map((h) =>
      refProvision(h, w.inventory, w.fleet, w.own.get(h.name) as Facts, releaseOf(h, w.inventory)),
    );
    expect(got).toEqual(ref);
    expect(got.filter((p) => p.kind === 'copy').length).toBeGreaterThan(N / 2);
    expect(got.filter((p) => p.kind === 'build').length).toBeGreaterThan(1);
  });

  it('toa/uoa: every real server gets the builder or holder the per-host fleet scan chose', () => {
    const w = realserverFleet(3);
    const view = pass(w);
    for (const m of ['toa', 'uoa'] as const) {
      const wanting = w.hosts.filter((h) => kmodSpec(h, w.inventory)?.modules.includes(m));
      const got = wanting.map((h) => kmodRole(ctxOf(w, view, h), kmodSpec(h, w.inventory)!, m));
      const ref = wanting.map((h) => refKmodRole(ctxOf(w, view, h), kmodSpec(h, w.inventory)!, m));
      expect(got).toEqual(ref);
      expect(got.some((r) => r.kind === 'receive')).toBe(true);
    }
  });

  it('groups once per pass: every host of a pass shares one derivation, a new pass derives again', () => {
    const w = balancerFleet(13);
    const derive = vi.spyOn(dpdkBuildGroups, 'derive');
    try {
      const view = pass(w);
      const roles = w.hosts.map((h) => buildDecision(ctxOf(w, view, h))?.role ?? null);
      expect(roles.filter((r) => r?.kind === 'receive').length).toBeGreaterThan(N / 2);
      expect(derive).toHaveBeenCalledTimes(1);
      const again = pass(w);
      expect(w.hosts.map((h) => buildDecision(ctxOf(w, again, h))?.role ?? null)).toEqual(roles);
      expect(derive).toHaveBeenCalledTimes(2);
    } finally {
      derive.mockRestore();
    }
  });

  it('a pass over the refreshed facts (apply verifying a host) sees the refresh (no stale grouping)', () => {
    const w = balancerFleet(5);
    const before = pass(w);
    const first = w.hosts.map((h) => buildDecision(ctxOf(w, before, h))?.role ?? null);
    // the builder of the first group is applied: its fresh facts hold the build
    const i = first.findIndex((r) => r?.kind === 'build' && r.receivers.length > 0);
    const b = w.hosts[i] as ResolvedHost;
    const fresh = structuredClone(w.fleet.get(b.name) as Facts);
    const spec = dpdkSpec(b, w.inventory)!;
    fresh.files[spec.layout.stamp] = {
      exists: true,
      sha256: null,
      mode: '0644',
      content: dpdkStamp(spec, fresh, w.inventory),
    };
    w.fleet.set(b.name, fresh);
    w.own.set(b.name, fresh);
    // the old pass copied the facts it was made from: it still answers for that snapshot
    const j = first.findIndex((r) => r?.kind === 'receive' && r.builder === b.name);
    const receiver = w.hosts[j] as ResolvedHost;
    expect(buildDecision(ctxOf(w, before, receiver))?.role).toEqual(first[j]);
    const view = pass(w);
    const after = w.hosts.map((h) => buildDecision(ctxOf(w, view, h))?.role ?? null);
    expect(after).toEqual(w.hosts.map((h) => refDpdkRole(ctxOf(w, view, h))));
    expect(after[i]).toEqual({ kind: 'current' });
    expect(after[j]).not.toEqual(first[j]);
    expect(after).not.toEqual(first);
  });

  it('a Fleet copies the facts at its first read (apply makes one per verified task; most never read it)', () => {
    const w = balancerFleet(3);
    const view = pass(w);
    const [a, b] = w.hosts as [ResolvedHost, ResolvedHost];
    const fresh = structuredClone(w.fleet.get(a.name) as Facts);
    w.fleet.set(a.name, fresh);
    // not read yet: the first read sees the map as it is then
    expect(view.facts.get(a.name)).toBe(fresh);
    // read: later changes to the map no longer reach it
    const n = w.fleet.size;
    w.fleet.delete(b.name);
    expect(view.facts.has(b.name)).toBe(true);
    expect(view.facts.size).toBe(n);
    expect(w.fleet.size).toBe(n - 1);
  });

  it('is deterministic: the same inputs in a fresh fleet map give the same decisions', () => {
    const a = balancerFleet(9);
    const b = balancerFleet(9);
    const roles = (w: Fleet) => {
      const view = pass(w);
      return w.hosts.map((h) => buildDecision(ctxOf(w, view, h))?.role ?? null);
    };
    expect(roles(a)).toEqual(roles(b));
    // planning the hosts in another order changes nothing either
    const view = pass(b);
    const reversed = [...b.hosts].reverse().map((h) => buildDecision(ctxOf(b, view, h))?.role ?? null);
    expect(reversed.reverse()).toEqual(roles(a));
  });
});
