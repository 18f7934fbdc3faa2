/**
 * Results on stdout, errors and host failures on stderr, exit codes as documented: the real CLI
 * (main) against hosts that refuse connections (127.0.0.1 and 127.0.0.2, port 1). No root, no lab.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';
import { makeStyle } from '../../../src/cli/views/style.js';

let dir = '';
let inventory = '';

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      raw: (s, t) => (s === 'out' ? out : err).push(t),
      debug: () => undefined,
      style: makeStyle(false),
      isTTY: false,
      confirm: () => Promise.resolve(false),
    },
  };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'dd-streams-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'key')]);
  writeFileSync(path.join(dir, 'known_hosts'), '');
  inventory = path.join(dir, 'inv.yaml');
  writeFileSync(
    inventory,
    `version: 1
defaults:
  ssh: { user: root, port: 1, use_ssh_config: false, known_hosts: ${dir}/known_hosts, host_key_policy: strict, identity_file: ${dir}/key, connect_timeout_s: 5 }
hosts:
  rs1: { address: 127.0.0.1, roles: [realserver] }
  rs2: { address: 127.0.0.2, roles: [realserver] }
`,
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('plan with every host unreachable', () => {
  it('exit 1; each host failure once on stderr with its host; the summary on stdout, not "No changes"', async () => {
    const c = capture();
    const code = await main(['plan', inventory, '--run-dir', path.join(dir, 'runs')], c.io);
    expect(code).toBe(1);
    const err = c.err.join('\n');
    const out = c.out.join('\n');
    for (const h of ['rs1', 'rs2']) {
      expect(
        err.match(new RegExp(`^${h} \\(127\\.0\\.0\\.\\d\\): cannot plan: .*connection refused`, 'gm')),
      ).toHaveLength(1);
      expect(out).not.toContain(`${h} (`);
    }
    expect(out).toBe('Plan incomplete: no change can be applied, 0 host(s) in sync, 2 host(s) unreachable.');
  });

  it('apply: exit 1, "Nothing applied", unreachable hosts on stderr, the summary counts them as failed', async () => {
    const c = capture();
    const code = await main(['apply', inventory, '--yes', '--run-dir', path.join(dir, 'runs')], c.io);
    expect(code).toBe(1);
    const out = c.out.join('\n');
    const err = c.err.join('\n');
    expect(out).toContain('Nothing applied: not every host could be planned');
    expect(out).not.toContain('Nothing to apply.');
    expect(out).toContain(
      'Summary: 2 host(s): 0 ok, 0 changed, 2 failed (2 unreachable, 0 blocked), 0 skipped.',
    );
    expect(err).toMatch(/^\s+rs1\s+unreachable/m);
    expect(out).not.toMatch(/^\s+rs1\s+unreachable/m);
  });

  it('plan --json and facts --json name their format and carry format_version', async () => {
    for (const [cmd, format] of [
      ['plan', 'dpvs-deploy-plan-output'],
      ['verify', 'dpvs-deploy-verify-output'],
      ['facts', 'dpvs-deploy-facts'],
    ] as const) {
      const c = capture();
      await main([cmd, inventory, '--json', '--run-dir', path.join(dir, 'runs')], c.io);
      const doc = JSON.parse(c.out.join('\n')) as Record<string, unknown>;
      expect({ cmd, format: doc.format, format_version: doc.format_version }).toEqual({
        cmd,
        format,
        format_version: 1,
      });
      expect(Object.keys(doc.hosts as object)).toHaveLength(2);
    }
  });
});
