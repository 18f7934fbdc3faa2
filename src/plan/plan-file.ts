/**
 * Saved plans (plan --out plan.json; apply plan.json; show plan.json). A versioned document: per host the
 * ordered Changes, preflight results, the facts they were planned from and their fingerprint, plus the
 * inventory's path and checksum. Its JSON Schema (schemas/plan.schema.json) is generated from the zod
 * types here and checked with ajv whenever a plan file is read.
 */
import { readFile, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../errors.js';
import { isPlanOutput } from './json-output.js';
import type { Facts } from '../facts/types.js';
import { plannedStatus, type HostPlan } from './change.js';

export const PLAN_FORMAT = 'dpvs-deploy-plan';
export const PLAN_VERSION = 1;

const StepSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('exec'),
      command: z.string(),
      timeoutMs: z.number().optional(),
      okCodes: z.array(z.number()).optional(),
      redact: z.array(z.string()).optional(),
      onFailure: z.string().optional(),
      problem: z.string().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('write'),
      path: z.string(),
      content: z.string(),
      mode: z.number().int(),
      owner: z.string().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('upload'),
      localPath: z.string(),
      path: z.string(),
      sha256: z.string(),
      mode: z.number().int(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('copy-from-host'),
      sourceHost: z.string(),
      sourcePath: z.string(),
      path: z.string(),
      sha256: z.string().optional(),
      mode: z.number().int(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('wait'),
      command: z.string(),
      timeoutMs: z.number(),
      intervalMs: z.number(),
      description: z.string(),
      onFailure: z.string().optional(),
      giveUpCode: z.number().int().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('reboot'),
      command: z.string(),
      bootIdPath: z.string(),
      timeoutMs: z.number(),
      intervalMs: z.number(),
      description: z.string(),
    })
    .strict(),
]);

const ChangeSchema = z
  .object({
    id: z.string(),
    task: z.string(),
    summary: z.string(),
    action: z.enum(['create', 'update', 'delete', 'run']),
    before: z.string().optional(),
    after: z.string().optional(),
    diff: z.string().optional(),
    disruptive: z.boolean().optional(),
    reversible: z.boolean().optional(),
    steps: z.array(StepSchema),
  })
  .strict();

const CheckSchema = z
  .object({
    id: z.string(),
    severity: z.enum(['error', 'warning']),
    title: z.string(),
    found: z.string(),
    expected: z.string(),
    fix: z.string(),
    waived: z.string().optional(),
  })
  .strict();

export const HostPlanSchema = z
  .object({
    host: z.string(),
    status: z
      .enum(['planned', 'blocked', 'unreachable', 'stale', 'error'])
      .optional()
      .describe(
        'how the host came out of planning (absent in plans saved before it existed: derived on read)',
      ),
    changes: z.array(ChangeSchema),
    checks: z.array(CheckSchema),
    factsFingerprint: z.string(),
    error: z.string().optional(),
    unreachable: z.boolean().optional().describe('older plans: the host could not be reached (now status)'),
    drift: z.array(z.string()).optional(),
    facts: z.record(z.string(), z.unknown()).optional().describe('the facts the changes were planned from'),
  })
  .strict();

export const PlanFileSchema = z
  .object({
    format: z.literal(PLAN_FORMAT),
    version: z.literal(PLAN_VERSION),
    created: z.string(),
    tool: z.string(),
    inventory: z.object({ file: z.string(), checksum: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
    limit: z.string().optional(),
    tasks: z.string().optional(),
    hosts: z.array(HostPlanSchema),
  })
  .strict();

export type PlanFile = z.infer<typeof PlanFileSchema>;

export function planJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(PlanFileSchema, { io: 'input' }) as Record<string, unknown>),
    $id: 'https://dpvs-deploy.dev/schemas/plan.schema.json',
    title: 'dpvs-deploy saved plan',
  };
}

let validator:
  | (((doc: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null })
  | null = null;
function validate(doc: unknown): string[] {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    validator = ajv.compile(planJsonSchema());
  }
  if (validator(doc)) return [];
  return (validator.errors ?? [])
    .slice(0, 10)
    .map((e) => `${e.instancePath || '(document)'}: ${e.message ?? 'invalid'}`);
}

export interface SavedHost {
  plan: HostPlan;
  facts: Facts | null;
}

export function makePlanFile(
  inventoryFile: string,
  checksum: string,
  hosts: Array<{ plan: HostPlan; facts: Facts | undefined }>,
  tool: string,
  limit?: string,
  tasks?: string,
): PlanFile {
  return {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    created: new Date().toISOString(),
    tool,
    inventory: { file: path.resolve(inventoryFile), checksum },
    ...(limit ? { limit } : {}),
    ...(tasks ? { tasks } : {}),
    hosts: hosts.map(({ plan, facts }) => ({
      ...plan,
      ...(facts ? { facts: facts as unknown as Record<string, unknown> } : {}),
    })),
  };
}

/** Write atomically (temp + rename), mode 0600: plans hold file contents. */
export async function writePlanFile(
  file: string,
  plan: PlanFile,
  redact: (s: string) => string,
): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, redact(JSON.stringify(plan, null, 2)) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

/** What to tell someone who gave `file` where a saved plan belongs. */
function notAPlan(file: string, text: string): string | null {
  let json: unknown;
  let jsonError = '';
  try {
    json = JSON.parse(text);
  } catch (e) {
    json = undefined;
    jsonError = (e as Error).message;
  }
  if (json !== undefined) {
    if (isPlanOutput(json))
      return `${file}: this is the output of plan --json (a report to read), not a saved plan. Save a plan to apply with: dpvs-deploy plan INVENTORY --out plan.json`;
    return null;
  }
  let yaml: unknown;
  try {
    yaml = parseYaml(text);
  } catch {
    yaml = undefined;
  }
  if (yaml && typeof yaml === 'object' && 'hosts' in yaml)
    return `${file}: this is an inventory, not a saved plan. Plan it with: dpvs-deploy plan ${file} --out plan.json (then dpvs-deploy show plan.json or dpvs-deploy apply plan.json)`;
  return `${file}: not a plan file: invalid JSON (${jsonError}). Create one with: dpvs-deploy plan INVENTORY --out plan.json`;
}

export async function readPlanFile(file: string): Promise<PlanFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read the plan file: ${(e as Error).message}`);
  }
  const wrong = notAPlan(file, text);
  if (wrong) throw new UserError(wrong);
  const doc: unknown = JSON.parse(text);
  const d = doc as { format?: unknown; version?: unknown };
  if (d && typeof d === 'object' && d.format === PLAN_FORMAT && d.version !== PLAN_VERSION)
    throw new UserError(
      `${file}: plan file version ${String(d.version)} is not supported by this dpvs-deploy (reads version ${PLAN_VERSION}); plan again with this version`,
    );
  const problems = validate(doc);
  if (problems.length)
    throw new UserError(
      `${file}: not a valid dpvs-deploy plan (corrupted or edited?):\n  ${problems.join('\n  ')}`,
    );
  return PlanFileSchema.parse(doc);
}

/** Is this argument a saved plan rather than an inventory? */
export async function isPlanFile(file: string): Promise<boolean> {
  if (file.endsWith('.json')) return true;
  try {
    const head = (await readFile(file, 'utf8')).slice(0, 200);
    return head.trimStart().startsWith('{') && head.includes(PLAN_FORMAT);
  } catch {
    return false;
  }
}

/** A saved host's plan as the engine takes it (status derived for plans saved before it existed), and its facts. */
export function savedHost(h: PlanFile['hosts'][number]): { plan: HostPlan; facts: Facts | undefined } {
  const { facts, unreachable, status, ...rest } = h;
  const derived: HostPlan['status'] =
    status ??
    (rest.error !== undefined ? (unreachable ? 'unreachable' : 'error') : plannedStatus(rest.checks));
  return { plan: { ...rest, status: derived }, facts: facts as unknown as Facts | undefined };
}
