/**
 * `dpvs-deploy validate INVENTORY`: loads the inventory and reports. Exit 0 when valid (warnings go to
 * stderr), 1 when invalid (one `FILE:LINE:COL: path: message` line per problem), 2 on an internal error.
 */
import { isBalancer, isRealserver } from '../inventory/roles.js';
import { formatDiagnostic, InventoryError, UserError } from '../errors.js';
import { loadInventory } from '../inventory/load.js';

export interface CliStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export interface ValidateArgs {
  inventory: string;
}

export async function run(args: ValidateArgs, io: CliStreams): Promise<number> {
  try {
    const inv = await loadInventory(args.inventory, { control: false });
    for (const w of inv.warnings) {
      io.stderr.write(formatDiagnostic({ ...w, message: `warning: ${w.message}` }) + '\n');
    }
    const balancers = inv.hosts.filter((h) => isBalancer(h)).length;
    const realservers = inv.hosts.filter((h) => isRealserver(h)).length;
    const n = inv.hosts.length;
    io.stdout.write(
      `OK: ${n} host${n === 1 ? '' : 's'} (${balancers} balancer${balancers === 1 ? '' : 's'}, ` +
        `${realservers} realserver${realservers === 1 ? '' : 's'}), ${inv.services.length} service${inv.services.length === 1 ? '' : 's'}\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof InventoryError) {
      for (const d of e.diagnostics) io.stderr.write(formatDiagnostic(d) + '\n');
      return e.exitCode;
    }
    if (e instanceof UserError) {
      io.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    io.stderr.write(
      `internal error while validating ${args.inventory}: ${e instanceof Error ? e.message : String(e)}\n`,
    );
    return 2;
  }
}
