/**
 * `dpvs-deploy validate INVENTORY`: loads the inventory and reports. Exit 0 when valid (warnings go to
 * stderr), 1 when invalid (one `FILE:LINE:COL: path: message` line per problem), 2 on an internal error.
 * With --json, one document on stdout instead (schemas/validate-output.schema.json), same exit codes.
 */
import { isBalancer, isRealserver } from '../inventory/roles.js';
import { type Diagnostic, formatDiagnostic, InventoryError, UserError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';
import { jsonOutput, VALIDATE_OUTPUT_FORMAT } from '../plan/json-output.js';
import type { ValidateOutput } from '../run/output-schemas.js';

export interface CliStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export interface ValidateArgs {
  inventory: string;
  json?: boolean;
}

function printJson(io: CliStreams, doc: Omit<ValidateOutput, 'format' | 'format_version'>): void {
  io.stdout.write(JSON.stringify(jsonOutput(VALIDATE_OUTPUT_FORMAT, doc), null, 2) + '\n');
}

/** A problem that is not positioned in the inventory (a missing file, say), as a diagnostic of the file. */
function unpositioned(file: string, message: string): Diagnostic {
  return { file, line: 0, col: 0, path: '', message };
}

export async function run(args: ValidateArgs, io: CliStreams): Promise<number> {
  try {
    const inv = await loadInventory(args.inventory, { control: false });
    const balancers = inv.hosts.filter((h) => isBalancer(h)).length;
    const realservers = inv.hosts.filter((h) => isRealserver(h)).length;
    const n = inv.hosts.length;
    if (args.json) {
      printJson(io, {
        file: args.inventory,
        valid: true,
        errors: [],
        warnings: inv.warnings,
        counts: { hosts: n, balancers, realservers, services: inv.services.length },
      });
      return 0;
    }
    for (const w of inv.warnings) {
      io.stderr.write(formatDiagnostic({ ...w, message: `warning: ${w.message}` }) + '\n');
    }
    io.stdout.write(
      `OK: ${n} host${n === 1 ? '' : 's'} (${balancers} balancer${balancers === 1 ? '' : 's'}, ` +
        `${realservers} realserver${realservers === 1 ? '' : 's'}), ${inv.services.length} service${inv.services.length === 1 ? '' : 's'}\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof InventoryError) {
      if (args.json)
        printJson(io, { file: args.inventory, valid: false, errors: e.diagnostics, warnings: [] });
      else for (const d of e.diagnostics) io.stderr.write(formatDiagnostic(d) + '\n');
      return e.exitCode;
    }
    if (e instanceof UserError) {
      if (args.json)
        printJson(io, {
          file: args.inventory,
          valid: false,
          errors: [unpositioned(args.inventory, e.message)],
          warnings: [],
        });
      else io.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    io.stderr.write(
      `internal error while validating ${args.inventory}: ${e instanceof Error ? e.message : String(e)}\n`,
    );
    return 2;
  }
}
