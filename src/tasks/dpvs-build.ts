/**
 * dpvs-build: the DPVS release the inventory asks for, built against the installed DPDK (or copied from
 * the host of this run that builds the identical target), installed as /opt/dpvs/releases/<id> and made
 * current by switching the `current` symlink atomically. The previous release stays for rollback.
 *
 * Skips the build when the release's stamp holds the same inputs. Switching `current` while dpvs runs is
 * disruptive (it belongs to the restart that follows, in the same rolling batch).
 */
import type { Facts } from '../facts/types.js';
import { dpvsReleases } from '../facts/reads/dpvs-releases.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import type { Change } from '../plan/change.js';
import { fileWriteSteps } from '../plan/ops/managed-file.js';
import {
  buildSteps,
  copySteps,
  provisionOf,
  releaseInstalled,
  releaseOf,
  type ReleasePlan,
} from './dpvs/release.js';
import { DPVS_UNIT, dpvsActive, isBalancer, layoutOf } from './dpvs/settings.js';
import { parseReleaseState, RELEASE_STATE, switchCurrentCommand } from './dpvs/state.js';
import { rollbackNeeds, restartSteps } from './dpvs/rollback.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

export const DPVS_BUILD_TASK = 'dpvs-build';
/** Where `current` points now ('' when absent). */
export function currentTarget(facts: Facts): string {
  return dpvsReleases.read(facts).current;
}

export function installedReleases(facts: Facts): string[] {
  return dpvsReleases.read(facts).releases;
}

function probe(host: ResolvedHost, inventory: LoadedInventory) {
  if (!isBalancer(host)) return {};
  const l = layoutOf(host);
  const files = [RELEASE_STATE];
  try {
    files.push(releaseOf(host, inventory).stamp);
  } catch {
    // an unsupported version is reported by planning
  }
  return {
    files,
    services: [DPVS_UNIT],
    commands: ['curl', 'wget', 'git', 'make', 'tar', 'pkg-config'],
    ...dpvsReleases.request({ current: l.current, releases: l.releases }),
  };
}

function projectedAfter(facts: Facts, r: ReleasePlan, current: string): Facts {
  const p = structuredClone(facts);
  p.files[r.stamp] = { exists: true, sha256: null, mode: '0644', content: r.stampContent };
  const have = installedReleases(facts);
  return dpvsReleases.project(p, { current, releases: have.includes(r.id) ? have : [...have, r.id] });
}

export const dpvsBuildTask: Task = {
  name: DPVS_BUILD_TASK,
  probe,

  plan(ctx: PlanContext): TaskPlan {
    const { host, facts, inventory, fleet } = ctx;
    if (!isBalancer(host)) return { changes: [] };
    const l = layoutOf(host);
    const r = releaseOf(host, inventory);
    const changes: Change[] = [];

    if (!releaseInstalled(r, facts)) {
      const how = provisionOf(host, fleet, facts, r);
      changes.push({
        id: `dpvs-build/release/${r.id}`,
        task: DPVS_BUILD_TASK,
        summary:
          how.kind === 'build'
            ? `build DPVS ${r.version} against DPDK ${r.dpdkVersion} into ${r.dir}`
            : `install DPVS ${r.version} release ${r.id} built on ${how.from} into ${r.dir}`,
        action: 'create',
        after: r.stampContent.trim(),
        steps: how.kind === 'build' ? buildSteps(host, r) : copySteps(r, how.from),
      });
    }

    const now = currentTarget(facts);
    if (now !== r.dir) {
      const previous = now ? now.slice(now.lastIndexOf('/') + 1) : null;
      const state = JSON.stringify({ current: r.id, previous });
      changes.push({
        id: 'dpvs-build/current',
        task: DPVS_BUILD_TASK,
        summary: `${l.current} → releases/${r.id}${previous ? ` (was ${previous}, kept for rollback)` : ''}`,
        action: now ? 'update' : 'create',
        before: now || undefined,
        after: r.dir,
        reversible: previous !== null,
        disruptive: dpvsActive(facts),
        steps: [
          ...fileWriteSteps([
            { path: RELEASE_STATE, content: `${state}\n`, mode: 0o644, current: facts.files[RELEASE_STATE] },
          ]),
          { kind: 'exec', command: switchCurrentCommand(l.prefix, l.current, r.dir) },
        ],
      });
    }
    return { changes, projected: changes.length ? projectedAfter(facts, r, r.dir) : facts };
  },

  rollback(ctx: PlanContext): TaskPlan {
    const { host, facts } = ctx;
    if (!isBalancer(host)) return { changes: [] };
    const l = layoutOf(host);
    const st = parseReleaseState(facts.files[RELEASE_STATE]?.content);
    const needs = rollbackNeeds(ctx);
    if (!st?.previous || !needs.release) return { changes: [] };
    const prevDir = `${l.releases}/${st.previous}`;
    const state = JSON.stringify({ current: st.previous, previous: null, rolledBackFrom: st.current });
    return {
      changes: [
        {
          id: 'dpvs-build/rollback',
          task: DPVS_BUILD_TASK,
          summary: `${l.current} → releases/${st.previous} (back from ${st.current})${dpvsActive(facts) ? ', restart dpvs' : ''}`,
          action: 'update',
          before: currentTarget(facts),
          after: prevDir,
          disruptive: dpvsActive(facts),
          steps: [
            { kind: 'exec', command: switchCurrentCommand(l.prefix, l.current, prevDir) },
            ...fileWriteSteps([
              {
                path: RELEASE_STATE,
                content: `${state}\n`,
                mode: 0o644,
                current: facts.files[RELEASE_STATE],
              },
            ]),
            ...(dpvsActive(facts) ? restartSteps(ctx) : []),
          ],
        },
      ],
    };
  },
};
