/**
 * A fresh clone of this checkout, made without git network access: the tracked and not-ignored files
 * copied (no dist/, no node_modules/, no .lab/). Used to test what a user does from a clone: `npm ci`,
 * `npm pack`, `npm install -g` of the tarball.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';

/** The checkout: the nearest directory above this module holding package.json (from test/ and dist/test/). */
export const REPO_ROOT = ((): string => {
  for (let d = import.meta.dirname; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error(`no package.json above ${import.meta.dirname}`);
  }
})();

/**
 * Copies the checkout's files (what `git clone` of it would give, uncommitted edits included) to `dest`.
 * `linkNodeModules`: node_modules links to this checkout's, standing in for `npm ci` (only for commands
 * that never write node_modules: never run `npm ci` or `npm install` in such a copy, they would empty
 * this checkout's).
 */
export function cloneCheckout(dest: string, o: { linkNodeModules?: boolean } = {}): string {
  mkdirSync(dest, { recursive: true });
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f && !f.startsWith('dist/'));
  for (const f of files) {
    try {
      cpSync(path.join(REPO_ROOT, f), path.join(dest, f));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // deleted, not yet staged
    }
  }
  if (o.linkNodeModules)
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dest, 'node_modules'), 'dir');
  return dest;
}

/**
 * The environment that sends `npm install -g` to `prefix` (npm's own setting, npm_config_prefix) and
 * puts `prefix/bin` first on PATH: a global install that stays inside the test's directory.
 */
export function globalPrefixEnv(prefix: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...base,
    npm_config_prefix: prefix,
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    PATH: `${path.join(prefix, 'bin')}${path.delimiter}${base.PATH ?? ''}`,
  };
}
