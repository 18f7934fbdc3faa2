/**
 * Lab instance → subnet (test/lab/instance.ts): the default lab keeps 10.241.0.0/16, numbers 1..13 keep
 * 10.(241+N), every other name gets its own octet of 200..240 from the allocation record, also when
 * several processes start at once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import {
  allocateOctet,
  DEFAULT_OCTET,
  fixedOctet,
  POOL_FIRST,
  POOL_LAST,
  poolOrder,
} from '../lab/instance.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'lab-instance-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => path.join(tmp, `alloc${dirs++}`);
const notUp = (): boolean => false;
const POOL = POOL_LAST - POOL_FIRST + 1;

describe('lab instance subnets', () => {
  it('the default lab and the numbered instances keep their documented octets', () => {
    expect(fixedOctet('')).toBe(DEFAULT_OCTET);
    expect(DEFAULT_OCTET).toBe(241);
    expect(fixedOctet('1')).toBe(242);
    expect(fixedOctet('13')).toBe(254);
    expect(fixedOctet('14')).toBeNull();
    expect(fixedOctet('0')).toBeNull();
    expect(fixedOctet('ci')).toBeNull();
  });

  it('the pool is below the fixed octets and every name walks all of it', () => {
    expect(POOL_LAST).toBeLessThan(DEFAULT_OCTET);
    for (const n of ['k4', 'c5', 'm1', 'r2', 'rk', '14']) {
      const order = poolOrder(n);
      expect([...order].sort((a, b) => a - b)).toEqual(
        Array.from({ length: POOL }, (_, i) => POOL_FIRST + i),
      );
      expect(poolOrder(n)).toEqual(order);
    }
  });

  it('names that hashed onto one octet before (k4/c5, m1/r2) get different ones; a name keeps its own', () => {
    const dir = freshDir();
    const names = ['k4', 'c5', 'm1', 'r2', 'rk', 'ci', '14', 'lp'];
    const got = names.map((n) => allocateOctet(n, dir, notUp));
    expect(new Set(got).size).toBe(names.length);
    for (const o of got) expect(o >= POOL_FIRST && o <= POOL_LAST).toBe(true);
    expect(names.map((n) => allocateOctet(n, dir, notUp))).toEqual(got);
    // the record: one file per octet, holding the name
    expect(readFileSync(path.join(dir, `10.${got[0]}`), 'utf8')).toBe('k4\n');
  });

  it('a full pool is refused with a message; a stale record of a lab that is not up is taken back', () => {
    const dir = freshDir();
    const names = Array.from({ length: POOL }, (_, i) => `n${i}`);
    const got = names.map((n) => allocateOctet(n, dir, notUp));
    expect(new Set(got).size).toBe(POOL);
    expect(() => allocateOctet('extra', dir, () => true)).toThrow(/all 41 lab subnets .* are taken/);
    // n0's record is two days old and its lab is down: it goes, and only it
    const old = new Date(Date.now() - 48 * 3600_000);
    utimesSync(path.join(dir, `10.${got[0]}`), old, old);
    expect(() => allocateOctet('extra', dir, (n) => n !== 'n0')).not.toThrow();
    expect(allocateOctet('extra', dir, notUp)).toBe(got[0]);
    expect(allocateOctet('n1', dir, notUp)).toBe(got[1]);
  });

  it('processes starting at once: one octet per name, never one octet for two names', async () => {
    // instance.ts uses node builtins only: transpiled as it is, imported by each child process
    const src = readFileSync(new URL('../lab/instance.ts', import.meta.url), 'utf8');
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const mod = path.join(tmp, 'instance.mjs');
    writeFileSync(mod, js);
    const dir = freshDir();
    const names = ['k4', 'c5', 'm1', 'r2', 'k4', 'c5', 'm1', 'r2', 'k4', 'c5', 'm1', 'r2'];
    const run = (name: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(mod)}); console.log(m.SUBNET_OCTET)`,
          ],
          {
            env: { ...process.env, DPVS_LAB_INSTANCE: name, DPVS_LAB_ALLOCATION_DIR: dir },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(err))));
      });
    const got = await Promise.all(names.map(run));
    const byName = new Map<string, Set<number>>();
    names.forEach((n, i) => byName.set(n, (byName.get(n) ?? new Set()).add(got[i] as number)));
    for (const [, octets] of byName) expect(octets.size).toBe(1);
    const octets = [...byName.values()].map((s) => [...s][0]);
    expect(new Set(octets).size).toBe(4);
    for (const o of octets) expect(o! >= POOL_FIRST && o! <= POOL_LAST).toBe(true);
  });
});
