/** Locations inside the installed package (works from dist/ and from a global install). */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root: the directory holding package.json, playbooks/, templates/, schemas/. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function packagePath(...parts: string[]): string {
  return path.join(packageRoot, ...parts);
}
