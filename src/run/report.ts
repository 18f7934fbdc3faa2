/**
 * Machine-readable results for CI: a JSON report (schemas/report.schema.json) and JUnit XML (one test
 * case per host × task; a host that failed before any task is one failing case).
 */
import { rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { HostResult } from './apply.js';

export const ReportSchema = z
  .object({
    format: z.literal('dpvs-deploy-report'),
    version: z.literal(1),
    command: z.string(),
    started: z.string(),
    finished: z.string(),
    inventory: z.string(),
    runDir: z.string(),
    plan: z
      .object({
        file: z.string().describe('the saved plan applied (apply PLAN.json), as given'),
        sha256: z.string().describe('sha256 of that file as read: `sha256sum plan.json`'),
        created: z.string().describe("the plan's own creation time"),
      })
      .strict()
      .optional()
      .describe('present when a saved plan was applied, naming it'),
    totals: z
      .object({
        hosts: z.number(),
        ok: z.number(),
        changed: z.number(),
        failed: z.number(),
        skipped: z.number(),
      })
      .strict(),
    hosts: z.array(
      z
        .object({
          host: z.string(),
          status: z.enum(['ok', 'changed', 'failed', 'unreachable', 'blocked', 'skipped', 'stale']),
          changed: z.number(),
          error: z.string().optional(),
          connections: z.number(),
          execs: z.number(),
          tasks: z.array(
            z
              .object({
                task: z.string(),
                status: z.enum(['ok', 'changed', 'failed', 'skipped']),
                changes: z.number(),
                durationMs: z.number(),
                error: z.string().optional(),
              })
              .strict(),
          ),
        })
        .strict(),
    ),
  })
  .strict();
export type Report = z.infer<typeof ReportSchema>;

export function reportJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(ReportSchema, { io: 'input' }) as Record<string, unknown>),
    $id: 'https://dpvs-deploy.dev/schemas/report.schema.json',
    title: 'dpvs-deploy run report',
  };
}

const BAD = new Set(['failed', 'unreachable', 'blocked', 'stale']);

export function makeReport(a: {
  command: string;
  started: Date;
  inventory: string;
  runDir: string;
  results: HostResult[];
  plan?: { file: string; sha256: string; created: string };
}): Report {
  const count = (f: (r: HostResult) => boolean) => a.results.filter(f).length;
  return {
    format: 'dpvs-deploy-report',
    version: 1,
    command: a.command,
    started: a.started.toISOString(),
    finished: new Date().toISOString(),
    inventory: a.inventory,
    runDir: a.runDir,
    ...(a.plan ? { plan: a.plan } : {}),
    totals: {
      hosts: a.results.length,
      ok: count((r) => r.status === 'ok'),
      changed: count((r) => r.status === 'changed'),
      failed: count((r) => BAD.has(r.status)),
      skipped: count((r) => r.status === 'skipped'),
    },
    hosts: a.results.map((r) => ({ ...r })),
  };
}

function xml(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // characters XML 1.0 cannot carry
      // eslint-disable-next-line no-control-regex
      .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/g, '?')
  );
}

export function renderJunit(r: Report): string {
  const cases: string[] = [];
  let failures = 0;
  for (const h of r.hosts) {
    if (h.tasks.length === 0) {
      const bad = BAD.has(h.status);
      if (bad) failures++;
      cases.push(
        `    <testcase classname="${xml(h.host)}" name="${xml(h.status === 'ok' ? 'in sync' : h.status)}" time="0">` +
          (bad
            ? `\n      <failure message="${xml((h.error ?? h.status).split('\n')[0] ?? '')}">${xml(h.error ?? h.status)}</failure>\n    `
            : h.status === 'skipped'
              ? '<skipped/>'
              : '') +
          `</testcase>`,
      );
      continue;
    }
    for (const t of h.tasks) {
      const bad = t.status === 'failed';
      if (bad) failures++;
      cases.push(
        `    <testcase classname="${xml(h.host)}" name="${xml(t.task)}" time="${(t.durationMs / 1000).toFixed(3)}">` +
          (bad
            ? `\n      <failure message="${xml((t.error ?? 'failed').split('\n')[0] ?? '')}">${xml(t.error ?? 'failed')}</failure>\n    `
            : '') +
          `</testcase>`,
      );
    }
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="dpvs-deploy" tests="${cases.length}" failures="${failures}">`,
    `  <testsuite name="${xml(r.command)}" tests="${cases.length}" failures="${failures}" timestamp="${r.started}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export async function writeAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}
