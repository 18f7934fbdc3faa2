import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { programSpec, renderBash, renderZsh } from '../../../src/cli/completion.js';
import type { Io } from '../../../src/cli/io.js';
import { buildProgram, main } from '../../../src/cli/main.js';
import { makeStyle } from '../../../src/cli/views/style.js';

function captureIo(): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => (out += t.endsWith('\n') ? t : t + '\n'),
    err: (t) => (err += t.endsWith('\n') ? t : t + '\n'),
    raw: (s, t) => (s === 'out' ? (out += t) : (err += t)),
    debug: () => undefined,
    style: makeStyle(false),
    isTTY: false,
    confirm: () => Promise.resolve(false),
  };
  return { io, out: () => out, err: () => err };
}

async function script(shell: string): Promise<{ code: number; text: string; err: string }> {
  const c = captureIo();
  const code = await main(['completion', shell], c.io);
  return { code, text: c.out(), err: c.err() };
}

const program = buildProgram(captureIo().io, () => undefined);
const spec = programSpec(program);

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

describe('completion spec from the commander program', () => {
  it('lists every command and option the program has', () => {
    const names = spec.commands.map((c) => c.name);
    for (const c of program.commands) expect(names).toContain(c.name());
    for (const want of ['validate', 'plan', 'apply', 'verify', 'rollback', 'show', 'completion'])
      expect(names).toContain(want);
    const apply = spec.commands.find((c) => c.name === 'apply')!;
    const applyCmd = program.commands.find((c) => c.name() === 'apply')!;
    for (const o of applyCmd.options) expect(apply.options.flatMap((x) => x.names)).toContain(o.long);
    expect(apply.options.flatMap((x) => x.names)).toEqual(expect.arrayContaining(['-y', '--yes', '--help']));
    expect(apply.options.find((o) => o.names.includes('--junit'))?.value).toEqual({ kind: 'file' });
    expect(apply.options.find((o) => o.names.includes('--yes'))?.value).toBeUndefined();
    expect(spec.commands.find((c) => c.name === 'completion')?.args[0]?.value).toEqual({
      kind: 'choices',
      choices: ['bash', 'zsh'],
    });
  });

  it('follows a new option added to the program (derived, not hand-kept)', () => {
    const p = buildProgram(captureIo().io, () => undefined);
    p.commands.find((c) => c.name() === 'plan')!.option('--brand-new-flag', 'x');
    expect(renderBash(programSpec(p))).toContain('--brand-new-flag');
    expect(renderBash(spec)).not.toContain('--brand-new-flag');
  });
});

describe('dpvs-deploy completion bash', () => {
  it('prints a script with every command and option, accepted by bash -n', async () => {
    const r = await script('bash');
    expect(r.code).toBe(0);
    for (const c of program.commands) {
      expect(r.text).toContain(`'${c.name()}')`);
      for (const o of c.options) expect(r.text).toContain(o.long!);
    }
    for (const o of program.options) expect(r.text).toContain(o.long!);
    expect(r.text).toContain('complete -o filenames -F _dpvs_deploy dpvs-deploy');
    const dir = mkdtempSync(join(tmpdir(), 'dd-compl-'));
    writeFileSync(join(dir, 'c.bash'), r.text);
    const check = spawnSync('bash', ['-n', join(dir, 'c.bash')], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('completes commands, options, option values and choices when bash runs it', async () => {
    const r = await script('bash');
    const dir = mkdtempSync(join(tmpdir(), 'dd-compl-'));
    writeFileSync(join(dir, 'c.bash'), r.text);
    writeFileSync(join(dir, 'inv.yaml'), 'x');
    const complete = (...words: string[]): string[] => {
      const arr = words.map((w) => `'${w}'`).join(' ');
      const out = execFileSync(
        'bash',
        [
          '-c',
          `cd ${dir} && source c.bash && COMP_WORDS=(${arr}) && COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)) && _dpvs_deploy && printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: 'utf8' },
      );
      return out.split('\n').filter(Boolean);
    };
    expect(complete('dpvs-deploy', 'pl')).toEqual(['plan']);
    expect(complete('dpvs-deploy', 'apply', '--ju')).toEqual(['--junit']);
    expect(complete('dpvs-deploy', 'apply', '--junit', 'in')).toEqual(['inv.yaml']);
    expect(complete('dpvs-deploy', 'completion', 'z')).toEqual(['zsh']);
    expect(complete('dpvs-deploy', 'plan', 'inv.yaml', '--no')).toEqual(['--no-diff']);
    expect(complete('dpvs-deploy', '--de')).toEqual(['--debug']);
    // the second positional of `plan` does not exist: nothing offered
    expect(complete('dpvs-deploy', 'plan', 'inv.yaml', '')).toEqual([]);
  });
});

describe('dpvs-deploy completion zsh', () => {
  it('prints a script naming every command and option', async () => {
    const r = await script('zsh');
    expect(r.code).toBe(0);
    expect(r.text.startsWith('#compdef dpvs-deploy\n')).toBe(true);
    for (const c of program.commands) {
      expect(r.text).toContain(`'${c.name()}')`);
      for (const o of c.options) expect(r.text).toContain(o.long!);
    }
    expect(renderZsh(spec)).toBe(r.text);
  });

  it.skipIf(!has('zsh'))('is accepted by zsh -n (skipped when zsh is not installed)', async () => {
    const r = await script('zsh');
    const dir = mkdtempSync(join(tmpdir(), 'dd-compl-'));
    writeFileSync(join(dir, '_dpvs-deploy'), r.text);
    const check = spawnSync('zsh', ['-n', join(dir, '_dpvs-deploy')], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('rejects other shells with exit 1', async () => {
    const r = await script('fish');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bash, zsh/);
  });
});
