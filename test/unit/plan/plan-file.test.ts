import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makePlanFile, planJsonSchema, readPlanFile, writePlanFile } from '../../../src/plan/plan-file.js';
import { makeReport, renderJunit, reportJsonSchema, ReportSchema } from '../../../src/run/report.js';
import { factsBuilder } from '../../support/facts-builder.js';
import type { HostPlan } from '../../../src/plan/change.js';

const root = path.resolve(import.meta.dirname, '../../..');
const dir = mkdtempSync(path.join(tmpdir(), 'dd-plan-'));

const hostPlan: HostPlan = {
  host: 'lb1',
  status: 'planned',
  changes: [
    {
      id: 'hugepages/node0/2048kB',
      task: 'hugepages',
      summary: 'node0 2M hugepages: 0 → 512',
      action: 'update',
      steps: [
        {
          kind: 'exec',
          command: 'echo 512 > /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages',
        },
        { kind: 'exec', command: 'systemctl start dpvs', onFailure: 'journalctl -u dpvs -n 20' },
        { kind: 'exec', command: 'exit 1', problem: 'dpdk.source.file: no such file' },
      ],
    },
  ],
  checks: [],
  factsFingerprint: 'a'.repeat(64),
};

describe('saved plan files', () => {
  it('round-trip through write and read (ajv-validated), secrets redacted', async () => {
    const file = path.join(dir, 'plan.json');
    const doc = makePlanFile(
      '/x/inv.yaml',
      'b'.repeat(64),
      [{ plan: hostPlan, facts: factsBuilder().build() }],
      '0.1.0',
    );
    doc.hosts[0]!.changes[0]!.summary += ' s3cret-value';
    await writePlanFile(file, doc, (t) => t.split('s3cret-value').join('******'));
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('s3cret-value');
    const back = await readPlanFile(file);
    expect(back.hosts[0]?.changes[0]?.steps).toEqual(hostPlan.changes[0]?.steps);
    expect(back.inventory.checksum).toBe('b'.repeat(64));
    expect(existsSync(`${file}.tmp-${process.pid}`)).toBe(false);
  });

  it('refuses a corrupted file, a wrong version and a non-plan JSON with clear errors', async () => {
    const good = makePlanFile('/x/inv.yaml', 'b'.repeat(64), [{ plan: hostPlan, facts: undefined }], '0.1.0');
    const corrupt = path.join(dir, 'corrupt.json');
    writeFileSync(corrupt, JSON.stringify(good).slice(0, 100));
    await expect(readPlanFile(corrupt)).rejects.toThrow(/not a plan file: invalid JSON/);
    const wrongVersion = path.join(dir, 'v9.json');
    writeFileSync(wrongVersion, JSON.stringify({ ...good, version: 9 }));
    await expect(readPlanFile(wrongVersion)).rejects.toThrow(/version 9 is not supported/);
    const edited = path.join(dir, 'edited.json');
    writeFileSync(edited, JSON.stringify({ ...good, hosts: [{ ...good.hosts[0], changes: [{ id: 1 }] }] }));
    await expect(readPlanFile(edited)).rejects.toThrow(/not a valid dpvs-deploy plan/);
  });
});

describe('reports', () => {
  const results = [
    {
      host: 'lb1',
      status: 'changed' as const,
      changed: 2,
      connections: 1,
      execs: 5,
      tasks: [{ task: 'hugepages', status: 'changed' as const, changes: 2, durationMs: 1200 }],
    },
    {
      host: 'lb2',
      status: 'failed' as const,
      changed: 0,
      connections: 1,
      execs: 3,
      error: 'hugepages: verification failed: <node1> & more',
      tasks: [
        {
          task: 'hugepages',
          status: 'failed' as const,
          changes: 1,
          durationMs: 50,
          error: 'hugepages: verification failed: <node1> & more',
        },
      ],
    },
    {
      host: 'rs1',
      status: 'unreachable' as const,
      changed: 0,
      connections: 0,
      execs: 0,
      error: 'rs1: connection refused',
      tasks: [],
    },
  ];
  const report = makeReport({
    command: 'apply inv.yaml',
    started: new Date(),
    inventory: '/x/inv.yaml',
    runDir: '/tmp/run',
    results,
  });

  it('counts and validates against its schema', () => {
    expect(report.totals).toEqual({ hosts: 3, ok: 0, changed: 1, failed: 2, skipped: 0 });
    expect(ReportSchema.safeParse(report).success).toBe(true);
  });

  it('JUnit has one case per host and task, failures escaped', () => {
    const x = renderJunit(report);
    expect(x).toContain('tests="3" failures="2"');
    expect(x).toContain('<testcase classname="lb1" name="hugepages" time="1.200"></testcase>');
    expect(x).toContain('&lt;node1&gt; &amp; more');
    expect(x).toContain('<testcase classname="rs1" name="unreachable"');
  });
});

describe('published schemas are current', () => {
  for (const [name, gen] of [
    ['plan', planJsonSchema],
    ['report', reportJsonSchema],
  ] as const) {
    it(`schemas/${name}.schema.json matches the code (UPDATE_SCHEMAS=1 rewrites it)`, () => {
      const file = path.join(root, 'schemas', `${name}.schema.json`);
      const want = JSON.stringify(gen(), null, 2) + '\n';
      if (process.env.UPDATE_SCHEMAS) writeFileSync(file, want);
      expect(readFileSync(file, 'utf8')).toBe(want);
    });
  }
});

describe('what show and apply say when given something else than a saved plan', () => {
  const dir2 = mkdtempSync(path.join(tmpdir(), 'dd-notplan-'));

  it('the output of plan --json: use --out (not a schema dump)', async () => {
    const dump = path.join(dir2, 'plan.json');
    writeFileSync(
      dump,
      JSON.stringify({ format: 'dpvs-deploy-plan-output', format_version: 1, hosts: [], totals: {} }),
    );
    const e = await readPlanFile(dump).catch((x: unknown) => x as Error);
    expect(String(e)).toContain('this is the output of plan --json (a report to read), not a saved plan');
    expect(String(e)).toContain('dpvs-deploy plan INVENTORY --out plan.json');
    expect(String(e)).not.toContain('must have required property');
    // as printed before format_version existed
    writeFileSync(dump, JSON.stringify({ hosts: [], totals: { changes: 0 } }));
    await expect(readPlanFile(dump)).rejects.toThrow(/output of plan --json/);
  });

  it('an inventory: plan it with --out plan.json, never --out the inventory itself', async () => {
    const inv = path.join(dir2, 'prod.yaml');
    writeFileSync(inv, 'version: 1\nhosts:\n  lb1: { address: 10.0.0.1, roles: [balancer] }\n');
    const e = String(await readPlanFile(inv).catch((x: unknown) => x as Error));
    expect(e).toContain(
      `${inv}: this is an inventory, not a saved plan. Plan it with: dpvs-deploy plan ${inv} --out plan.json`,
    );
    expect(e).not.toContain(`--out ${inv}`);
  });
});
