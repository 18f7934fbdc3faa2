/**
 * Every --json document has a published JSON Schema, and the commands' real output validates against
 * it (ajv): validate on the example inventories and a broken one; facts, plan and verify through real
 * SSH to a throwaway sshd on 127.0.0.1 (this machine as a realserver, read only) plus a host that
 * refuses connections. `schema` alone is still the inventory's schema.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';
import { inventorySchemaText } from '../../../src/cli/schema.js';
import { makeStyle } from '../../../src/cli/views/style.js';
import { OUTPUT_SCHEMAS } from '../../../src/run/output-schemas.js';
import { canStartSshd, type Sshd, startSshd } from '../../support/sshd.js';

const root = path.resolve(import.meta.dirname, '../../..');

function capture(): { io: Io; out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: () => out.join(''),
    err: () => err.join(''),
    io: {
      out: (t) => out.push(t.endsWith('\n') ? t : t + '\n'),
      err: (t) => err.push(t.endsWith('\n') ? t : t + '\n'),
      raw: (s, t) => (s === 'out' ? out : err).push(t),
      debug: () => undefined,
      style: makeStyle(false),
      isTTY: false,
      confirm: () => Promise.resolve(false),
    },
  };
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  const code = await main(argv, c.io);
  return { code, out: c.out(), err: c.err() };
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
function conforms(name: string, doc: unknown): void {
  const validate = ajv.getSchema(name) ?? ajv.compile({ ...OUTPUT_SCHEMAS[name]!.schema(), $id: name });
  const ok = validate(doc);
  expect(ok, `${name}: ${JSON.stringify(validate.errors?.slice(0, 5), null, 1)}`).toBe(true);
}

describe('published schemas', () => {
  for (const [name, s] of Object.entries(OUTPUT_SCHEMAS)) {
    it(`schemas/${s.file}.schema.json is current and is what \`schema --output ${name}\` prints`, async () => {
      const file = path.join(root, 'schemas', `${s.file}.schema.json`);
      const want = JSON.stringify(s.schema(), null, 2) + '\n';
      expect(readFileSync(file, 'utf8'), 'run: npm run build && npm run gen:schema').toBe(want);
      const r = await cli(['schema', '--output', name]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(want);
    });
  }

  it('`schema` alone is still the inventory schema; an unknown output is refused with the choices', async () => {
    expect((await cli(['schema'])).out).toBe(inventorySchemaText());
    const r = await cli(['schema', '--output', 'nonsense']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('facts, plan, verify, validate, report, saved-plan');
  });

  it('the schemas refuse what the commands never print (they can fail)', () => {
    expect(() =>
      conforms('plan', { format: 'dpvs-deploy-plan-output', format_version: 1, hosts: [] }),
    ).toThrow();
    expect(() => conforms('facts', { format: 'dpvs-deploy-facts', format_version: 2, hosts: {} })).toThrow();
    expect(() =>
      conforms('validate', { format: 'dpvs-deploy-validate', format_version: 1, file: 'x', valid: 'yes' }),
    ).toThrow();
  });
});

describe('validate --json', () => {
  const examples = readdirSync(path.join(root, 'inventories', 'examples'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(root, 'inventories', 'examples', f));

  it('each example inventory: valid, with counts, exit 0, nothing on stderr', async () => {
    expect(examples.length).toBeGreaterThan(1);
    for (const f of examples) {
      const r = await cli(['validate', f, '--json']);
      expect(r.code, `${f}\n${r.out}${r.err}`).toBe(0);
      const doc = JSON.parse(r.out) as { valid: boolean; counts: { hosts: number } };
      conforms('validate', doc);
      expect(doc.valid).toBe(true);
      expect(doc.counts.hosts).toBeGreaterThan(0);
      expect(r.err).toBe('');
    }
  });

  it('an invalid inventory: valid false, positioned errors, exit 1; a missing file too', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dd-vjson-'));
    try {
      const bad = path.join(dir, 'bad.yaml');
      writeFileSync(bad, 'version: 1\nhosts:\n  lb1: { address: 10.0.0.300, roles: [balancer] }\n');
      const r = await cli(['validate', bad, '--json']);
      expect(r.code).toBe(1);
      const doc = JSON.parse(r.out) as { valid: boolean; errors: Array<{ path: string; line: number }> };
      conforms('validate', doc);
      expect(doc.valid).toBe(false);
      expect(doc.errors.some((e) => e.path.startsWith('hosts.lb1') && e.line === 3)).toBe(true);
      const missing = await cli(['validate', path.join(dir, 'none.yaml'), '--json']);
      expect(missing.code).toBe(1);
      conforms('validate', JSON.parse(missing.out));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!canStartSshd)('facts, plan and verify --json against a real sshd (needs root)', () => {
  let sshd: Sshd;
  let dir = '';
  let inv = '';

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(path.join(tmpdir(), 'dd-json-'));
    writeFileSync(path.join(dir, 'known_hosts'), `${sshd.knownHostsLine}\n`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'other')]);
    inv = path.join(dir, 'inv.yaml');
    writeFileSync(
      inv,
      `version: 1
defaults:
  ssh: { user: root, use_ssh_config: false, known_hosts: ${dir}/known_hosts, host_key_policy: strict, identity_file: ${sshd.clientKey.privatePath}, connect_timeout_s: 5 }
hosts:
  here: { address: 127.0.0.1, roles: [realserver], ssh: { port: ${sshd.port} } }
  gone: { address: 127.0.0.1, roles: [realserver], ssh: { port: 1 } }
`,
    );
  });

  afterAll(async () => {
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('facts --json: the reachable host has facts, the other its error; conforms', async () => {
    const r = await cli(['facts', inv, '--json', '--run-dir', path.join(dir, 'runs')]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { hosts: Record<string, { hostname?: string; error?: string }> };
    conforms('facts', doc);
    expect(typeof doc.hosts.here?.hostname).toBe('string');
    expect(doc.hosts.gone?.error).toMatch(/refused/);
  });

  for (const command of ['plan', 'verify'] as const) {
    it(`${command} --json: one planned host, one unreachable; conforms, totals agree`, async () => {
      const r = await cli([command, inv, '--json', '--run-dir', path.join(dir, 'runs')]);
      expect(r.code).toBe(1);
      const doc = JSON.parse(r.out) as {
        format: string;
        hosts: Array<{ host: string; error?: string; changes: unknown[] }>;
        totals: { unreachable: number };
      };
      conforms(command, doc);
      expect(doc.format).toBe(`dpvs-deploy-${command}-output`);
      expect(doc.hosts.map((h) => h.host).sort()).toEqual(['gone', 'here']);
      expect(doc.hosts.find((h) => h.host === 'here')?.error).toBeUndefined();
      expect(doc.totals.unreachable).toBe(1);
    });
  }
});
