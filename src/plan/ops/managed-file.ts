/**
 * The shared building block for files the tool manages on a host (pyinfra's files.put, as data). It
 * compares the wanted content and mode with the files' facts and, only when they differ, returns the
 * steps that create the parent directories, write each file atomically (the engine's write step: temp +
 * rename, the previous copy kept as PATH.dpvs-deploy.bak) and run the follow-up steps (daemon-reload,
 * a restart). The diff shown in the plan is unified, with `display` applied to both sides (secrets). The
 * projection is the file as it will be, for the tasks planned after this one.
 *
 * Three levels, each built on the one below:
 * - `fileWriteSteps(files)`: the steps alone, for a task that writes files inside a Change of its own
 *   (nic-binding records its NICs before the first bind, hugepages its previous state);
 * - `managedFiles({files, ...})`: several files in ONE Change (kmods' modules-load.d + modprobe.d,
 *   nic-binding's boot script + unit), with their diffs one after the other;
 * - `managedFile({path, content, ...})`: one file, one Change.
 * `restoreKeptCopy` plans the rollback of a file to the copy the last write kept.
 */
import type { FileFacts } from '../../facts/types.js';
import { BACKUP_SUFFIX } from '../../transport/remote-put.js';
import { sh } from '../../transport/quote.js';
import type { Change, Step } from '../change.js';
import { unifiedFileDiff } from '../diff.js';

/** One file as it should be on the host, and as the probe found it. */
export interface WantedFile {
  path: string;
  content: string;
  mode: number;
  /** user[:group] for the write (not compared: the probe does not read owners) */
  owner?: string;
  /** The file as the probe found it (facts.files[path]). */
  current: FileFacts | undefined;
  /** What the plan shows of a content (e.g. a secret masked); default the content itself. */
  display?: (content: string) => string;
}

/** A file that should not be there: moved aside to PATH.dpvs-deploy.bak (the old copy kept). */
export interface UnwantedFile {
  path: string;
  current: FileFacts | undefined;
}

export interface ManagedFiles {
  task: string;
  /** Change id, e.g. "kmods/persist". */
  id: string;
  files: WantedFile[];
  remove?: UnwantedFile[];
  /** One line for humans; default "PATH: create" / "PATH, PATH: update". */
  summary?: string;
  /** Steps after the writes (systemctl daemon-reload, enable, a restart). */
  then?: Step[];
  /** Run the change even when every file is as wanted (e.g. the unit it installs is not enabled). */
  force?: boolean;
  disruptive?: boolean;
  /** Whether `rollback` can undo it; default true. */
  reversible?: boolean;
}

export interface ManagedFile extends WantedFile {
  task: string;
  /** Change id, e.g. "nofile/limits". */
  id: string;
  summary?: string;
  then?: Step[];
  force?: boolean;
  disruptive?: boolean;
  reversible?: boolean;
}

/** "0644": the probe's spelling of a mode. */
export const modeText = (mode: number): string => `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;

/** Where the engine's write keeps the previous copy of `path`. */
export function keptCopyPath(path: string): string {
  return `${path}${BACKUP_SUFFIX}`;
}

/** Is the file on the host exactly as wanted (content and mode)? */
export function fileIsCurrent(f: Pick<WantedFile, 'content' | 'mode' | 'current'>): boolean {
  const c = f.current;
  return c?.exists === true && c.content === f.content && (c.mode === null || c.mode === modeText(f.mode));
}

/** How a file differs from what is wanted. */
export type FileState = 'current' | 'create' | 'update' | 'mode';

export function fileState(f: Pick<WantedFile, 'content' | 'mode' | 'current'>): FileState {
  if (fileIsCurrent(f)) return 'current';
  if (f.current?.exists !== true) return 'create';
  return f.current.content === f.content ? 'mode' : 'update';
}

const parentOf = (path: string): string => path.slice(0, path.lastIndexOf('/')) || '/';

/**
 * The steps that make the files so: one `mkdir -p` for the parent directories of the files that are
 * written, then one atomic write per file that is not current (in the order given). [] when all are.
 */
export function fileWriteSteps(files: readonly WantedFile[]): Step[] {
  const due = files.filter((f) => !fileIsCurrent(f));
  if (!due.length) return [];
  const dirs = [...new Set(due.map((f) => parentOf(f.path)))];
  return [
    { kind: 'exec', command: sh`mkdir -p ${dirs}` },
    ...due.map((f): Step => ({
      kind: 'write',
      path: f.path,
      content: f.content,
      mode: f.mode,
      ...(f.owner !== undefined ? { owner: f.owner } : {}),
    })),
  ];
}

/** The step that moves an unwanted file aside (kept as PATH.dpvs-deploy.bak), or null when it is absent. */
export function fileRemoveStep(f: UnwantedFile): Step | null {
  if (f.current?.exists !== true) return null;
  return { kind: 'exec', command: sh`if [ -e ${f.path} ]; then mv -f ${f.path} ${keptCopyPath(f.path)}; fi` };
}

/** The unified diffs of the files whose content changes (and of the removed ones), one after another. */
export function filesDiff(
  files: readonly WantedFile[],
  remove: readonly UnwantedFile[] = [],
): string | undefined {
  const parts: string[] = [];
  for (const f of files) {
    const exists = f.current?.exists === true;
    if (exists && f.current?.content === f.content) continue;
    const show = f.display ?? ((s: string) => s);
    const before = exists ? (f.current?.content ?? '') : null;
    parts.push(unifiedFileDiff(f.path, before === null ? null : show(before), show(f.content)));
  }
  for (const r of remove)
    if (r.current?.exists === true) parts.push(removalDiff(r.path, r.current.content ?? ''));
  return parts.length ? parts.join('\n') : undefined;
}

function removalDiff(path: string, before: string): string {
  const lines = before === '' ? [] : before.replace(/\n$/, '').split('\n');
  return [
    `--- a${path}`,
    '+++ /dev/null',
    `@@ -1,${lines.length} +0,0 @@`,
    ...lines.map((l) => `-${l}`),
  ].join('\n');
}

function defaultSummary(files: readonly WantedFile[], remove: readonly UnwantedFile[]): string {
  const parts: string[] = [];
  const due = files.filter((f) => !fileIsCurrent(f));
  const modeOnly = due.length === 1 && !remove.some((r) => r.current?.exists) ? due[0] : undefined;
  if (modeOnly && fileState(modeOnly) === 'mode')
    return `${modeOnly.path}: mode ${modeOnly.current?.mode ?? '?'} → ${modeText(modeOnly.mode)}`;
  for (const f of due) parts.push(`${f.path}: ${fileState(f) === 'create' ? 'create' : 'update'}`);
  for (const r of remove) if (r.current?.exists) parts.push(`${r.path}: remove`);
  return parts.join(', ');
}

/**
 * One Change that makes several files so (and removes the unwanted ones), or null when all are as
 * wanted and nothing forces a run. Files already current are not rewritten.
 */
export function managedFiles(m: ManagedFiles): Change | null {
  const remove = m.remove ?? [];
  const removeSteps = remove.flatMap((r) => fileRemoveStep(r) ?? []);
  const writeSteps = fileWriteSteps(m.files);
  if (!writeSteps.length && !removeSteps.length && !m.force) return null;
  const diff = filesDiff(m.files, remove);
  const anyExists = [...m.files, ...remove].some((f) => f.current?.exists === true);
  return {
    id: m.id,
    task: m.task,
    summary: m.summary ?? (defaultSummary(m.files, remove) || m.files.map((f) => f.path).join(', ')),
    action: anyExists ? 'update' : 'create',
    ...(diff !== undefined ? { diff } : {}),
    ...(m.disruptive !== undefined ? { disruptive: m.disruptive } : {}),
    reversible: m.reversible ?? true,
    steps: [...writeSteps, ...removeSteps, ...(m.then ?? [])],
  };
}

/** The Change that makes one file so, or null when it already is (and nothing forces a run). */
export function managedFile(f: ManagedFile): Change | null {
  const { task, id, summary, then, force, disruptive, reversible, ...file } = f;
  return managedFiles({
    task,
    id,
    files: [file],
    ...(summary !== undefined ? { summary } : {}),
    ...(then !== undefined ? { then } : {}),
    ...(force !== undefined ? { force } : {}),
    ...(disruptive !== undefined ? { disruptive } : {}),
    ...(reversible !== undefined ? { reversible } : {}),
  });
}

/** The file's facts after the change: for the projected facts of the tasks planned next. */
export function projectedFile(f: Pick<WantedFile, 'content' | 'mode'>): FileFacts {
  return { exists: true, sha256: null, mode: modeText(f.mode), content: f.content };
}

export interface KeptCopy {
  task: string;
  id: string;
  path: string;
  /** facts.files[path] and facts.files[keptCopyPath(path)] (ask the probe for both). */
  current: FileFacts | undefined;
  kept: FileFacts | undefined;
  summary?: string;
  then?: Step[];
  disruptive?: boolean;
}

/**
 * Rollback of a managed file: put back the copy the last write kept (PATH.dpvs-deploy.bak), with the
 * diff from the file now to that copy. Null when there is no kept copy or it equals the file. The copy
 * is installed through a temp file in the same directory and a rename, so the file is never half-written.
 */
export function restoreKeptCopy(k: KeptCopy): Change | null {
  const kept = k.kept;
  if (kept?.exists !== true || kept.content === null || kept.content === k.current?.content) return null;
  const bak = keptCopyPath(k.path);
  const tmp = `${parentOf(k.path)}/.${k.path.slice(k.path.lastIndexOf('/') + 1)}.dpvs-deploy.restore`;
  return {
    id: k.id,
    task: k.task,
    summary: k.summary ?? `${k.path}: restore the previous copy (${bak})`,
    action: 'update',
    diff: unifiedFileDiff(k.path, k.current?.exists ? (k.current.content ?? '') : null, kept.content),
    ...(k.disruptive !== undefined ? { disruptive: k.disruptive } : {}),
    steps: [{ kind: 'exec', command: sh`cp -p ${bak} ${tmp} && mv -f ${tmp} ${k.path}` }, ...(k.then ?? [])],
  };
}
