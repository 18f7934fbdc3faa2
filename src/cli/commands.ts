/**
 * facts, plan, apply, verify: thin commands over the engine. Exit codes follow Terraform's detailed
 * exit codes: plan/verify 0 = no changes, 2 = changes (drift), 1 = error; apply 0 = all hosts
 * succeeded, 1 otherwise.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import type { HostPlan } from '../plan/change.js';
import { sha256 } from '../plan/fingerprint.js';
import {
  isPlanFile,
  makePlanFile,
  readPlanFile,
  savedHost,
  writePlanFile,
  type PlanFile,
} from '../plan/plan-file.js';
import { checkSavedPlan } from '../run/saved-plan.js';
import { makeReport, renderJunit, writeAtomic } from '../run/report.js';
import { renderFacts } from './views/facts.js';
import { renderHostPlan, renderPlanSummary } from './views/plan.js';
import {
  renderResultLine,
  renderResultsSummary,
  renderStats,
  resultsWidth,
  isFailure,
} from './views/results.js';
import { planTotals } from '../plan/totals.js';
import { resultStatusOf, type HostResult } from '../run/apply.js';
import { INTERRUPTED_EXIT, installInterrupt } from './interrupt.js';
import { gatherProgress, progressEvents } from './progress.js';

/** --json: no drawing on the terminal (stdout is the document); the plain lines go to stderr. */
function quietIf(json: boolean | undefined): { fancy?: boolean } {
  return json ? { fancy: false } : {};
}
import { type CommonOptions, openSession, type Session } from './session.js';
import type { Io } from './io.js';
import { TOOL_VERSION } from '../paths.js';
import {
  FACTS_OUTPUT_FORMAT,
  jsonOutput,
  PLAN_OUTPUT_FORMAT,
  VERIFY_OUTPUT_FORMAT,
} from '../plan/json-output.js';

export interface FactsOptions extends CommonOptions {
  json?: boolean;
}

export async function factsCommand(file: string, o: FactsOptions, io: Io): Promise<number> {
  const s = await openSession(file, 'facts', o, io, undefined, gatherProgress(io, quietIf(o.json)));
  try {
    if (o.json) {
      const doc = jsonOutput(FACTS_OUTPUT_FORMAT, {
        hosts: Object.fromEntries(
          s.hosts.map((h) => [
            h.name,
            s.engine.facts.get(h.name) ?? { error: s.engine.errors.get(h.name) ?? 'no facts' },
          ]),
        ),
      });
      io.out(s.redactor.redact(JSON.stringify(doc, null, 2)));
    } else {
      for (const h of s.hosts) {
        const f = s.engine.facts.get(h.name);
        io.out(
          f
            ? renderFacts(h, f, io.style)
            : `${io.style.bold(h.name)}: ${io.style.red('unreachable')}: ${s.engine.errors.get(h.name)}`,
        );
        io.out('');
      }
    }
    return s.engine.errors.size ? 1 : 0;
  } finally {
    await s.engine.close();
  }
}

export interface PlanOptions extends CommonOptions {
  json?: boolean;
  stats?: boolean;
  diff?: boolean;
  out?: string;
}

function printPlans(
  s: Session,
  plans: HostPlan[],
  o: PlanOptions,
  io: Io,
  format = PLAN_OUTPUT_FORMAT,
): void {
  if (o.json) {
    io.out(
      s.redactor.redact(
        JSON.stringify(jsonOutput(format, { hosts: plans, totals: planTotals(plans) }), null, 2),
      ),
    );
    return;
  }
  for (const p of plans) {
    if (p.status === 'stale') continue; // apply said "refused" already, once
    const text = s.redactor.redact(
      renderHostPlan(
        p,
        s.hosts.find((h) => h.name === p.host),
        { diffs: o.diff !== false, style: io.style },
      ),
    );
    // a host that could not be planned is an error (stderr); a plan, blocked or not, is the result
    if (p.error) io.err(text);
    else io.out(text);
  }
  io.out(renderPlanSummary(plans, io.style));
}

/** The results table: failed, unreachable, blocked and stale hosts on stderr, the rest and the summary on stdout. */
function printResults(s: Session, results: HostResult[], io: Io): void {
  const width = resultsWidth(results);
  for (const r of results) {
    const line = s.redactor.redact(renderResultLine(r, width, io.style));
    if (isFailure(r)) io.err(line);
    else io.out(line);
  }
  io.out(renderResultsSummary(results));
}

/** plan/verify exit code; for verify, unmanaged objects found on a host are drift too. */
function planExit(plans: HostPlan[], countDrift = false): number {
  const t = planTotals(plans);
  if (t.errors || t.blocked) return 1;
  return t.changes || (countDrift && t.drift) ? 2 : 0;
}

function stats(s: Session): Array<{ host: string; connections: number; execs: number }> {
  return s.hosts.map((h) => {
    const t = s.engine.transports.get(h.name);
    return { host: h.name, connections: t?.stats.connections ?? 0, execs: t?.stats.execs ?? 0 };
  });
}

export async function planCommand(file: string, o: PlanOptions, io: Io, command = 'plan'): Promise<number> {
  const s = await openSession(file, command, o, io, undefined, gatherProgress(io, quietIf(o.json)));
  try {
    const plans = [...s.engine.plan().values()];
    s.runDir.writeJson('plan.json', { hosts: plans });
    if (o.out) {
      const doc = makePlanFile(
        s.inventory.file,
        s.inventory.checksum,
        plans.map((p) => ({ plan: p, facts: s.engine.facts.get(p.host) })),
        TOOL_VERSION,
        o.limit,
        o.tasks,
      );
      await writePlanFile(o.out, doc, (t) => s.redactor.tokenize(t));
    }
    printPlans(s, plans, o, io, command === 'verify' ? VERIFY_OUTPUT_FORMAT : PLAN_OUTPUT_FORMAT);
    if (o.out && !o.json)
      io.out(`Saved the plan to ${o.out}. Apply exactly it with: dpvs-deploy apply ${o.out}`);
    if (o.stats) io.out(renderStats(stats(s)));
    return planExit(plans, command === 'verify');
  } finally {
    await s.engine.close();
  }
}

export async function verifyCommand(file: string, o: PlanOptions, io: Io): Promise<number> {
  const code = await planCommand(file, o, io, 'verify');
  if (!o.json)
    io.out(
      code === 0
        ? io.style.green('In sync: every host matches the inventory.')
        : code === 2
          ? io.style.yellow(
              'Drift: the changes above would bring the hosts back to the inventory; objects marked ? are not managed by it.',
            )
          : '',
    );
  return code;
}

export interface ApplyCliOptions extends PlanOptions {
  yes?: boolean;
  serial?: string;
  maxFailPercent?: number;
  breakLock?: boolean;
  lockTimeout?: number;
  reportJson?: string;
  junit?: string;
}

export async function applyCommand(file: string, o: ApplyCliOptions, io: Io): Promise<number> {
  const started = new Date();
  let saved: PlanFile | null = null;
  let savedRef: { file: string; sha256: string; created: string } | undefined;
  let inventoryFile = file;
  if (await isPlanFile(file)) {
    saved = await readPlanFile(file);
    savedRef = { file, sha256: sha256Bytes(await readFile(file)), created: saved.created };
    inventoryFile = saved.inventory.file;
    let bytes: Buffer;
    try {
      bytes = await readFile(inventoryFile);
    } catch {
      throw new UserError(`${file}: the inventory it was planned from (${inventoryFile}) is gone`);
    }
    if (
      sha256(bytes.toString('utf8')) !== saved.inventory.checksum &&
      sha256Bytes(bytes) !== saved.inventory.checksum
    )
      throw new UserError(
        `${file}: the inventory ${inventoryFile} changed since this plan was made; plan again`,
      );
    // the saved plan's hosts and tasks, so the re-probe reads the same facts the plan was made from
    o = {
      ...o,
      limit: saved.hosts.map((h) => h.host).join(','),
      yes: true,
      ...(saved.tasks ? { tasks: saved.tasks } : {}),
    };
  }
  const progress = progressEvents(io);
  const s = await openSession(inventoryFile, 'apply', o, io, progress.events);
  try {
    const plans = saved
      ? [...checkSavedPlan(saved, s.engine.facts, s.engine.errors).values()].map(
          (p) => JSON.parse(s.redactor.detokenize(JSON.stringify(p))) as HostPlan,
        )
      : [...s.engine.plan().values()];
    if (saved)
      for (const p of plans) if (p.status === 'stale') io.err(`${p.host}: refused: ${p.error ?? 'stale'}`);
    s.runDir.writeJson('plan.json', { hosts: plans });
    printPlans(s, plans, { ...o, json: false }, io);
    const t = planTotals(plans);
    if (t.changes === 0) {
      io.out(
        t.complete
          ? io.style.green('Nothing to apply.')
          : io.style.red('Nothing applied: not every host could be planned (see above).'),
      );
      const results = s.hosts.map((h): HostResult => {
        const p = plans.find((x) => x.host === h.name);
        const tr = s.engine.transports.get(h.name);
        return {
          host: h.name,
          status: resultStatusOf(p),
          changed: 0,
          tasks: [],
          connections: tr?.stats.connections ?? 0,
          execs: tr?.stats.execs ?? 0,
          ...(p?.error ? { error: p.error } : {}),
        };
      });
      printResults(s, results, io);
      if (o.stats) io.out(renderStats(results));
      await writeReports(s, o, started, file, results, savedRef);
      return results.some((r) => r.status !== 'ok') ? 1 : 0;
    }
    if (!o.yes) {
      if (!io.isTTY) {
        io.err('apply: refusing to change hosts without confirmation: pass --yes (no TTY to ask on)');
        return 1;
      }
      if (!(await io.confirm(`Apply ${t.applicable} change(s) to ${t.hostsWithChanges} host(s)?`))) {
        io.out('Apply cancelled.');
        return 1;
      }
    }
    const serial = o.serial ?? s.inventory.doc.rollout?.serial;
    const maxFail = o.maxFailPercent ?? s.inventory.doc.rollout?.max_fail_percent;
    progress.start(s.hosts.map((h) => h.name));
    const interrupt = installInterrupt({ notify: (m) => io.err(m) });
    const results = await s.engine
      .apply({
        signal: interrupt.signal,
        command: `dpvs-deploy apply ${file}`,
        ...(saved ? { plans: new Map(plans.map((p) => [p.host, p])) } : {}),
        ...(serial !== undefined
          ? { serial: typeof serial === 'string' && /^\d+$/.test(serial) ? Number(serial) : serial }
          : {}),
        ...(maxFail !== undefined ? { maxFailPercent: maxFail } : {}),
        ...(o.breakLock ? { breakLock: true } : {}),
        ...(o.lockTimeout !== undefined ? { lockTimeoutMs: o.lockTimeout * 1000 } : {}),
      })
      .finally(() => interrupt.dispose());
    await progress.stop(results);
    printResults(s, results, io);
    if (o.stats) io.out(renderStats(results));
    await writeReports(s, o, started, file, results, savedRef);
    io.out(io.style.dim(`transcripts: ${s.runDir.dir}`));
    if (interrupt.interrupted) return INTERRUPTED_EXIT;
    return results.every((r) => r.status === 'ok' || r.status === 'changed') ? 0 : 1;
  } finally {
    await s.engine.close();
  }
}

function sha256Bytes(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function writeReports(
  s: Session,
  o: ApplyCliOptions,
  started: Date,
  file: string,
  results: HostResult[],
  plan?: { file: string; sha256: string; created: string },
): Promise<void> {
  const report = makeReport({
    command: `apply ${file}`,
    started,
    inventory: s.inventory.file,
    runDir: s.runDir.dir,
    results,
    ...(plan ? { plan } : {}),
  });
  s.runDir.writeJson('report.json', report);
  if (o.reportJson)
    await writeAtomic(o.reportJson, s.redactor.redact(JSON.stringify(report, null, 2)) + '\n');
  if (o.junit) await writeAtomic(o.junit, s.redactor.redact(renderJunit(report)));
}

export async function showCommand(
  file: string,
  o: { json?: boolean; diff?: boolean },
  io: Io,
): Promise<number> {
  const plan = await readPlanFile(file);
  if (o.json) {
    io.out(JSON.stringify(plan, null, 2));
    return 0;
  }
  io.out(
    `Plan made ${plan.created} by dpvs-deploy ${plan.tool} from ${plan.inventory.file} (sha256 ${plan.inventory.checksum.slice(0, 12)}…)`,
  );
  const hosts = plan.hosts.map((h) => savedHost(h).plan);
  for (const p of hosts) io.out(renderHostPlan(p, undefined, { diffs: o.diff !== false, style: io.style }));
  io.out(renderPlanSummary(hosts, io.style));
  return planExit(hosts);
}

export async function rollbackCommand(file: string, o: ApplyCliOptions, io: Io): Promise<number> {
  const started = new Date();
  const progress = progressEvents(io);
  const s = await openSession(file, 'rollback', o, io, progress.events);
  try {
    const plans = [...s.engine.planRollback().values()];
    printPlans(s, plans, { ...o, json: false }, io);
    const t = planTotals(plans);
    if (t.changes === 0) {
      io.out(
        t.complete
          ? io.style.green('Nothing to roll back.')
          : io.style.red('Nothing rolled back: not every host could be planned (see above).'),
      );
      return t.errors ? 1 : 0;
    }
    if (!o.yes) {
      if (!io.isTTY) {
        io.err('rollback: refusing to change hosts without confirmation: pass --yes (no TTY to ask on)');
        return 1;
      }
      if (!(await io.confirm(`Roll back ${t.applicable} change(s) on ${t.hostsWithChanges} host(s)?`)))
        return 1;
    }
    progress.start(s.hosts.map((h) => h.name));
    const results = await s.engine.apply({
      command: `dpvs-deploy rollback ${file}`,
      rollback: true,
      ...(o.breakLock ? { breakLock: true } : {}),
    });
    await progress.stop(results);
    printResults(s, results, io);
    await writeReports(s, o, started, file, results);
    return results.every((r) => r.status === 'ok' || r.status === 'changed') ? 0 : 1;
  } finally {
    await s.engine.close();
  }
}
