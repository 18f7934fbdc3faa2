/** Locations inside the installed package (works from dist/ and from a global install). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The nearest directory at or above `from` holding package.json (dist/src/ and src/ both work). */
function findRoot(from: string): string {
  for (let d = from; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json')) && existsSync(path.join(d, 'playbooks'))) return d;
    if (path.dirname(d) === d) return path.resolve(from, '..', '..');
  }
}

/** The package root: the directory holding package.json, playbooks/, schemas/. */
export const packageRoot = findRoot(path.dirname(fileURLToPath(import.meta.url)));

export function packagePath(...parts: string[]): string {
  return path.join(packageRoot, ...parts);
}

/** This dpvs-deploy's version: package.json's `version`, the one place it is written. */
export const TOOL_VERSION: string = (() => {
  const pkg: unknown = JSON.parse(readFileSync(packagePath('package.json'), 'utf8'));
  const v = pkg && typeof pkg === 'object' && 'version' in pkg ? pkg.version : undefined;
  if (typeof v !== 'string') throw new Error(`${packagePath('package.json')}: no "version" string`);
  return v;
})();
