/**
 * The shared building block for a file the tool manages on a host (pyinfra's files.put, as data): it
 * compares the wanted content and mode with the file's facts and, only when they differ, returns one
 * Change that creates the parent directory, writes the file atomically (the engine's write step: temp +
 * rename, the previous copy kept as PATH.dpvs-deploy.bak) and runs the follow-up steps (daemon-reload,
 * a restart). The diff shown in the plan is unified, with `display` applied to both sides (secrets). The
 * returned projection is the file as it will be, for the tasks planned after this one.
 */
import type { FileFacts } from '../../facts/types.js';
import { sh } from '../../transport/quote.js';
import type { Change, Step } from '../change.js';
import { unifiedFileDiff } from '../diff.js';

export interface ManagedFile {
  task: string;
  /** Change id, e.g. "nofile/limits". */
  id: string;
  path: string;
  content: string;
  mode: number;
  owner?: string;
  /** The file as the probe found it (facts.files[path]). */
  current: FileFacts | undefined;
  /** One line for humans; default "PATH: create" / "PATH: update". */
  summary?: string;
  /** Steps after the write (systemctl daemon-reload, a restart). */
  then?: Step[];
  /** Run the change even when the file is as wanted (e.g. the unit it installs is not enabled). */
  force?: boolean;
  disruptive?: boolean;
  /** Whether `rollback` can restore the kept copy; default true. */
  reversible?: boolean;
  /** What the plan shows of a content (e.g. a secret masked); default the content itself. */
  display?: (content: string) => string;
}

const modeText = (mode: number): string => `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;

/** Is the file on the host exactly as wanted (content and mode)? */
export function fileIsCurrent(f: Pick<ManagedFile, 'content' | 'mode' | 'current'>): boolean {
  const c = f.current;
  return c?.exists === true && c.content === f.content && (c.mode === null || c.mode === modeText(f.mode));
}

/** The Change that makes the file so, or null when it already is (and nothing forces a run). */
export function managedFile(f: ManagedFile): Change | null {
  const current = fileIsCurrent(f);
  if (current && !f.force) return null;
  const exists = f.current?.exists === true;
  const show = f.display ?? ((s: string) => s);
  const before = exists ? (f.current?.content ?? '') : null;
  const contentChanges = !exists || f.current?.content !== f.content;
  const modeOnly = exists && !contentChanges && !current;
  const dir = f.path.slice(0, f.path.lastIndexOf('/')) || '/';
  return {
    id: f.id,
    task: f.task,
    summary:
      f.summary ??
      (modeOnly
        ? `${f.path}: mode ${f.current?.mode ?? '?'} → ${modeText(f.mode)}`
        : `${f.path}: ${exists ? 'update' : 'create'}`),
    action: exists ? 'update' : 'create',
    ...(contentChanges
      ? { diff: unifiedFileDiff(f.path, before === null ? null : show(before), show(f.content)) }
      : {}),
    ...(f.disruptive !== undefined ? { disruptive: f.disruptive } : {}),
    reversible: f.reversible ?? true,
    steps: [
      ...(current
        ? []
        : [
            { kind: 'exec' as const, command: sh`mkdir -p ${dir}` },
            {
              kind: 'write' as const,
              path: f.path,
              content: f.content,
              mode: f.mode,
              ...(f.owner !== undefined ? { owner: f.owner } : {}),
            },
          ]),
      ...(f.then ?? []),
    ],
  };
}

/** The file's facts after the change: for the projected facts of the tasks planned next. */
export function projectedFile(f: Pick<ManagedFile, 'content' | 'mode'>): FileFacts {
  return { exists: true, sha256: null, mode: modeText(f.mode), content: f.content };
}
