import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { recordResult } from '../../integration/reliability-support.js';
import { InventoryError } from '../../../src/errors.js';
import { loadInventoryBytes } from '../../../src/inventory/load.js';

/** mulberry32: small seeded PRNG so every run mutates the same way. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const REPLACEMENTS = [
  '42',
  '-1',
  'true',
  '~',
  '[]',
  '{}',
  '"str"',
  "'0000:zz'",
  '3.5',
  '[1, [2]]',
  '*x',
  '&a',
  '!!binary x',
  '|',
  '>-',
  'null',
];

function mutate(text: string, rand: () => number): string {
  const lines = text.split('\n');
  const pick = (n: number) => Math.floor(rand() * n);
  const ops = 1 + pick(3);
  for (let k = 0; k < ops; k++) {
    const i = pick(lines.length);
    const line = lines[i] ?? '';
    switch (pick(6)) {
      case 0: // delete a line
        lines.splice(i, 1);
        break;
      case 1: // duplicate a line
        lines.splice(i, 0, line);
        break;
      case 2: {
        // swap two lines
        const j = pick(lines.length);
        lines[i] = lines[j] ?? '';
        lines[j] = line;
        break;
      }
      case 3: {
        // flip a character
        if (!line.length) break;
        const c = pick(line.length);
        const chars = ':-[]{}#&*!|>\'" \tx0.,';
        lines[i] = line.slice(0, c) + chars[pick(chars.length)] + line.slice(c + 1);
        break;
      }
      case 4: // change indentation
        lines[i] = rand() < 0.5 ? ` ${line}` : line.replace(/^ {1,2}/, '');
        break;
      default: {
        // replace a value with another type
        const m = /^(\s*(?:- )?[A-Za-z_]+:\s*)(.+)$/.exec(line);
        if (m) lines[i] = `${m[1]}${REPLACEMENTS[pick(REPLACEMENTS.length)]}`;
      }
    }
  }
  return lines.join('\n');
}

const dir = path.resolve('test/fixtures/inventories');
const samples = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ f, text: readFileSync(path.join(dir, f), 'utf8') }));

describe('inventory loader fuzz', () => {
  it('never crashes on 500 seeded mutations of the valid samples; every diagnostic is positioned', () => {
    const rand = rng(20261125);
    let rejected = 0;
    for (let n = 0; n < 500; n++) {
      const sample = samples[n % samples.length];
      if (!sample) throw new Error('no samples');
      const text = mutate(sample.text, rand);
      const lineCount = text.split('\n').length;
      try {
        loadInventoryBytes(Buffer.from(text), `fuzz-${n}-${sample.f}`);
      } catch (e) {
        if (!(e instanceof InventoryError)) {
          throw new Error(`case ${n} (${sample.f}) crashed: ${String(e)}\n--- input ---\n${text}`);
        }
        rejected++;
        expect(e.diagnostics.length).toBeGreaterThan(0);
        for (const d of e.diagnostics) {
          expect(d.line, `case ${n}: ${d.message}`).toBeGreaterThanOrEqual(1);
          expect(d.line, `case ${n}: ${d.message}`).toBeLessThanOrEqual(lineCount + 1);
          expect(d.col).toBeGreaterThanOrEqual(1);
          expect(d.message.length).toBeGreaterThan(0);
          expect(d.message).not.toMatch(/\n\s+at /);
        }
      }
    }
    // The mutations must actually exercise the error paths.
    expect(rejected).toBeGreaterThan(150);
    recordResult({
      suite: 'inventory',
      name: 'fuzz: seeded random mutations of the example inventories',
      cases: 500,
      outcome: `no crash; ${500 - rejected} loaded, ${rejected} refused, every diagnostic with line and column inside the input`,
      passed: true,
    });
  });
});

// ---------- semantic classes (issue #22) ----------

type Json = Record<string, unknown>;
interface Expectation {
  path: string;
  message: RegExp;
  /** the finding names the conflicting value with its position (default true) */
  other?: boolean;
  /** reported as a warning, not a refusal */
  warning?: boolean;
}
interface Doc {
  hosts: Record<string, Json>;
  groups?: Record<string, { hosts: string[]; vars?: Json }>;
  services?: Json[];
  defaults?: Json;
}

const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const isIpv4Text = (v: unknown): v is string => typeof v === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(v);

/** Where a host setting is written (host entry, then its groups' vars, then defaults), as a path. */
function settingOwner(doc: Doc, host: string, key: string): [Json, string] | undefined {
  const h = doc.hosts[host];
  if (h && key in h) return [h, `hosts.${host}`];
  const gs = Object.entries(doc.groups ?? {}).filter(([, g]) => g.hosts.includes(host));
  for (const [name, g] of gs.reverse()) if (g.vars && key in g.vars) return [g.vars, `groups.${name}.vars`];
  if (doc.defaults && key in doc.defaults) return [doc.defaults, 'defaults'];
  return undefined;
}

const balancersOf = (doc: Doc) =>
  Object.entries(doc.hosts)
    .filter(([, h]) => arr(h.roles).includes('balancer' as never))
    .map(([n]) => n);

/** One mistake of each class, applied to a random eligible place; undefined when the sample has none. */
const CLASS_MUTATIONS: Record<string, (doc: Doc, pick: (n: number) => number) => Expectation | undefined> = {
  'local address = VIP': (doc, pick) => {
    const cands = (doc.services ?? []).flatMap((s, i) =>
      Object.entries((s.local_addresses as Record<string, Json[]>) ?? {}).flatMap(([b, l]) =>
        l.map((_, k) => ({ s, i, b, k })),
      ),
    );
    const c = cands[pick(cands.length)];
    if (!c) return undefined;
    const lips = (c.s.local_addresses as Record<string, Json[]>)[c.b] as Json[];
    (lips[c.k] as Json).address = c.s.vip;
    return { path: `services[${c.i}].local_addresses.${c.b}[${c.k}].address`, message: /is the VIP of/ };
  },
  'real server = VIP of its balancer': (doc, pick) => {
    const cands = (doc.services ?? []).flatMap((s, i) =>
      s.mode === 'snat' ? [] : arr(s.real_servers).map((_, k) => ({ s, i, k })),
    );
    const c = cands[pick(cands.length)];
    if (!c) return undefined;
    (arr(c.s.real_servers)[c.k] as Json).address = c.s.vip;
    return { path: `services[${c.i}].real_servers[${c.k}].address`, message: /is a VIP of balancer/ };
  },
  'balancer as its own real server': (doc, pick) => {
    const cands = (doc.services ?? []).flatMap((s, i) =>
      s.mode === 'snat'
        ? []
        : arr(s.real_servers).flatMap((_, k) =>
            arr(s.balancers)
              .map(String)
              .filter((b) => isIpv4Text(doc.hosts[b]?.address))
              .map((b) => ({ s, i, k, b })),
          ),
    );
    const c = cands[pick(cands.length)];
    if (!c) return undefined;
    (arr(c.s.real_servers)[c.k] as Json).address = doc.hosts[c.b]?.address;
    return { path: `services[${c.i}].real_servers[${c.k}].address`, message: /is balancer '.+' itself/ };
  },
  'gateway on no connected prefix': (doc, pick) => {
    const cands = balancersOf(doc).flatMap((b) => {
      const o = settingOwner(doc, b, 'routes');
      return o ? arr(o[0].routes).flatMap((r, k) => (isIpv4Text(r.via) ? [{ o, k, r }] : [])) : [];
    });
    const c = cands[pick(cands.length)];
    if (!c) return undefined;
    c.r.via = '198.51.100.254';
    return { path: `${c.o[1]}.routes[${c.k}].via`, message: /is on none of .+'s connected prefixes/ };
  },
  'SSH address on a DPDK port': (doc, pick) => {
    const cands = balancersOf(doc).flatMap((b) => {
      const o = settingOwner(doc, b, 'addresses');
      const a = o ? arr(o[0].addresses)[0] : undefined;
      return a && typeof a.address === 'string' && a.address.includes('.') ? [{ b, a }] : [];
    });
    const c = cands[pick(cands.length)];
    if (!c) return undefined;
    (doc.hosts[c.b] as Json).address = String(c.a.address).split('/')[0];
    return { path: `hosts.${c.b}.address`, message: /^SSH address .+ is this host's address/ };
  },
  'IPv6 VIP in two spellings': (doc) => {
    const b = balancersOf(doc)[0];
    const o = b ? settingOwner(doc, b, 'nics') : undefined;
    const nic = o ? (arr(o[0].nics)[0]?.name as string | undefined) : undefined;
    if (!b || !nic) return undefined;
    const svc = (vip: string, name: string) => ({
      name,
      vip,
      port: 8443,
      mode: 'nat',
      balancers: [b],
      vip_dev: nic,
    });
    doc.services = [...(doc.services ?? []), svc('2001:db8::5', 'v6a'), svc('2001:DB8:0:0::5', 'v6b')];
    return { path: `services[${doc.services.length - 1}].vip`, message: /in another spelling/ };
  },
  'same kni_name on two ports': (doc, pick) => {
    const cands = balancersOf(doc).flatMap((b) => {
      const o = settingOwner(doc, b, 'nics');
      return o && arr(o[0].nics).length >= 2 ? [o] : [];
    });
    const o = cands[pick(cands.length)];
    if (!o) return undefined;
    const [n0, n1] = arr(o[0].nics) as [Json, Json];
    n1.kni_name = `${String(n0.name)}.kni`;
    return { path: `${o[1]}.nics[1].kni_name`, message: /also the KNI name of port/ };
  },
  'hugepages too small for the pools': (doc, pick) => {
    const cands = balancersOf(doc).flatMap((b) => {
      const o = settingOwner(doc, b, 'hugepages');
      return o && typeof (o[0].hugepages as Json).per_node === 'number' ? [o] : [];
    });
    const o = cands[pick(cands.length)];
    if (!o) return undefined;
    o[0].hugepages = { ...(o[0].hugepages as Json), size: '2M', per_node: 16 };
    return {
      path: `${o[1]}.hugepages.per_node`,
      message: /cannot hold the pools dpvs creates/,
      other: false,
      warning: true,
    };
  },
  'host address 300.x': (doc, pick) => {
    const names = Object.keys(doc.hosts);
    const h = names[pick(names.length)] as string;
    (doc.hosts[h] as Json).address = `300.${1 + pick(200)}.2.3`;
    return { path: `hosts.${h}.address`, message: /looks like an IPv4 address but is not one/, other: false };
  },
  'source tarball of another version': (doc, pick) => {
    const names = Object.keys(doc.hosts);
    const h = names[pick(names.length)] as string;
    const host = doc.hosts[h] as Json;
    host.dpvs = { ...((host.dpvs as Json) ?? {}), version: '1.9.10', source: { file: 'dpvs-1.9.8.tar.gz' } };
    return {
      path: `hosts.${h}.dpvs.source.file`,
      message: /says DPVS 1\.9\.8 but dpvs\.version is 1\.9\.10/,
    };
  },
  'real server with a worker layout': (doc, pick) => {
    const cands = Object.entries(doc.hosts).filter(([, x]) => !arr(x.roles).includes('balancer' as never));
    const c = cands[pick(cands.length)];
    if (!c) return undefined;
    c[1].workers = 'auto';
    return { path: `hosts.${c[0]}.workers`, message: /has a worker layout but no balancer role/ };
  },
  'group listing a group': (doc) => {
    const first = Object.keys(doc.hosts)[0] as string;
    doc.groups = { ...(doc.groups ?? {}), inner: { hosts: [first] } };
    doc.groups.outer = { hosts: ['inner'] };
    return { path: 'groups.outer.hosts[0]', message: /which is a group, not a host/ };
  },
};

describe('inventory semantic classes fuzz', () => {
  it('each class of mistake, applied at seeded random places of the valid samples, is reported at that place (refused, or warned for sizes), naming the other value', () => {
    const rand = rng(20261204);
    const pick = (n: number) => Math.floor(rand() * n);
    const classes = Object.keys(CLASS_MUTATIONS);
    const hits = new Map<string, number>();
    for (let n = 0; n < 240; n++) {
      const sample = samples[n % samples.length];
      const cls = classes[pick(classes.length)] as string;
      if (!sample) throw new Error('no samples');
      const doc = parseYaml(sample.text) as Doc;
      const want = CLASS_MUTATIONS[cls]?.(doc, pick);
      if (!want) continue;
      const text = stringifyYaml(doc);
      let diagnostics: InventoryError['diagnostics'] = [];
      try {
        // a class reported as a warning (hugepages vs pools) loads, with the finding among the warnings
        diagnostics = loadInventoryBytes(Buffer.from(text), `class-${n}.yaml`).warnings;
        if (!want.warning) diagnostics = [];
      } catch (e) {
        if (!(e instanceof InventoryError)) throw e;
        diagnostics = e.diagnostics;
      }
      const hit = diagnostics.find((d) => d.path === want.path && want.message.test(d.message));
      expect(hit, `case ${n} (${cls} on ${sample.f}): ${JSON.stringify(diagnostics)}\n${text}`).toBeDefined();
      if (want.other !== false)
        expect(hit?.message).toMatch(new RegExp(`\\[other value: \\S+ at class-${n}\\.yaml:\\d+:\\d+\\]$`));
      for (const d of diagnostics) expect(d.line).toBeGreaterThanOrEqual(1);
      hits.set(cls, (hits.get(cls) ?? 0) + 1);
    }
    expect([...hits.keys()].sort()).toEqual([...classes].sort());
    const total = [...hits.values()].reduce((a, b) => a + b, 0);
    recordResult({
      suite: 'inventory',
      name: 'fuzz: semantic mistakes (addresses, DR/TUN, spellings, sizes, sources, groups) at random places',
      cases: total,
      outcome: `${total}/${total} reported at the mutated field with the class's message (hugepages vs pools as a warning, the rest refused), over ${classes.length} classes`,
      passed: true,
    });
  });
});
