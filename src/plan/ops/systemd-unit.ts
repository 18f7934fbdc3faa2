/**
 * The shared building block for a systemd unit the tool installs: the unit as typed sections, rendered
 * with every value escaped by its setting's rule (src/escape.ts: `systemdWord` for Exec*= words,
 * `systemdAssignment` for Environment=, `systemdValue` for the rest), and the Change that installs it
 * (a managed file, then `systemctl daemon-reload` and `systemctl enable`).
 *
 *   const unit: UnitFile = {
 *     comments: ['managed by dpvs-deploy'],
 *     sections: [
 *       ['Unit', [['Description', 'Bind DPDK NICs'], ['After', ['local-fs.target']]]],
 *       ['Service', [['Type', 'oneshot'], ['ExecStart', { exec: ['/etc/dpvs-deploy/bind-nics.sh'] }]]],
 *       ['Install', [['WantedBy', ['multi-user.target']]]],
 *     ],
 *   };
 *   systemdUnit({ task, id, name: 'dpvs-deploy-bind', unit, facts })  // Change | null
 */
import type { Facts } from '../../facts/types.js';
import { systemdAssignment, systemdValue, systemdWord, UnsafeValueError } from '../../escape.js';
import { sh } from '../../transport/quote.js';
import type { Change, Step } from '../change.js';
import { fileIsCurrent, managedFiles, projectedFile, type WantedFile } from './managed-file.js';

/** A word of an Exec*= line: a literal argument, or `$NAME` (systemd substitutes the variable). */
export type ExecWord = string | { variable: string };

/**
 * A setting's value:
 * - string / number: an ordinary value (`%` doubled);
 * - string[]: a space-separated list of names (After=, WantedBy=), each one word;
 * - { exec }: a command line, each argument quoted for systemd;
 * - { env }: Environment= assignments.
 */
export type UnitValue =
  | string
  | number
  | readonly string[]
  | { exec: readonly ExecWord[] }
  | { env: Readonly<Record<string, string>> };

export type UnitEntry = readonly [key: string, value: UnitValue];
export type UnitSection = readonly [name: string, entries: readonly UnitEntry[]];

export interface UnitFile {
  /** Comment lines at the top, each written as "# <line>". */
  comments: readonly string[];
  sections: readonly UnitSection[];
}

const KEY = /^[A-Za-z][A-Za-z0-9]*$/;

function execWord(w: ExecWord): string {
  if (typeof w === 'string') return systemdWord(w);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(w.variable))
    throw new UnsafeValueError('a systemd unit', 'a variable name', w.variable, 'not a variable name');
  return `$${w.variable}`;
}

function renderValue(key: string, v: UnitValue): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new UnsafeValueError('a systemd unit', key, String(v), 'not a number');
    return String(v);
  }
  if (typeof v === 'string') return systemdValue(v, key);
  if (Array.isArray(v)) {
    const names = v as readonly string[];
    for (const n of names)
      if (n === '' || /\s/.test(n))
        throw new UnsafeValueError('a systemd unit', `an entry of ${key}=`, n, 'a list entry is one word');
    return systemdValue(names.join(' '), key);
  }
  if ('exec' in v) {
    const words = (v as { exec: readonly ExecWord[] }).exec;
    if (typeof words[0] !== 'string' || !words[0].startsWith('/'))
      throw new UnsafeValueError(
        'a systemd unit',
        `${key}=`,
        String(words[0] ?? ''),
        'the program must be an absolute path',
      );
    return words.map(execWord).join(' ');
  }
  return Object.entries((v as { env: Record<string, string> }).env)
    .map(([name, value]) => systemdAssignment(name, value))
    .join(' ');
}

/** The unit's text: comments, then each section with its settings, a blank line between sections. */
export function renderUnit(u: UnitFile): string {
  const lines: string[] = [];
  for (const c of u.comments) {
    if (/[\n\r]/.test(c)) throw new UnsafeValueError('a systemd unit', 'a comment', c, 'one line each');
    lines.push(c === '' ? '#' : `# ${c}`);
  }
  u.sections.forEach(([name, entries], i) => {
    if (!KEY.test(name)) throw new UnsafeValueError('a systemd unit', 'a section name', name, 'not a name');
    if (i > 0) lines.push('');
    lines.push(`[${name}]`);
    for (const [key, value] of entries) {
      if (!KEY.test(key)) throw new UnsafeValueError('a systemd unit', 'a setting name', key, 'not a name');
      lines.push(`${key}=${renderValue(key, value)}`);
    }
  });
  return lines.join('\n') + '\n';
}

export const unitPath = (name: string): string => `/etc/systemd/system/${name}.service`;

/**
 * The steps after a unit file is written: daemon-reload, and `systemctl enable` when the unit must be
 * enabled (its [Install] may have changed, so it is enabled again whenever it is written).
 */
export function unitInstallSteps(name: string, enable: boolean): Step[] {
  return [
    { kind: 'exec', command: 'systemctl daemon-reload' },
    ...(enable ? [{ kind: 'exec' as const, command: sh`systemctl enable ${name}` }] : []),
  ];
}

export interface SystemdUnit {
  task: string;
  /** Change id, e.g. "hugepages/persist". */
  id: string;
  /** The unit's name without ".service": dpvs, dpvs-hugepages. */
  name: string;
  /** The rendered unit (renderUnit) or its sections. */
  unit: UnitFile | string;
  /** Where it goes; default /etc/systemd/system/<name>.service. */
  path?: string;
  facts: Pick<Facts, 'files' | 'services'>;
  /** Enable it (default true); false for a unit another one pulls in (keepalived's PartOf=dpvs). */
  enable?: boolean;
  /** Files the unit runs, written in the same Change before it (nic-binding's boot script). */
  with?: WantedFile[];
  /** Steps after daemon-reload and enable (a start). */
  then?: Step[];
  summary?: string;
  disruptive?: boolean;
  reversible?: boolean;
}

/**
 * The Change that installs a unit: its file (and `with` files) written as managed files, then
 * daemon-reload and enable. Null when the files are current and the unit is enabled (or need not be).
 */
export function systemdUnit(u: SystemdUnit): Change | null {
  const path = u.path ?? unitPath(u.name);
  const content = typeof u.unit === 'string' ? u.unit : renderUnit(u.unit);
  const enable = u.enable ?? true;
  const enabled = u.facts.services[u.name]?.enabled === true;
  const files = [...(u.with ?? []), { path, content, mode: 0o644, current: u.facts.files[path] }];
  const summary = u.summary ?? (files.every(fileIsCurrent) ? `enable ${u.name}.service` : undefined);
  return managedFiles({
    task: u.task,
    id: u.id,
    files,
    then: [...unitInstallSteps(u.name, enable), ...(u.then ?? [])],
    force: enable && !enabled,
    ...(summary !== undefined ? { summary } : {}),
    ...(u.disruptive !== undefined ? { disruptive: u.disruptive } : {}),
    ...(u.reversible !== undefined ? { reversible: u.reversible } : {}),
  });
}

/** The facts after systemdUnit's Change: the files written and the unit enabled (when asked). */
export function projectUnit(
  projected: Facts,
  u: Pick<SystemdUnit, 'name' | 'path' | 'unit' | 'enable' | 'with'>,
): void {
  const path = u.path ?? unitPath(u.name);
  const content = typeof u.unit === 'string' ? u.unit : renderUnit(u.unit);
  for (const f of u.with ?? []) projected.files[f.path] = projectedFile(f);
  projected.files[path] = projectedFile({ content, mode: 0o644 });
  if (u.enable ?? true)
    projected.services[u.name] = {
      ...(projected.services[u.name] ?? { active: false }),
      enabled: true,
      unitExists: true,
    };
}
