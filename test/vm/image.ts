/**
 * `npm run vm -- build`: the image, cached by its inputs. The key is a sha256 of build.sh and
 * packages.txt (the cache directory is named by it, paths.ts); the image is rebuilt only when they
 * change (or when --force is given).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { imageInputsHash, type VmPaths } from './paths.js';

export function inputsHash(p: VmPaths): Promise<string> {
  return Promise.resolve(imageInputsHash(p.root, [p.buildScript, p.packageList]));
}

export async function imageIsCurrent(p: VmPaths): Promise<boolean> {
  const files = [p.baseRaw, p.kernel, p.initrd, p.kver, p.imageIdentity, p.hostKeyPub, p.inputsHash];
  if (!files.every((f) => existsSync(f))) return false;
  return (await readFile(p.inputsHash, 'utf8')).trim() === (await inputsHash(p));
}

export interface BuildResult {
  cached: boolean;
  ms: number;
  kver: string;
}

function run(cmd: string, args: string[], log: (l: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = (b: Buffer): void => {
      for (const l of b.toString().split('\n')) if (l.trim()) log(l);
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`)),
    );
  });
}

export async function buildImage(
  p: VmPaths,
  opts: { force?: boolean; log: (l: string) => void },
): Promise<BuildResult> {
  const t0 = Date.now();
  if (!opts.force && (await imageIsCurrent(p))) {
    return { cached: true, ms: Date.now() - t0, kver: (await readFile(p.kver, 'utf8')).trim() };
  }
  const hash = await inputsHash(p);
  await run('bash', [p.buildScript, p.image], opts.log);
  await writeFile(p.inputsHash, `${hash}\n`);
  return { cached: false, ms: Date.now() - t0, kver: (await readFile(p.kver, 'utf8')).trim() };
}
