/**
 * Per-host progress while facts, plan and verify connect and probe: listr2 lines on a terminal (run
 * under a real pseudo-terminal with util-linux `script`), one plain line per host on stderr otherwise,
 * stdout left to the result. The terminal run needs the build (bin/dpvs-deploy.js → dist/) and, for a
 * host that answers, root and /usr/sbin/sshd (test/support/sshd.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../../src/cli/io.js';
import { fancyProgress, gatherProgress } from '../../../src/cli/progress.js';
import { makeStyle } from '../../../src/cli/views/style.js';
import { canStartSshd, type Sshd, startSshd } from '../../support/sshd.js';

const root = path.resolve(import.meta.dirname, '../../..');
const bin = path.join(root, 'bin', 'dpvs-deploy.js');
const built = existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js'));
const haveScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

function io(isTTY: boolean, lines: { out: string[]; err: string[] }): Io {
  return {
    out: (t) => lines.out.push(t),
    err: (t) => lines.err.push(t),
    raw: () => undefined,
    debug: () => undefined,
    style: makeStyle(false),
    isTTY,
    confirm: () => Promise.resolve(false),
  };
}

describe('gatherProgress without a terminal', () => {
  it('one line per host whose facts were read, on stderr; an unreachable host is left to its error', async () => {
    const lines = { out: [] as string[], err: [] as string[] };
    const p = gatherProgress(io(false, lines));
    p.start(['lb1', 'lb2', 'rs1']);
    for (const [h, s] of [
      ['lb1', 'connecting'],
      ['lb2', 'connecting'],
      ['lb2', 'probing'],
      ['lb1', 'unreachable'],
      ['lb2', 'probed'],
      ['rs1', 'connecting'],
      ['rs1', 'probing'],
      ['rs1', 'probed'],
    ] as const)
      p.events.hostState?.(h, s);
    await p.stop();
    expect(lines.err).toEqual(['lb2 | facts read (2/3)', 'rs1 | facts read (3/3)']);
    expect(lines.out).toEqual([]);
  });

  it('listr2 only on a terminal, outside CI, without NO_COLOR', () => {
    const t = io(true, { out: [], err: [] });
    expect(fancyProgress(t, {})).toBe(true);
    expect(fancyProgress(t, { CI: 'true' })).toBe(false);
    expect(fancyProgress(t, { NO_COLOR: '1' })).toBe(false);
    expect(fancyProgress(io(false, { out: [], err: [] }), {})).toBe(false);
  });
});

describe.skipIf(!built || !haveScript || !canStartSshd)(
  'plan on a pseudo-terminal and through a pipe',
  () => {
    let sshd: Sshd;
    let dir = '';
    let inv = '';

    beforeAll(async () => {
      sshd = await startSshd();
      dir = mkdtempSync(path.join(tmpdir(), 'dd-progress-'));
      writeFileSync(path.join(dir, 'known_hosts'), `${sshd.knownHostsLine}\n`);
      inv = path.join(dir, 'inv.yaml');
      writeFileSync(
        inv,
        `version: 1
defaults:
  ssh: { user: root, use_ssh_config: false, known_hosts: ${dir}/known_hosts, identity_file: ${sshd.clientKey.privatePath}, connect_timeout_s: 5 }
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

    const env = (): NodeJS.ProcessEnv => {
      const e: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color', COLUMNS: '120' };
      delete e.CI;
      delete e.NO_COLOR;
      return e;
    };
    const argv = () => [bin, 'plan', inv, '--run-dir', path.join(dir, 'runs')];

    it('a terminal: one live line per host (connecting → facts read / unreachable), then the plan', () => {
      // a terminal of 120 columns (a pty made outside a terminal has none)
      const cmd = `stty cols 120 rows 40; ${[process.execPath, ...argv()].map((a) => `'${a}'`).join(' ')}`;
      const r = spawnSync('script', ['-q', '-e', '-c', cmd, '/dev/null'], {
        encoding: 'utf8',
        env: env(),
        timeout: 120_000,
      });
      const screen = r.stdout;
      expect(r.status, screen).toBe(1); // one host unreachable
      expect(screen).toMatch(/here: facts read in \d+\.\d s/);
      expect(screen).toContain('gone: unreachable (below)');
      expect(screen).toContain('\u001b[2K'); // drawn (lines erased and redrawn), not plain lines
      expect(screen).not.toContain('here | facts read');
      // the lines are done before the plan is printed
      expect(screen.lastIndexOf('here: facts read')).toBeLessThan(screen.indexOf('Plan incomplete'));
    });

    it('a pipe: plain lines on stderr, stdout only the plan', () => {
      const r = spawnSync(process.execPath, argv(), { encoding: 'utf8', env: env(), timeout: 120_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^here \| facts read \([12]\/2\)$/m);
      expect(r.stderr).not.toContain('\u001b[');
      expect(r.stdout).not.toContain('facts read');
      expect(r.stdout).toContain('Plan incomplete');
    });
  },
);
