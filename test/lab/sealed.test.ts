/**
 * The lab is sealed from the machine it runs on and from labs left running: a host sees only its
 * profile's kernel (not this machine's /usr/lib/modules or /usr/src), and ensureLab() never hands a
 * test a lab someone else left up with their applied state (`npm run demo` then `npm test`).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLab, labSsh, stopLab } from './harness.js';

const REAL_HP = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';
const PLANTED = '9.9.9-dd-seal-test';

afterAll(async () => {
  await stopLab();
});

/** Directories made on this machine for the test; the returned function removes what it made (the
 * topmost directory it created of each path), nothing else. */
function plant(dirs: string[]): () => void {
  const made: string[] = [];
  for (const d of dirs) {
    let top = d;
    while (!existsSync(path.dirname(top))) top = path.dirname(top);
    if (existsSync(top)) continue;
    mkdirSync(d, { recursive: true });
    made.push(top);
  }
  return () => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  };
}

describe('lab hosts see only their profile’s kernel', () => {
  it('with a kernel and its headers installed on this machine, no host lists them', async () => {
    const unplant = plant([`/usr/lib/modules/${PLANTED}/kernel`, `/usr/src/linux-headers-${PLANTED}`]);
    try {
      const lab = await ensureLab();
      for (const h of lab.hosts) {
        const r = await labSsh(
          h.name,
          'uname -r; echo ---; ls -A /lib/modules /usr/lib/modules; echo ---; ls -A /usr/src',
        );
        expect(r.code, r.stderr).toBe(0);
        const [uname, modules, src] = r.stdout.split('---\n');
        expect(uname?.trim()).toBe(h.kernel);
        expect(modules, h.name).not.toContain(PLANTED);
        expect(src, h.name).not.toContain(PLANTED);
        // whatever is there belongs to the profile's kernel
        for (const entry of (modules ?? '').split('\n').filter((l) => l && !l.endsWith(':')))
          expect(entry, h.name).toBe(h.kernel);
      }
    } finally {
      unplant();
    }
  });
});

describe('ensureLab and a lab left running', () => {
  it('a lab left up with applied state is replaced by a fresh one', async () => {
    await ensureLab();
    // what an apply (the demo) leaves behind: hugepages set, a file written
    const dirty = await labSsh(
      'lb2',
      `echo 1024 > ${REAL_HP}; echo left > /etc/dd-left-behind; cat ${REAL_HP}`,
    );
    expect(dirty.code, dirty.stderr).toBe(0);
    // a second caller (the next suite, `npm test` after `npm run demo`)
    await ensureLab();
    const r = await labSsh(
      'lb2',
      `cat ${REAL_HP}; test -e /etc/dd-left-behind && echo present || echo absent`,
    );
    expect(r.stdout.trim().split('\n')).toEqual(['0', 'absent']);
  });
});
