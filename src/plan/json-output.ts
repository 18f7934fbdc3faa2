/**
 * The documents `--json` prints (facts, plan, verify, validate). Each names its kind (`format`) and
 * carries a `format_version`, raised when a field changes meaning or goes away (new fields do not raise
 * it). Their JSON Schemas: src/run/output-schemas.ts (schemas/*-output.schema.json, `dpvs-deploy schema
 * --output NAME`). They are reports to read; a plan to apply is saved with `plan --out`
 * (src/plan/plan-file.ts).
 */
export const JSON_FORMAT_VERSION = 1;

export const FACTS_OUTPUT_FORMAT = 'dpvs-deploy-facts';
export const PLAN_OUTPUT_FORMAT = 'dpvs-deploy-plan-output';
export const VERIFY_OUTPUT_FORMAT = 'dpvs-deploy-verify-output';
export const VALIDATE_OUTPUT_FORMAT = 'dpvs-deploy-validate';

export function jsonOutput<T extends Record<string, unknown>>(
  format: string,
  body: T,
): { format: string; format_version: number } & T {
  return { format, format_version: JSON_FORMAT_VERSION, ...body };
}

/** Does this parsed JSON look like what `plan --json` / `verify --json` printed (this or an older version)? */
export function isPlanOutput(doc: unknown): boolean {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return false;
  const d = doc as Record<string, unknown>;
  if (d.format === PLAN_OUTPUT_FORMAT || d.format === VERIFY_OUTPUT_FORMAT) return true;
  return d.format === undefined && Array.isArray(d.hosts) && typeof d.totals === 'object';
}
