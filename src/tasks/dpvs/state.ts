/**
 * What dpvs was (re)started with, recorded on the host after every start whose health gate passed:
 * the release `current` pointed to and the sha256 of dpvs.conf and of the unit. The dpvs-service planner
 * restarts dpvs only when the wanted release, config or unit differ from this record.
 *
 * The record is made on the host from the files as they are (readlink, sha256sum), so it is right also
 * after a rollback restored older files.
 */
import { sh } from '../../transport/quote.js';
import { STATE_DIR } from '../../desired/layout.js';

export const RUNNING_STATE = `${STATE_DIR}/dpvs-running.json`;
/** The release before the last activation: `dpvs-deploy rollback` switches back to it. */
export const RELEASE_STATE = `${STATE_DIR}/dpvs-release.json`;

export interface RunningState {
  release: string;
  confSha256: string;
  unitSha256: string;
}

export interface ReleaseState {
  current: string;
  previous: string | null;
}

function parseJson(content: string | null | undefined): unknown {
  if (!content) return undefined;
  try {
    return JSON.parse(content) as unknown;
  } catch {
    return undefined;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export function parseRunningState(content: string | null | undefined): RunningState | null {
  const v = parseJson(content);
  if (!isObj(v)) return null;
  const { release, confSha256, unitSha256 } = v;
  if (typeof release !== 'string' || typeof confSha256 !== 'string' || typeof unitSha256 !== 'string')
    return null;
  return { release, confSha256, unitSha256 };
}

export function parseReleaseState(content: string | null | undefined): ReleaseState | null {
  const v = parseJson(content);
  if (!isObj(v) || typeof v.current !== 'string') return null;
  return { current: v.current, previous: typeof v.previous === 'string' ? v.previous : null };
}

/** Shell that records the running state from the files on the host (after a healthy start). */
export function recordRunningStateCommand(p: {
  current: string;
  confPath: string;
  unitPath: string;
}): string {
  const tmp = `${RUNNING_STATE}.tmp`;
  return (
    sh`mkdir -p ${STATE_DIR} && r=$(basename "$(readlink ${p.current})") && ` +
    sh`c=$(sha256sum < ${p.confPath} | cut -d' ' -f1) && u=$(sha256sum < ${p.unitPath} | cut -d' ' -f1) && ` +
    sh`printf '{"release":"%s","confSha256":"%s","unitSha256":"%s"}\n' "$r" "$c" "$u" > ${tmp} && mv -f ${tmp} ${RUNNING_STATE}`
  );
}

/** Shell that points `current` at `target` atomically: a temp symlink renamed over the old one. */
export function switchCurrentCommand(prefix: string, current: string, target: string): string {
  const tmp = `${prefix}/.current.dpvs-deploy`;
  return sh`ln -sfn ${target} ${tmp} && mv -T ${tmp} ${current}`;
}
