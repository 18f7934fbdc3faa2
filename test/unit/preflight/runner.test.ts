import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  allChecks,
  blocking,
  CHECK_ID,
  formatCheck,
  preflightProbe,
  renderPreflightDocs,
  runPreflight,
  unknownWaivers,
} from '../../../src/preflight/index.js';
import { inventoryOf, planContext, r630, r630Host } from '../../support/facts-builder.js';

const root = join(import.meta.dirname, '..', '..', '..');

describe('preflight runner', () => {
  it('an error blocks, a warning does not', () => {
    const facts = r630().smt(true).build();
    const results = runPreflight(planContext(r630Host({ nofile: undefined }), facts));
    expect(results.map((r) => [r.id, r.severity])).toEqual([
      ['SYS-003', 'warning'],
      ['CPU-001', 'error'],
    ]);
    expect(blocking(results).map((r) => r.id)).toEqual(['CPU-001']);
  });

  it('a waived failure is kept with its reason and does not block', () => {
    const host = r630Host({ preflight: { waive: [{ id: 'CPU-001', reason: 'lab box, BIOS locked' }] } });
    const results = runPreflight(planContext(host, r630().smt(true).build()));
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ id: 'CPU-001', severity: 'error', waived: 'lab box, BIOS locked' });
    expect(blocking(results)).toEqual([]);
    // a waiver for a passing check changes nothing
    expect(runPreflight(planContext(host, r630().build()))).toEqual([]);
  });

  it('reports waivers naming no check', () => {
    const host = r630Host({
      preflight: {
        waive: [
          { id: 'CPU-001', reason: 'ok' },
          { id: 'CPU-999', reason: 'typo' },
        ],
      },
    });
    expect(unknownWaivers(planContext(host, r630().build()))).toEqual(['CPU-999']);
  });

  it('formats a result as found / expected / fix lines', () => {
    const [r] = runPreflight(planContext(r630Host(), r630().smt(true).build()));
    expect(r).toBeDefined();
    if (!r) return;
    expect(formatCheck(r, 'lb1')).toBe(
      'ERROR CPU-001 lb1: hyper-threading is on\n' +
        '  found: 2 threads per core (smt/active=1)\n' +
        '  expected: 1 thread per core\n' +
        `  fix: ${r.fix}`,
    );
    expect(r.fix).toMatch(/^BIOS: Processor Settings → Logical Processor \(Hyper-Threading\): Disabled/);
    const waived = formatCheck({ ...r, waived: 'lab box' }, 'lb1');
    expect(waived.split('\n')[0]).toBe('WAIVED CPU-001 lb1: hyper-threading is on');
    expect(waived).toContain('\n  waived: lab box (error)');
    expect(formatCheck({ ...r, severity: 'warning' }).split('\n')[0]).toBe(
      'WARNING CPU-001: hyper-threading is on',
    );
  });
});

describe('check registry', () => {
  it('ids are unique, well-formed and every check is documented', () => {
    const ids = allChecks.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of allChecks) {
      expect(c.id).toMatch(CHECK_ID);
      expect(c.title.length).toBeGreaterThan(5);
      expect(c.protects.length).toBeGreaterThan(20);
      expect(c.howToFix.length).toBeGreaterThan(10);
    }
  });

  it('every check has a unit test that names its id', () => {
    const dir = join(root, 'test', 'unit', 'preflight');
    const text = readdirSync(dir)
      .filter((f) => f.endsWith('.test.ts') && f !== 'runner.test.ts')
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n');
    const untested = allChecks.map((c) => c.id).filter((id) => !text.includes(`'${id}'`));
    expect(untested).toEqual([]);
  });

  it('docs/preflight.md is up to date (regenerate: npm run build && node dist/scripts/gen-preflight-docs.js)', () => {
    const doc = readFileSync(join(root, 'docs', 'preflight.md'), 'utf8');
    expect(doc).toBe(renderPreflightDocs());
    for (const c of allChecks) expect(doc).toContain(`| ${c.id} | ${c.severity} |`);
  });
});

describe('preflightProbe', () => {
  it('a balancer asks for the build tools, binding module, vhost_net, pid file, dpvs processes and disk', () => {
    const host = r630Host({ dpdk: { version: '20.11.10', driver: 'vfio-pci', build_dir: '/data/build' } });
    const req = preflightProbe(host, inventoryOf([host]));
    expect(req.commands).toEqual(expect.arrayContaining(['pkg-config', 'gcc']));
    expect(req.modules).toEqual(expect.arrayContaining(['vfio-pci', 'vhost_net', 'rte_kni']));
    expect(req.diskPaths).toEqual(['/data/build']);
    expect(req.processes).toEqual(['dpvs']);
    expect(req.files).toEqual(expect.arrayContaining(['/var/run/dpvs.pid', '/dev/vhost-net']));
    expect(Object.keys({ ...req.execs, ...req.listings, ...req.texts }).sort()).toEqual([
      'dpdk-build-compiler',
      'fs-nr-open',
      'kernels-installed',
      'pkg-config-version',
    ]);
  });
  it('pkg-config --version only where BUILD-003 reads it (DPDK 20.11 and later)', () => {
    const old = r630Host({ dpdk: { version: '18.11.2', driver: 'vfio-pci' } });
    const req = preflightProbe(old, inventoryOf([old]));
    expect(req.commands).toContain('pkg-config');
    expect(Object.keys(req.execs ?? {})).not.toContain('pkg-config-version');
  });
  it('a realserver asks only for what its checks read', () => {
    const host = r630Host({ name: 'rs1', roles: ['realserver'], nics: [] });
    const req = preflightProbe(host, inventoryOf([host]));
    expect(req.processes).toEqual([]);
    expect(req.modules).toEqual([]);
    expect(req.diskPaths).toEqual(['/opt']);
  });
});
