/**
 * dpdk-build: unpack DPDK into a fresh staging directory, apply DPVS's patch series and the user's
 * patches, build (make for 18.11, meson/ninja for 20.11+), record the build stamp and switch the new
 * build into place (layout.root) only when everything succeeded: a failed build leaves the previous
 * one untouched, and a failed step removes the staging directory. Skipped when the recorded stamp equals the one the inputs call for.
 *
 * Build once per identical target (dpdk/build-role.ts): the builder also packs layout.root into
 * ARTIFACT_DIR with a .sha256 beside it; the other hosts of its group copy both (copy-from-host, the
 * engine runs the builder first), check the pack with `sha256sum -c` and switch it into place. The
 * checksum cannot be known at plan time, so the receiving side verifies against the copied .sha256.
 */
import type { Facts } from '../facts/types.js';
import type { Change } from '../plan/change.js';
import { sh } from '../transport/quote.js';
import { buildDecision, type BuildDecision } from './dpdk/build-role.js';
import { failStep } from './dpdk/fail.js';
import { cachePathFor, sourceSha256 } from './dpdk/fetch.js';
import { verifyCachedCommand } from '../plan/ops/fetch-source.js';
import {
  compileScript,
  packScript,
  patchScript,
  removeOnFailure,
  stagingDir,
  stampScript,
  switchScript,
  unpackReceivedScript,
  unpackScript,
} from './dpdk/scripts.js';
import {
  builtModules,
  dpdkSpec,
  dpvsTarballName,
  kmodKernelDir,
  kmodsTarballName,
  type DpdkSpec,
} from './dpdk/spec.js';
import { buildOptions, makeTarget, marchOptions, stampHead } from './dpdk/stamp.js';
import { seriesRequest } from './dpdk/series.js';
import { joinRequests } from '../facts/read.js';
import { compiler } from '../facts/reads/compiler.js';
import { kbuild } from '../facts/reads/kbuild.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

const TASK = 'dpdk-build';
/**
 * Why this build cannot succeed on this host, known before it starts: DPDK 20.11's meson stops with
 * "Cannot compile kernel modules as requested - are kernel headers installed?" when -Denable_kmods=true
 * (rte_kni) meets a kernel build tree where `make kernelversion` fails; meson options on a make build.
 */
function predictedProblems(spec: DpdkSpec, facts: Facts): string[] {
  const out: string[] = [];
  if (spec.pairing.buildSystem === 'make' && spec.mesonOptions.length)
    out.push(
      `dpdk.meson_options is for meson builds (DPDK 20.11 and later); DPDK ${spec.version} builds with make`,
    );
  const kb = kbuild.read(facts);
  if (spec.igbUioFromKmods && !spec.rteKni && (kb.state === 'fail' || kb.state === 'absent')) {
    const dir = kmodKernelDir(spec);
    const tree = `${dir ?? `/lib/modules/${facts.kernel.release}`}/build`;
    out.push(
      `igb_uio (dpdk.kmods) cannot be built: ${tree} is ${kb.state === 'absent' ? 'missing' : `not a usable kernel build tree (${kb.message || '`make kernelversion` fails'})`}; ${dir ? 'install the headers of the kernel -Dkernel_dir names (dpdk.meson_options)' : `install the headers of kernel ${facts.kernel.release}`}, or set dpdk.driver to uio_pci_generic or vfio-pci`,
    );
  }
  if (spec.rteKni && spec.pairing.buildSystem === 'meson' && kb.state === 'fail') {
    const why = kb.message;
    const r = facts.kernel.release;
    const dir = kmodKernelDir(spec);
    const tree = `${dir ?? `/lib/modules/${r}`}/build`;
    out.push(
      `rte_kni cannot be built: ${tree} is not a usable kernel build tree (\`make -sC ${tree} kernelversion\` fails${why ? `: ${why}` : ''}), so DPDK ${spec.version}'s meson setup -Denable_kmods=true would stop with "Cannot compile kernel modules as requested"; ${dir ? `install the headers of the kernel -Dkernel_dir names (dpdk.meson_options)` : `reinstall the headers of kernel ${r}`}, or set dpvs.kni: false`,
    );
  }
  return out;
}
const BUILD_TIMEOUT_MS = 3 * 3600_000;

/** What the build leaves for the next tasks (kmods, nic-binding, dpvs-build). */
function projectBuilt(facts: Facts, d: BuildDecision): Facts {
  const p = structuredClone(facts);
  const { spec } = d;
  p.files[spec.layout.stamp] = { exists: true, sha256: null, mode: '0644', content: d.stamp };
  p.files[spec.devbind] = { exists: true, sha256: null, mode: '0755', content: null };
  for (const m of builtModules(spec))
    p.files[`${spec.layout.kmodDir}/${m}.ko`] = { exists: true, sha256: null, mode: '0644', content: null };
  return p;
}

function describeBuild(spec: DpdkSpec): string {
  const how =
    spec.pairing.buildSystem === 'make'
      ? `make config ${marchOptions(spec).join(' ')} && make (RTE_SDK=${spec.tree}, RTE_TARGET=${spec.layout.rteTarget})`
      : `meson setup ${[...buildOptions(spec), ...marchOptions(spec)].join(' ')} -Dprefix=${spec.layout.prefix}, ninja, ninja install`;
  const dir = kmodKernelDir(spec);
  const igb = spec.igbUioFromKmods
    ? `; igb_uio from dpdk-kmods: make -C ${dir ? `${dir}/build` : '/lib/modules/$(uname -r)/build'} M=<igb_uio> modules`
    : '';
  return `build DPDK ${spec.version}: ${how}${igb}`;
}

function buildChanges(ctx: PlanContext, d: BuildDecision & { role: { kind: 'build' } }): Change[] {
  const { spec } = d;
  const dir = ctx.inventory;
  const changes: Change[] = [];
  const stage = stagingDir(spec);
  const dpdkSha = spec.dpdkSource ? sourceSha256(spec.dpdkSource, dir) : null;
  const dpvsSha = spec.dpvsSource ? sourceSha256(spec.dpvsSource, dir) : null;
  const kmodsSha = spec.igbUioFromKmods && spec.kmodsSource ? sourceSha256(spec.kmodsSource, dir) : null;
  const problems: string[] = predictedProblems(spec, ctx.facts);
  if (!dpdkSha) problems.push(`no usable DPDK ${spec.version} source (dpdk.source)`);
  if (!dpvsSha) problems.push(`no usable DPVS ${spec.dpvsVersion} source (dpvs.source)`);
  for (const p of spec.patches) if (!p.hostPath) problems.push(`patch ${p.rel} is missing`);
  if (spec.igbUioFromKmods && !kmodsSha) problems.push('no usable dpdk-kmods source (dpdk.kmods)');
  if (spec.pairing.buildSystem === 'make' && !makeTarget(spec.march))
    problems.push(
      `DPDK ${spec.version} (make) has no machine target for dpdk.march ${spec.march}; use native, default, nehalem, westmere, sandybridge, ivybridge or haswell`,
    );
  if (problems.length || !dpdkSha || !dpvsSha) {
    return [
      {
        id: `${TASK}/build`,
        task: TASK,
        summary: `build DPDK ${spec.version}: cannot (${problems.join('; ')})`,
        action: 'run',
        steps: [failStep(`DPDK ${spec.version} build: ${problems.join('; ')}`)],
      },
    ];
  }
  // every step of the build removes the staging tree when it fails: no half-built tree stays behind
  const clean = (script: string): string => removeOnFailure(script, [stage]);
  const dpdkTarball = cachePathFor(dpdkSha, spec.pairing.tarball);
  const dpvsTarball = cachePathFor(dpvsSha, dpvsTarballName(spec));
  const userPatches = spec.patches.map((p) => p.rel);
  changes.push(
    {
      id: `${TASK}/unpack`,
      task: TASK,
      summary: `unpack ${spec.pairing.tarball} and DPVS ${spec.dpvsVersion}'s ${spec.pairing.patchDir}/${kmodsSha ? ' and dpdk-kmods (igb_uio)' : ''} into ${stage}`,
      action: 'run',
      steps: [
        {
          kind: 'exec',
          command: clean(
            // the cached tarballs are verified before they are read (no plan hashes them)
            [
              verifyCachedCommand(dpdkTarball, dpdkSha, `DPDK ${spec.version} source`),
              verifyCachedCommand(dpvsTarball, dpvsSha, `DPVS ${spec.dpvsVersion} source`),
              ...(kmodsSha
                ? [
                    verifyCachedCommand(
                      cachePathFor(kmodsSha, kmodsTarballName(spec)),
                      kmodsSha,
                      'dpdk-kmods source',
                    ),
                  ]
                : []),
              unpackScript(
                spec,
                dpdkTarball,
                dpvsTarball,
                kmodsSha ? cachePathFor(kmodsSha, kmodsTarballName(spec)) : null,
              ),
            ].join(' && '),
          ),
        },
      ],
    },
    {
      id: `${TASK}/patches`,
      task: TASK,
      summary:
        `apply DPVS ${spec.dpvsVersion} ${spec.pairing.patchDir}/*.patch (ls order)` +
        (userPatches.length ? ` + ${userPatches.length} own: ${userPatches.join(', ')}` : ''),
      action: 'run',
      after: [`${spec.pairing.patchDir}/*`, ...userPatches].join('\n'),
      steps: [{ kind: 'exec', command: clean(patchScript(spec)) }],
    },
    {
      id: `${TASK}/compile`,
      task: TASK,
      summary: describeBuild(spec),
      action: 'run',
      steps: [
        { kind: 'exec', command: clean(compileScript(spec)), timeoutMs: BUILD_TIMEOUT_MS },
        {
          kind: 'exec',
          command: clean(stampScript(spec, stampHead(spec, ctx.facts, dir), dpvsTarball, dpvsSha)),
        },
      ],
    },
  );
  const installSteps: Change['steps'] = [{ kind: 'exec', command: clean(switchScript(spec)) }];
  if (d.role.receivers.length) installSteps.push({ kind: 'exec', command: packScript(spec, d.artifact) });
  const prev = ctx.facts.files[spec.layout.stamp];
  changes.push({
    id: `${TASK}/install`,
    task: TASK,
    summary:
      `switch ${spec.layout.root} to the new build` +
      (prev?.exists ? ' (replacing the previous one)' : '') +
      (d.role.receivers.length ? `; pack it for ${d.role.receivers.join(', ')}` : ''),
    action: prev?.exists ? 'update' : 'create',
    before: prev?.content ?? undefined,
    after: d.stamp,
    steps: installSteps,
  });
  return changes;
}

function receiveChanges(d: BuildDecision & { role: { kind: 'receive' } }): Change[] {
  const { spec, artifact } = d;
  const builder = d.role.builder;
  return [
    {
      id: `${TASK}/receive`,
      task: TASK,
      summary: `receive the DPDK ${spec.version} build from ${builder} (identical target: built once) into ${spec.layout.root}`,
      action: 'create',
      after: d.stamp,
      steps: [
        { kind: 'exec', command: sh`mkdir -p ${artifact.slice(0, artifact.lastIndexOf('/'))}` },
        {
          kind: 'copy-from-host',
          sourceHost: builder,
          sourcePath: `${artifact}.sha256`,
          path: `${artifact}.sha256`,
          mode: 0o644,
        },
        { kind: 'copy-from-host', sourceHost: builder, sourcePath: artifact, path: artifact, mode: 0o644 },
        {
          kind: 'exec',
          command: removeOnFailure(unpackReceivedScript(spec, artifact, builder), [stagingDir(spec)]),
        },
      ],
    },
  ];
}

export const dpdkBuildTask: Task = {
  name: TASK,
  probe(host, inventory) {
    const spec = dpdkSpec(host, inventory);
    if (!spec) return {};
    return {
      ...joinRequests(
        compiler.request(),
        (spec.rteKni || spec.igbUioFromKmods) && spec.pairing.buildSystem === 'meson'
          ? kbuild.request(kmodKernelDir(spec))
          : {},
        seriesRequest(spec, inventory),
        { files: [spec.layout.stamp] },
      ),
      commands: ['gcc', 'make', 'meson', 'ninja', 'patch', 'pkg-config'],
      diskPaths: [spec.layout.root],
    };
  },

  plan(ctx: PlanContext): TaskPlan {
    const d = buildDecision(ctx);
    if (!d || d.role.kind === 'current') return { changes: [] };
    const changes =
      d.role.kind === 'build'
        ? buildChanges(ctx, { ...d, role: d.role })
        : receiveChanges({ ...d, role: d.role });
    return { changes, projected: projectBuilt(ctx.facts, d) };
  },
};
