/**
 * The probe reads dpkg's status file with one awk (DPKG_STATUS_AWK in src/facts/requested.ts) instead of
 * running dpkg-query. The reference is test/fixtures/upstream/dpkg/status.yaml (from dpkg's source):
 * the awk must print each sample's lines, the probe's whole package snippet must print them too (it asks
 * dpkg-query itself when dpkg's journal holds an unfinished run), the parser must read them into the
 * sample's packages, and, where this machine has dpkg-query, the real dpkg-query must print the same
 * lines from the same files (so the samples are checked against dpkg, not only against us).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DPKG_STATUS_AWK, packagesSnippet, requestedFacts } from '../../../src/facts/requested.js';

interface Sample {
  id: string;
  names: string[];
  status: string;
  updates?: Record<string, string>;
  lines: string[];
  packages: Record<string, string | null>;
}

const corpus = parse(
  readFileSync(new URL('../../fixtures/upstream/dpkg/status.yaml', import.meta.url), 'utf8'),
) as { cite: string[]; samples: Sample[] };

const tmp = mkdtempSync(path.join(tmpdir(), 'dpkg-status-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The sample as a dpkg database directory: its status file and its journal. */
function admindir(s: Sample): string {
  const dir = path.join(tmp, s.id);
  mkdirSync(path.join(dir, 'updates'), { recursive: true });
  writeFileSync(path.join(dir, 'status'), s.status);
  for (const [name, text] of Object.entries(s.updates ?? {}))
    writeFileSync(path.join(dir, 'updates', name), text);
  return dir;
}

const sorted = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .sort();

const found = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
/** A Debian-family machine with the real dpkg-query (the probe's snippet then takes its dpkg branch). */
const debian =
  found('dpkg-query') &&
  !/^ID(_LIKE)?=.*(rhel|fedora|centos|suse)/im.test(
    spawnSync('cat', ['/etc/os-release'], { encoding: 'utf8' }).stdout ?? '',
  );

describe('dpkg status samples (test/fixtures/upstream/dpkg/status.yaml)', () => {
  it('cite dpkg by version:path:line', () => {
    expect(corpus.cite.length).toBeGreaterThan(0);
    for (const c of corpus.cite) expect(c).toMatch(/^dpkg \d+\.\d+\.\d+:[\w/.-]+\.[ch]:[\d,-]+ — /);
  });

  for (const s of corpus.samples) {
    describe(s.id, () => {
      const awk = (): string[] =>
        sorted(
          execFileSync('awk', ['-v', `w= ${s.names.join(' ')} `, DPKG_STATUS_AWK, 'status'], {
            cwd: admindir(s),
            encoding: 'utf8',
          }),
        );
      if (s.updates === undefined)
        it('the awk prints what dpkg-query prints', () => {
          expect(awk()).toEqual(s.lines.map((l) => `pkgdeb\t${l}`).sort());
        });
      // the status file alone is out of date: the snippet must not answer from it (dpkg-query does)
      else
        it('the awk alone would miss the journal', () => {
          expect(awk()).not.toEqual(s.lines.map((l) => `pkgdeb\t${l}`).sort());
        });

      it('the parser reads the lines into the sample packages', () => {
        const f = requestedFacts.parse(
          [...s.names.map((n) => `pkgwant\t${n}`), ...s.lines.map((l) => `pkgdeb\t${l}`)].join('\n'),
        );
        expect(f.packages).toEqual(s.packages);
      });

      it.skipIf(!debian)('the real dpkg-query prints the sample lines from the same files', () => {
        const r = spawnSync('dpkg-query', ['-W', '-f=${Package}\t${Status}\t${Version}\n', ...s.names], {
          env: { ...process.env, DPKG_ADMINDIR: admindir(s) },
          encoding: 'utf8',
        });
        expect(sorted(r.stdout)).toEqual([...s.lines].sort());
      });

      it.skipIf(!debian)("the probe's package snippet prints the sample lines", () => {
        const out = execFileSync('sh', ['-c', packagesSnippet(s.names)], {
          env: { ...process.env, DPKG_ADMINDIR: admindir(s) },
          encoding: 'utf8',
        });
        expect(sorted(out).filter((l) => l.startsWith('pkgdeb\t'))).toEqual(
          s.lines.map((l) => `pkgdeb\t${l}`).sort(),
        );
      });
    });
  }
});
