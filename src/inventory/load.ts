/**
 * loadInventory: bytes → YAML with positions → zod schema → resolved hosts → semantic checks.
 * Every problem becomes a positioned Diagnostic; all of a stage's problems are reported together
 * (YAML syntax errors stop before the schema, schema errors before the semantic checks, since later
 * stages cannot make sense of a document the earlier ones refused).
 */
import { createHash } from 'node:crypto';
import { readControlInputs } from './control-read.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InventoryError, UserError, type Diagnostic } from '../errors.js';
import { Findings } from './findings.js';
import { decodeInventory, excessiveNesting, MAX_NESTING, textPosition } from './guards.js';
import { issuesToProblems } from './issues.js';
import { originOf, resolveHosts, type Resolution } from './merge.js';
import { Inventory } from './schema.js';
import {
  checkGroups,
  checkKeepalivedPairs,
  checkLiteralSecrets,
  checkServices,
  checkSshAddresses,
} from './semantic-fleet.js';
import { checkHost } from './semantic-host.js';
import { checkHostNetwork } from './semantic-host-net.js';
import { checkSeries } from './semantic-series.js';
import { checkServiceRelations } from './semantic-services.js';
import { checkHugepageRoom } from './semantic-sizes.js';
import { checkSourceVersions } from './semantic-sources.js';
import {
  formatPath,
  keysInOrder,
  parseSource,
  positionOf,
  type DocPath,
  type ParsedSource,
  type Problem,
} from './source.js';
import type { LoadedInventory, SourcePosition } from './types.js';

function toDiagnostic(file: string, src: ParsedSource | undefined, p: Problem): Diagnostic {
  const pos = p.pos ?? (src ? positionOf(src, p.path, p.atKey) : { line: 1, col: 1 });
  let message = p.message;
  if (p.related && src) {
    const other = positionOf(src, p.related);
    message += ` [other value: ${formatPath(p.related)} at ${file}:${other.line}:${other.col}]`;
  }
  return { file, line: pos.line, col: pos.col, path: formatPath(p.path), message };
}

function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Semantic checks on a schema-valid document. */
export function checkInventory(inv: Inventory, res: Resolution[], dir?: string): Findings {
  const f = new Findings();
  checkGroups(inv, f);
  checkSshAddresses(res, f);
  for (const r of res) {
    const host = new Findings();
    checkHost(r, host);
    checkHostNetwork(r, host);
    checkHugepageRoom(r, host);
    checkSourceVersions(r, host, dir);
    f.addFromHost(r.host.name, host);
  }
  checkServices(inv, res, f);
  checkServiceRelations(inv, res, f);
  checkKeepalivedPairs(res, f, inv.services);
  checkSeries(inv, res, f);
  checkLiteralSecrets(inv, f);
  return f;
}

/**
 * Loads an inventory from bytes. `file` is the name diagnostics print (as the user gave it);
 * `absFile` the absolute path recorded in the result.
 */
export interface LoadOptions {
  /** Read the control-side inputs (secrets, local file checksums, patch series); default true. `validate` needs none. */
  control?: boolean;
}

export function loadInventoryBytes(
  bytes: Uint8Array,
  file: string,
  absFile = path.resolve(file),
  opts: LoadOptions = {},
): LoadedInventory {
  const fail = (problems: Problem[], src?: ParsedSource): never => {
    throw new InventoryError(sortDiagnostics(problems.map((p) => toDiagnostic(file, src, p))));
  };

  const decoded = decodeInventory(bytes);
  if ('problem' in decoded) {
    const { line, col, message } = decoded.problem;
    return fail([{ path: [], message, pos: { line, col } }]);
  }
  const text = decoded.text;
  const deep = excessiveNesting(text);
  if (deep >= 0) {
    return fail([
      {
        path: [],
        message: `the document is nested more than ${MAX_NESTING} levels deep`,
        pos: textPosition(text, deep),
      },
    ]);
  }

  const src = parseSource(text);
  if (src.errors.length) return fail(src.errors, src);
  const data = src.data;
  if (data === null || data === undefined) {
    return fail(
      [
        {
          path: [],
          message: 'the inventory is empty; expected a mapping with version: 1 and hosts',
          pos: { line: 1, col: 1 },
        },
      ],
      src,
    );
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    return fail(
      [
        {
          path: [],
          message: `expected a mapping at the top level (version: 1, hosts: ...), got ${Array.isArray(data) ? 'a list' : `a ${typeof data}`}`,
        },
      ],
      src,
    );
  }

  const parsed = Inventory.safeParse(data, { reportInput: true });
  if (!parsed.success) return fail(issuesToProblems(parsed.error.issues, Inventory), src);
  const doc = parsed.data;

  const res = resolveHosts(doc, keysInOrder(src, ['hosts']), keysInOrder(src, ['groups']));
  const findings = checkInventory(doc, res, path.dirname(absFile));
  const yamlWarnings = src.warnings;
  if (findings.errors.length) return fail(findings.errors, src);

  const byHost = new Map(res.map((r) => [r.host.name, r]));
  const warnings = sortDiagnostics(
    [...yamlWarnings, ...findings.warnings].map((p) => toDiagnostic(file, src, p)),
  );
  const hosts = res.map((r) => r.host);
  return {
    file: absFile,
    dir: path.dirname(absFile),
    ...(opts.control === false
      ? {}
      : { control: readControlInputs([doc, ...hosts], path.dirname(absFile), hosts) }),
    checksum: createHash('sha256').update(bytes).digest('hex'),
    doc,
    hosts,
    services: doc.services ?? [],
    warnings,
    positionOf: (p: DocPath): SourcePosition => positionOf(src, p),
    positionOfHostValue: (host: string, p: DocPath): SourcePosition => {
      const r = byHost.get(host);
      return positionOf(src, r ? originOf(r, p) : ['hosts', host]);
    },
  };
}

/** Reads, parses, validates and resolves an inventory file. Throws InventoryError (or UserError if unreadable). */
export async function loadInventory(file: string, opts: LoadOptions = {}): Promise<LoadedInventory> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : String((e as Error).message);
    throw new UserError(`cannot read inventory ${file}: ${why}`);
  }
  return loadInventoryBytes(bytes, file, undefined, opts);
}
