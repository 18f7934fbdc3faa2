/**
 * dpvs-deploy's command line. Every user error ends as a message and an exit code, never a stack trace
 * (unless --debug).
 */
import {
  Argument,
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
  type OptionValues,
} from '@commander-js/extra-typings';
import { UserError } from '../errors.js';
import { TransportError } from '../transport/types.js';
import {
  applyCommand,
  factsCommand,
  planCommand,
  rollbackCommand,
  showCommand,
  verifyCommand,
} from './commands.js';
import { discoverCommand } from '../discover/command.js';
import { COMPLETION_SHELLS, completionScript } from './completion.js';
import { processIo, type Io } from './io.js';
import { run as schemaRun } from './schema.js';
import { type CliStreams, run as validateRun } from './validate.js';
import { TOOL_VERSION } from '../paths.js';
import { OUTPUT_SCHEMAS } from '../run/output-schemas.js';

/** validate/schema write raw text: map their streams onto the CLI's Io. */
function streams(io: Io): CliStreams {
  return {
    stdout: { write: (t: string) => io.raw('out', t) },
    stderr: { write: (t: string) => io.raw('err', t) },
  };
}

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

const EXAMPLES = {
  validate: `\nExamples:\n  dpvs-deploy validate inventories/lab.yaml\n  dpvs-deploy validate prod.yaml || echo "fix the errors above"`,
  facts: `\nExamples:\n  dpvs-deploy facts inventories/lab.yaml\n  dpvs-deploy facts prod.yaml --limit lb1 --json | jq '.hosts.lb1.nics'`,
  plan: `\nExit codes: 0 no changes, 2 changes pending, 1 error (unreachable host, preflight error).\n\nExamples:\n  dpvs-deploy plan inventories/lab.yaml\n  dpvs-deploy plan prod.yaml --limit 'lb*' --stats\n  dpvs-deploy plan prod.yaml --out plan.json   # a plan to apply: dpvs-deploy apply plan.json\n  dpvs-deploy plan prod.yaml --json | jq .totals   # a report to read (format_version 1), not a plan to apply`,
  apply: `\nExit codes: 0 every host succeeded, 1 otherwise.\n\nExamples:\n  dpvs-deploy apply inventories/lab.yaml --yes\n  dpvs-deploy plan prod.yaml --out plan.json && dpvs-deploy apply plan.json\n  dpvs-deploy apply prod.yaml --limit lb1,lb2 --serial 1 --max-fail-percent 25 --junit junit.xml`,
  verify: `\nExit codes: 0 in sync, 2 drift, 1 error.\n\nExamples:\n  dpvs-deploy verify prod.yaml`,
  schema: `\nExamples:\n  dpvs-deploy schema > inventory.schema.json\n  dpvs-deploy schema --output plan > plan-output.schema.json   # what plan --json prints\n\nOutputs: facts, plan, verify, validate (--json of each command), report (--report-json), saved-plan (plan --out).`,
};

/**
 * The options facts, plan, apply, verify and rollback share. Typed through commander's extra-typings:
 * each command's action receives exactly the options declared on it, and the compiler checks them
 * against the command's options interface (CommonOptions and its extensions in commands.ts).
 */
function common<Args extends unknown[], Opts extends OptionValues>(cmd: Command<Args, Opts>) {
  return cmd
    .option(
      '--limit <pattern>',
      "hosts, groups or role:NAME, comma-separated, * wildcards, ! to exclude (e.g. 'lb*,!lb2')",
    )
    .option(
      '--tasks <names>',
      'only these tasks of the playbooks, comma-separated, run in playbook order (e.g. dpdk-source,dpdk-build)',
    )
    .addOption(
      new Option('--forks <n>', 'hosts worked on at once').argParser(intArg('--forks', 1, 1000)).default(50),
    )
    .option('--run-dir <dir>', 'where transcripts and reports go', '.dpvs-deploy/runs')
    .option(
      '--accept-new-host-keys',
      'trust and record host keys of hosts not yet in known_hosts (never a changed key)',
    )
    .option('--ssh-config <file>', 'ssh_config to read instead of ~/.ssh/config');
}

export function buildProgram(io: Io, setCode: (n: number) => void): Command {
  const program = new Command('dpvs-deploy')
    .description('Take bare servers to a running DPVS load-balancer fleet over SSH: plan, apply, verify.')
    .version(TOOL_VERSION)
    .option('--debug', 'show stack traces and debug output')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('validate')
    .argument('<inventory>', 'inventory YAML file')
    .description('check an inventory: exit 0 valid, 1 invalid (every error as FILE:LINE:COL: path: message)')
    .option(
      '--json',
      'one machine-readable document on stdout (schema: dpvs-deploy schema --output validate)',
    )
    .addHelpText('after', EXAMPLES.validate)
    .action(async (file, o) =>
      setCode(await validateRun({ inventory: file, ...(o.json ? { json: true } : {}) }, streams(io))),
    );

  program
    .command('schema')
    .description(
      'print the inventory JSON Schema (for editors: yaml-language-server), or with --output another one',
    )
    .addOption(
      new Option('--output <name>', "the JSON Schema of a command's JSON output instead").choices(
        Object.keys(OUTPUT_SCHEMAS),
      ),
    )
    .addHelpText('after', EXAMPLES.schema)
    .action(async (o) =>
      setCode(await schemaRun(o.output !== undefined ? { output: o.output } : {}, streams(io))),
    );

  common(
    program
      .command('facts')
      .argument('<inventory>')
      .description('gather and print facts: CPU/SMT, NUMA, hugepages, NICs'),
  )
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXAMPLES.facts)
    .action(async (file, o) => setCode(await factsCommand(file, o, io)));

  common(
    program
      .command('plan')
      .argument('<inventory>')
      .description('show exactly what apply would change (changes nothing)'),
  )
    .option('--json', 'machine-readable output')
    .option('--stats', 'print SSH connections and exec round trips per host')
    .option('--no-diff', 'summaries only, no file diffs or commands')
    .option('--out <file>', 'save the plan (JSON) for a later `apply FILE` that applies exactly it')
    .addHelpText('after', EXAMPLES.plan)
    .action(async (file, o) => setCode(await planCommand(file, o, io)));

  common(
    program
      .command('apply')
      .argument('<inventory>')
      .description('apply the plan: per host in playbook order, verified'),
  )
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--stats', 'print SSH connections and exec round trips per host')
    .option('--no-diff', 'summaries only in the plan shown before applying')
    .option('--serial <n>', 'hosts per rolling batch for disruptive changes (N or N%)')
    .addOption(
      new Option(
        '--max-fail-percent <p>',
        'stop starting new hosts when failures exceed this share of the run',
      ).argParser(intArg('--max-fail-percent', 0, 100)),
    )
    .option('--break-lock', 'remove a stale host lock left by a crashed apply')
    .addOption(
      new Option(
        '--lock-timeout <seconds>',
        'wait this long for a host lock held by another apply',
      ).argParser(intArg('--lock-timeout', 0, 86400)),
    )
    .option('--report-json <file>', 'write the run report as JSON (schemas/report.schema.json)')
    .option('--junit <file>', 'write JUnit XML: one test case per host and task')
    .addHelpText('after', EXAMPLES.apply)
    .action(async (file, o) => setCode(await applyCommand(file, o, io)));

  common(
    program
      .command('verify')
      .argument('<inventory>')
      .description('report drift: exit 0 in sync, 2 drift, 1 error'),
  )
    .option('--json', 'machine-readable output')
    .option('--no-diff', 'summaries only')
    .addHelpText('after', EXAMPLES.verify)
    .action(async (file, o) => setCode(await verifyCommand(file, o, io)));

  common(
    program
      .command('rollback')
      .argument('<inventory>')
      .description(
        'plan and apply the inverse of reversible changes: NIC drivers, dpvs release and config, module files, hugepages',
      ),
  )
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-diff', 'summaries only')
    .option('--break-lock', 'remove a stale host lock left by a crashed apply')
    .option('--report-json <file>', 'write the run report as JSON')
    .option('--junit <file>', 'write JUnit XML')
    .addHelpText(
      'after',
      `\nExamples:\n  dpvs-deploy rollback prod.yaml --limit lb2\n  dpvs-deploy rollback inventories/lab.yaml --yes`,
    )
    .action(async (file, o) => setCode(await rollbackCommand(file, o, io)));

  program
    .command('show')
    .argument('<plan.json>', 'a plan saved with plan --out')
    .description('render a saved plan')
    .option('--json', 'print the plan document')
    .option('--no-diff', 'summaries only')
    .addHelpText(
      'after',
      `\nExit codes: 0 the plan has no changes, 2 it has changes, 1 error.\n\nExamples:\n  dpvs-deploy plan prod.yaml --out plan.json && dpvs-deploy show plan.json\n  dpvs-deploy show plan.json --json | jq '.hosts[].host'`,
    )
    .action(async (file, o) => setCode(await showCommand(file, o, io)));

  program
    .command('init')
    .description('write an inventory for one host from its facts (to stdout): init --discover USER@HOST')
    .requiredOption(
      '--discover <user@host>',
      'connect to [USER@]HOST[:PORT] and gather its facts (read only)',
    )
    .addOption(
      new Option('--role <role>', 'what the host becomes')
        .choices(['balancer', 'realserver'])
        .default('balancer'),
    )
    .addOption(new Option('--port <n>', 'SSH port').argParser(intArg('--port', 1, 65535)))
    .option('-i, --identity <file>', 'private key file (written into the inventory)')
    .option('--known-hosts <file>', 'known_hosts file (written into the inventory)')
    .option(
      '--ssh-config <file>',
      'ssh_config to resolve HOST with; its settings are written into the inventory',
    )
    .option('--name <name>', "the host's name in the inventory (default: its hostname)")
    .option('--accept-new-host-keys', 'trust and record the host key if the host is not yet in known_hosts')
    .addHelpText(
      'after',
      `\nExit codes: 0 inventory written, 1 error.\n\nExamples:\n  dpvs-deploy init --discover root@10.0.0.11 > inventory.yaml\n  dpvs-deploy init --discover deploy@rs1 --role realserver --ssh-config ~/.ssh/lab_config > rs1.yaml`,
    )
    .action(async (o) => setCode(await discoverCommand(o.discover, o, io)));

  program
    .command('completion')
    .addArgument(new Argument('<shell>', 'the shell to complete for').choices(COMPLETION_SHELLS))
    .description('print a shell completion script for bash or zsh')
    .addHelpText(
      'after',
      `\nExamples:\n  source <(dpvs-deploy completion bash)      # in ~/.bashrc\n  dpvs-deploy completion zsh > "\${fpath[1]}/_dpvs-deploy"`,
    )
    .action((shell) => {
      io.raw('out', completionScript(program, shell));
      setCode(0);
    });

  return program;
}

export async function main(argv: string[], io: Io = processIo(argv.includes('--debug'))): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (n) => {
    code = n;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
        ? 0
        : 1;
    }
    if (argv.includes('--debug')) io.err(e instanceof Error ? (e.stack ?? e.message) : String(e));
    else if (e instanceof UserError || e instanceof TransportError) io.err(`error: ${e.message}`);
    else io.err(`error: ${e instanceof Error ? e.message : String(e)} (run with --debug for details)`);
    return e instanceof UserError ? e.exitCode : 1;
  }
}
