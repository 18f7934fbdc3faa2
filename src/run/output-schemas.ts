/**
 * The JSON Schema of every document the CLI prints or writes for machines, generated from zod:
 * `--json` of facts, plan, verify and validate (each with `format` and `format_version`), the run report
 * (`--report-json`) and the saved plan (`plan --out`). Published as schemas/<name>.schema.json and
 * printed by `dpvs-deploy schema --output NAME`; test/unit/cli/json-output.test.ts validates the commands'
 * real output against them.
 */
import { z } from 'zod';
import { cpuSchema } from '../facts/cpu.js';
import { memorySchema } from '../facts/memory.js';
import { nicSchema } from '../facts/nics.js';
import { systemSchema } from '../facts/system.js';
import type { Facts } from '../facts/types.js';
import { HostPlanSchema, planJsonSchema } from '../plan/plan-file.js';
import {
  FACTS_OUTPUT_FORMAT,
  JSON_FORMAT_VERSION,
  PLAN_OUTPUT_FORMAT,
  VALIDATE_OUTPUT_FORMAT,
  VERIFY_OUTPUT_FORMAT,
} from '../plan/json-output.js';
import type { PlanTotals } from '../plan/totals.js';
import { reportJsonSchema } from './report.js';

/**
 * The same schema with every object strict (no other keys), through arrays, nullables and optionals:
 * the fact modules' schemas check what their parsers build; a published document says no more exists.
 */
function strictDeep<T extends z.ZodType>(s: T): T {
  const d: z.ZodType = s;
  const described = (r: z.ZodType): T => (d.description ? r.describe(d.description) : r) as unknown as T;
  if (d instanceof z.ZodObject)
    return described(
      z.strictObject(
        Object.fromEntries(
          Object.entries(d.shape as Record<string, z.ZodType>).map(([k, v]) => [k, strictDeep(v)]),
        ),
      ),
    );
  if (d instanceof z.ZodArray) return described(z.array(strictDeep(d.element as z.ZodType)));
  if (d instanceof z.ZodRecord)
    return described(z.record(d.keyType as z.ZodString, strictDeep(d.valueType as z.ZodType)));
  if (d instanceof z.ZodNullable) return described(strictDeep(d.unwrap() as z.ZodType).nullable());
  if (d instanceof z.ZodOptional) return described(strictDeep(d.unwrap() as z.ZodType).optional());
  return s;
}

/**
 * Facts (src/facts/types.ts): the fixed sections are the fact modules' own schemas (system, cpu,
 * memory, nics: what the probe's parsers are checked against), the requested reads are written here;
 * the type checks below keep the whole the same as the type.
 */
export const FactsSchema = strictDeep(
  z.object({
    ...systemSchema.shape,
    cpu: cpuSchema,
    ...memorySchema.shape,
    nics: nicSchema,
    modules: z.array(
      z.object({
        name: z.string(),
        builtin: z.boolean().optional(),
        params: z.record(z.string(), z.string()),
        refcount: z.number(),
      }),
    ),
    modulesAvailable: z.array(z.string()),
    limits: z.object({ nofile: z.number() }),
    commands: z.record(z.string(), z.string().nullable()),
    packages: z.record(z.string(), z.string().nullable()),
    files: z.record(
      z.string(),
      z.object({
        exists: z.boolean(),
        sha256: z.string().nullable(),
        mode: z.string().nullable(),
        content: z.string().nullable(),
      }),
    ),
    diskFreeMb: z.record(z.string(), z.number()),
    services: z.record(
      z.string(),
      z.object({ active: z.boolean(), enabled: z.boolean(), unitExists: z.boolean() }),
    ),
    outputs: z.record(z.string(), z.object({ code: z.number(), stdout: z.string() })),
    processes: z.record(z.string(), z.array(z.number())),
    probeMs: z.number(),
  }),
);

// The schema and the type are the same both ways (a compile error here means one changed alone).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const factsMatch: Same<z.infer<typeof FactsSchema>, Facts> = true;
void factsMatch;

const TotalsSchema = z
  .object({
    changes: z.number().describe('every change planned, blocked hosts included'),
    applicable: z.number().describe('changes on hosts that can be applied (not blocked)'),
    hostsWithChanges: z.number().describe('hosts with changes that are not blocked'),
    inSync: z.number().describe('hosts planned, not blocked, with no change'),
    blocked: z.number().describe('hosts blocked by a preflight error'),
    heldBack: z.number().describe('changes planned on blocked hosts (not applied)'),
    unreachable: z.number().describe('hosts that could not be connected to or probed'),
    failed: z.number().describe('hosts whose planning failed'),
    errors: z.number().describe('unreachable + failed'),
    drift: z.number().describe('unmanaged objects found on the hosts (left alone)'),
    complete: z.boolean().describe('every host was planned and none is blocked'),
  })
  .strict();
const totalsMatch: Same<z.infer<typeof TotalsSchema>, PlanTotals> = true;
void totalsMatch;

const version = z.literal(JSON_FORMAT_VERSION).describe('raised when a field changes meaning or goes away');

/** A host's plan as printed (the saved plan's, without the facts it was planned from). */
const PrintedHostPlan = HostPlanSchema.omit({ facts: true });

export const FactsOutputSchema = z
  .object({
    format: z.literal(FACTS_OUTPUT_FORMAT),
    format_version: version,
    hosts: z
      .record(
        z.string(),
        z.union([FactsSchema, z.object({ error: z.string().describe('why there are no facts') }).strict()]),
      )
      .describe('per inventory host name: its facts, or why it has none'),
  })
  .strict();

export const PlanOutputSchema = z
  .object({
    format: z.literal(PLAN_OUTPUT_FORMAT),
    format_version: version,
    hosts: z.array(PrintedHostPlan),
    totals: TotalsSchema,
  })
  .strict();

export const VerifyOutputSchema = PlanOutputSchema.extend({ format: z.literal(VERIFY_OUTPUT_FORMAT) });

const DiagnosticSchema = z
  .object({
    file: z.string(),
    line: z.number(),
    col: z.number(),
    path: z.string().describe('document path, e.g. hosts.lb1.nics[0].match.pci'),
    message: z.string(),
  })
  .strict();

export const ValidateOutputSchema = z
  .object({
    format: z.literal(VALIDATE_OUTPUT_FORMAT),
    format_version: version,
    file: z.string().describe('the inventory, as given'),
    valid: z.boolean(),
    errors: z.array(DiagnosticSchema).describe('why the inventory is invalid (empty when valid)'),
    warnings: z.array(DiagnosticSchema),
    counts: z
      .object({ hosts: z.number(), balancers: z.number(), realservers: z.number(), services: z.number() })
      .strict()
      .optional()
      .describe('what a valid inventory holds'),
  })
  .strict();
export type ValidateOutput = z.infer<typeof ValidateOutputSchema>;

function fromZod(schema: z.ZodType, name: string, title: string): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>),
    $id: `https://dpvs-deploy.dev/schemas/${name}.schema.json`,
    title,
  };
}

/** `schema --output NAME` → [file name under schemas/, generator]. */
export const OUTPUT_SCHEMAS: Record<string, { file: string; schema: () => Record<string, unknown> }> = {
  facts: {
    file: 'facts-output',
    schema: () => fromZod(FactsOutputSchema, 'facts-output', 'dpvs-deploy facts --json'),
  },
  plan: {
    file: 'plan-output',
    schema: () => fromZod(PlanOutputSchema, 'plan-output', 'dpvs-deploy plan --json'),
  },
  verify: {
    file: 'verify-output',
    schema: () => fromZod(VerifyOutputSchema, 'verify-output', 'dpvs-deploy verify --json'),
  },
  validate: {
    file: 'validate-output',
    schema: () => fromZod(ValidateOutputSchema, 'validate-output', 'dpvs-deploy validate --json'),
  },
  report: { file: 'report', schema: reportJsonSchema },
  'saved-plan': { file: 'plan', schema: planJsonSchema },
};
