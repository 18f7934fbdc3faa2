import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordResult } from '../../integration/reliability-support.js';
import { run as validate } from '../../../src/cli/validate.js';
import { InventoryError, type Diagnostic } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';

const dir = path.resolve('test/fixtures/bad-inventories');
interface Expected {
  line: number;
  col: number;
  path: string;
  message: string;
}
const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<
  string,
  Expected[]
>;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

async function diagnosticsOf(file: string): Promise<Diagnostic[]> {
  try {
    await loadInventory(file);
  } catch (e) {
    if (e instanceof InventoryError) return e.diagnostics;
    throw e;
  }
  throw new Error(`${file} loaded without errors`);
}

function capture(): { io: Parameters<typeof validate>[1]; out: () => string } {
  let text = '';
  const sink = { write: (s: string) => (text += s) };
  return { io: { stdout: sink, stderr: sink }, out: () => text };
}

async function expectRejected(file: string, lines: string[]): Promise<void> {
  const c = capture();
  const code = await validate({ inventory: file }, c.io);
  const out = c.out();
  expect(code, out).toBe(1);
  expect(out).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m); // no stack frames
  expect(out).not.toMatch(/internal error/);
  for (const l of lines) expect(out).toContain(l);
  for (const line of out.trimEnd().split('\n')) {
    expect(line).toMatch(/^.+:\d+:\d+: .+: .+$/);
  }
}

/** The bad-input classes of docs/reliability.md, by corpus file name (first match wins). */
const CLASSES: Array<[RegExp, string]> = [
  [/^yaml-/, 'YAML syntax errors (indentation, tabs, unclosed quotes and flows, aliases, duplicate keys)'],
  [/^(binary-garbage|invalid-utf8|nul-byte)/, 'binary garbage, invalid UTF-8, NUL bytes'],
  [
    /^(empty|only-comments|top-level-|null-host|missing-|wrong-version)/,
    'empty, missing or mis-shaped documents',
  ],
  [/^(wrong-type-|version-as-number|port-fraction|bad-dpvs-version-format)/, 'wrong types'],
  [/^unknown-/, 'unknown keys and roles'],
  [/^(duplicate-|group-host-twice)/, 'duplicate hosts, NICs, VIPs, services and addresses'],
  [/^invalid-(ip|ipv6|cidr|prefix|route)/, 'invalid IP addresses and prefixes'],
  [/^invalid-(pci|mac)/, 'invalid PCI addresses and MACs'],
  [/^port-/, 'invalid ports'],
  [/^(cpu-id-|workers-|queue)/, 'CPU ids and queue/worker layouts (upstream codes -2 to -7)'],
  [/^hugepages-/, 'impossible hugepage sizes and counts'],
  [/^unsupported-/, 'unsupported DPVS/DPDK versions and pairings'],
  [/^hostile-/, 'hostile values (option-like, .., metacharacters)'],
  [
    /^conflict-/,
    'contradicting addresses (local address = VIP, real server = VIP or the balancer, gateway off-link, KNI and SSH addresses on DPDK ports, address families)',
  ],
  [
    /^(dr-|tun-|service-no-vip-dev)/,
    'DR and TUN requirements (real servers on a connected subnet, no port remapping, LAN address, default route src, vip_dev)',
  ],
  [/^source-version-/, 'source tarballs that say another version (name, top directory)'],
  [/./, 'references to NICs, hosts and devices that do not exist; other cross-field rules'],
];
const classOf = (f: string): string => (CLASSES.find(([re]) => re.test(f)) as [RegExp, string])[1];
const refused = new Set<string>();

afterAll(() => {
  const byClass = new Map<string, string[]>();
  for (const f of files) byClass.set(classOf(f), [...(byClass.get(classOf(f)) ?? []), f]);
  for (const [name, fs] of byClass) {
    const ok = fs.filter((f) => refused.has(f)).length;
    recordResult({
      suite: 'inventory',
      name: `corpus: ${name}`,
      cases: fs.length,
      outcome: `${ok}/${fs.length} refused by validate: exit 1, every error FILE:LINE:COL with the expected form, no stack trace`,
      passed: ok === fs.length,
    });
  }
  recordResult({
    suite: 'inventory',
    name: 'generated: a document over 1 MiB, 200 000 nested brackets, 100 nested mappings, a missing file',
    cases: 4,
    outcome: `${generated}/4 refused with a positioned error (size limit, depth limit 64) or a user error, no crash`,
    passed: generated === 4,
  });
});
let generated = 0;

// The "under a second" budget for each refusal is measured by bench/bad-inventories.ts (a table, not a
// timed test: a loaded CI machine must not turn a speed figure into a red build).
describe('bad inventories corpus', () => {
  it('has at least 60 files, each with expectations', () => {
    expect(files.length).toBeGreaterThanOrEqual(60);
    expect(Object.keys(expected).sort()).toEqual(files);
  });

  for (const f of files) {
    it(`${f}: refused with positioned diagnostics`, async () => {
      const file = path.join(dir, f);
      const ds = await diagnosticsOf(file);
      expect(ds.length).toBeGreaterThan(0);
      for (const d of ds) {
        expect(d.file).toBe(file);
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.col).toBeGreaterThanOrEqual(1);
      }
      // `$FILE` in an expected message: the other value's position, FILE:LINE:COL like the finding's own.
      const want = (expected[f] ?? []).map((w) => ({ ...w, message: w.message.replaceAll('$FILE', file) }));
      expect(ds.map((d) => ({ line: d.line, col: d.col, path: d.path }))).toEqual(
        want.map((w) => ({ line: w.line, col: w.col, path: w.path })),
      );
      ds.forEach((d, i) => expect(d.message).toContain(want[i]?.message));
      await expectRejected(
        file,
        want.map((w) => `${file}:${w.line}:${w.col}: ${w.path || '(document)'}: ${w.message}`),
      );
      refused.add(f);
    });
  }
});

describe('generated hostile documents', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'inv-bad-'));

  it('refuses a document over 1 MiB', async () => {
    const file = path.join(tmp, 'huge.yaml');
    const host = (i: number) =>
      `  h${i}:\n    address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\n    roles: [realserver]\n`;
    let text = 'version: 1\nhosts:\n';
    for (let i = 0; text.length <= 1024 * 1024; i++) text += host(i);
    writeFileSync(file, text);
    const ds = await diagnosticsOf(file);
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ line: 1, col: 1 });
    expect(ds[0]?.message).toMatch(/at most 1048576 \(1 MiB\)/);
    await expectRejected(file, ['1 MiB']);
    generated++;
  });

  it('refuses deeply nested flow collections without exhausting the stack', async () => {
    const file = path.join(tmp, 'deep-flow.yaml');
    const n = 200_000;
    writeFileSync(file, `version: 1\nhosts: {}\nx: ${'['.repeat(n)}${']'.repeat(n)}\n`);
    const ds = await diagnosticsOf(file);
    expect(ds).toHaveLength(1);
    // the root mapping is level 1, so the 64th bracket (column 4 + 63 after "x: ") is level 65
    expect(ds[0]).toMatchObject({ line: 3, col: 4 + 63 });
    expect(ds[0]?.message).toMatch(/nested more than 64 levels/);
    await expectRejected(file, ['nested more than 64 levels']);
    generated++;
  });

  it('refuses deeply nested block mappings', async () => {
    const file = path.join(tmp, 'deep-block.yaml');
    let text = 'version: 1\nhosts: {}\n';
    for (let i = 0; i < 100; i++) text += `${' '.repeat(i)}k${i}:\n`;
    writeFileSync(file, text);
    const ds = await diagnosticsOf(file);
    expect(ds).toHaveLength(1);
    expect(ds[0]).toMatchObject({ line: 2 + 65, col: 65 });
    await expectRejected(file, ['nested more than 64 levels']);
    generated++;
  });

  it('reports a missing file as a user error, not a crash', async () => {
    const c = capture();
    expect(await validate({ inventory: path.join(tmp, 'nope.yaml') }, c.io)).toBe(1);
    expect(c.out()).toMatch(/cannot read inventory .*nope\.yaml: no such file/);
    generated++;
  });
});
