/**
 * dpdk-source: the DPDK tarball, the DPVS tarball (for its patch series patch/<dpdk top dir>/), the
 * dpdk-kmods tarball (igb_uio for 20.11+, dpdk.kmods) and the user's own patches, fetched on the host (or pushed from the control machine), verified by sha256 and
 * cached by checksum under CACHE_DIR. Only a host that will build DPDK fetches: a host whose build is
 * current, or that receives the build from another host of the run, needs no sources. A DPVS tarball
 * fetched from a URL gets its patch series recorded next to it (src/tasks/dpdk/series.ts), so later
 * probes do not read the whole tarball again; one cached before that gets the record as a change of
 * its own.
 */
import type { ControlSide } from '../inventory/control.js';
import type { Facts } from '../facts/types.js';
import type { Change, Step } from '../plan/change.js';
import { sh } from '../transport/quote.js';
import { buildDecision } from './dpdk/build-role.js';
import { failStep } from './dpdk/fail.js';
import { fetchProbePresence, planFetch, type FetchSource } from './dpdk/fetch.js';
import { verifyCachedCommand } from '../plan/ops/fetch-source.js';
import { recordSeriesCommand, seriesOnHost, seriesRequest } from './dpdk/series.js';
import { dpvsSeries } from '../facts/reads/dpvs-series.js';
import { joinRequests } from '../facts/read.js';
import { compiler } from '../facts/reads/compiler.js';
import { dpdkSpec, dpvsTarballName, kmodsTarballName, PATCH_CACHE, type DpdkSpec } from './dpdk/spec.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

const TASK = 'dpdk-source';

/** The build stamp and the patches pushed to the host (files), the cached tarballs (present). */
export function dpdkProbeFiles(spec: DpdkSpec, inv: ControlSide): { files: string[]; present: string[] } {
  const files = [spec.layout.stamp];
  const present: string[] = [];
  if (spec.dpdkSource) present.push(...fetchProbePresence(spec.dpdkSource, spec.pairing.tarball, inv));
  if (spec.dpvsSource) present.push(...fetchProbePresence(spec.dpvsSource, dpvsTarballName(spec), inv));
  if (spec.igbUioFromKmods && spec.kmodsSource)
    present.push(...fetchProbePresence(spec.kmodsSource, kmodsTarballName(spec), inv));
  for (const p of spec.patches) if (p.hostPath) files.push(p.hostPath);
  return { files, present };
}

function markCached(facts: Facts, path: string, sha256: string): void {
  facts.files[path] = { exists: true, sha256, mode: '0644', content: null };
}

export const dpdkSourceTask: Task = {
  name: TASK,
  probe(host, inventory) {
    const spec = dpdkSpec(host, inventory);
    if (!spec) return {};
    return {
      // the task's own files go through the same merge, so a reader's files are kept beside them
      ...joinRequests(compiler.request(), seriesRequest(spec, inventory), dpdkProbeFiles(spec, inventory)),
      commands: ['curl', 'wget', 'sha256sum', 'tar'],
    };
  },

  plan(ctx: PlanContext): TaskPlan {
    const d = buildDecision(ctx);
    if (!d || d.role.kind !== 'build') return { changes: [] };
    const { spec } = d;
    const changes: Change[] = [];
    const projected = structuredClone(ctx.facts);
    /** The fetch of one tarball into the host's cache (nothing when it is there and verified). */
    const fetchInto = (
      what: 'dpdk' | 'dpvs' | 'kmods',
      source: FetchSource,
      name: string,
      label: string,
      then: Step[] = [],
    ): boolean => {
      const f = planFetch({ source, name, label, inv: ctx.inventory, facts: ctx.facts });
      if (f.fetchSteps.length)
        changes.push({
          id: `${TASK}/${what}`,
          task: TASK,
          summary: f.summary,
          action: 'create',
          after: f.cachePath ?? undefined,
          steps: [...f.fetchSteps, ...(f.error ? [] : then)],
        });
      if (f.cachePath && f.sha256) markCached(projected, f.cachePath, f.sha256);
      return f.fetchSteps.length > 0;
    };

    if (!spec.dpdkSource) {
      changes.push({
        id: `${TASK}/dpdk`,
        task: TASK,
        summary: `DPDK ${spec.version} source: dpdk.source is not set`,
        action: 'run',
        steps: [
          failStep(
            `DPDK ${spec.version}: set dpdk.source to {url, sha256} (e.g. https://fast.dpdk.org/rel/${spec.pairing.tarball}) or {file} for an air-gapped site`,
          ),
        ],
      });
    } else {
      fetchInto('dpdk', spec.dpdkSource, spec.pairing.tarball, `DPDK ${spec.version} source`);
    }

    if (!spec.dpvsSource) {
      const why = spec.dpvsGit
        ? 'dpvs.source is a git URL; the DPDK build needs the DPVS release tarball (url + sha256, or file)'
        : 'dpvs.source is not set';
      changes.push({
        id: `${TASK}/dpvs`,
        task: TASK,
        summary: `DPVS ${spec.dpvsVersion} source (for ${spec.pairing.patchDir}/): ${why}`,
        action: 'run',
        steps: [
          failStep(
            `DPVS ${spec.dpvsVersion}: ${why}; DPDK ${spec.version} is patched with DPVS's ${spec.pairing.patchDir}/ series`,
          ),
        ],
      });
    } else {
      const series = seriesOnHost(spec, ctx.inventory);
      const record: Step[] = series ? [{ kind: 'exec', command: recordSeriesCommand(series) }] : [];
      const fetched = fetchInto(
        'dpvs',
        spec.dpvsSource,
        dpvsTarballName(spec),
        `DPVS ${spec.dpvsVersion} source`,
        record,
      );
      const reading = series ? dpvsSeries.read(ctx.facts) : null;
      if (series && !fetched && reading && !reading.memoised && reading.hash) {
        changes.push({
          id: `${TASK}/dpvs-series`,
          task: TASK,
          summary: `record the ${spec.pairing.patchDir}/ series of the cached DPVS ${spec.dpvsVersion} tarball as ${series.memo} (later plans read that line, not the whole tarball)`,
          action: 'create',
          after: `${reading.hash}\n`,
          // the tarball is read: verified first, as every step that reads a cached tarball does
          steps: [
            {
              kind: 'exec',
              command: verifyCachedCommand(series.tarball, series.sha256, `DPVS ${spec.dpvsVersion} source`),
            },
            ...record,
          ],
        });
        Object.assign(projected, dpvsSeries.project(projected, { hash: reading.hash, memoised: true }));
      }
    }

    if (spec.igbUioFromKmods && spec.kmodsSource)
      fetchInto('kmods', spec.kmodsSource, kmodsTarballName(spec), 'dpdk-kmods source (igb_uio)');

    spec.patches.forEach((p, i) => {
      if (!p.sha256 || !p.hostPath) {
        changes.push({
          id: `${TASK}/patch/${i}`,
          task: TASK,
          summary: `patch ${p.rel}: missing on the control machine`,
          action: 'run',
          steps: [failStep(`dpdk.patches[${i}]: ${p.problem ?? p.abs} (on the control machine)`)],
        });
        return;
      }
      if (ctx.facts.files[p.hostPath]?.sha256 === p.sha256) return;
      const part = `${p.hostPath}.part`;
      changes.push({
        id: `${TASK}/patch/${i}`,
        task: TASK,
        summary: `push patch ${p.rel} (sha256 ${p.sha256.slice(0, 12)}…) to ${p.hostPath}`,
        action: 'create',
        after: p.hostPath,
        steps: [
          { kind: 'exec', command: sh`mkdir -p ${PATCH_CACHE}` },
          { kind: 'upload', localPath: p.abs, path: part, sha256: p.sha256, mode: 0o644 },
          {
            kind: 'exec',
            command: sh`got=$(sha256sum < ${part} | cut -d' ' -f1); [ "$got" = ${p.sha256} ] || { rm -f ${part}; printf '%s\n' ${`sha256 mismatch for patch ${p.rel} on the host`} >&2; exit 1; }; mv -f ${part} ${p.hostPath}`,
          },
        ],
      });
      markCached(projected, p.hostPath, p.sha256);
    });
    return { changes, projected };
  },
};
