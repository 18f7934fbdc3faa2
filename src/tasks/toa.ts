/**
 * toa: the real-server side of FullNAT. toa.ko (TCP: the client address from the TOA TCP option) and
 * uoa.ko (UDP), built from the same DPVS source as the balancers against the running kernel's headers,
 * loaded with their parameters, persisted across reboot and proven loaded.
 *
 * - Headers: /lib/modules/<release>/build comes from linux-headers-<release> (apt) or
 *   kernel-devel-<release> (dnf/yum); a repository without that exact package fails the host with the
 *   package it looked for.
 * - Build once per kernel (toa/builder.ts): the first host by name of a kernel that needs the build
 *   compiles (`make` in kmod/<m>, KERNDIR=/lib/modules/<release>/build), the others copy the .ko and
 *   check it against the builder's sha256. A stamp (kernel, arch, source) makes the build happen again
 *   only when one of them changes.
 * - Install into /lib/modules/<release>/extra + depmod, /etc/modules-load.d/dpvs-deploy-<m>.conf,
 *   /etc/modprobe.d/dpvs-deploy-<m>.conf (uoa's parameters), then modprobe; the sha256 of the loaded
 *   file is recorded so `verify` can prove the loaded module is the built one.
 * - A loaded module of another build (or with other parameters) is replaced only when the kernel
 *   counts no users of it (refcount 0 in /proc/modules / sysfs), or when realserver.replace_loaded is
 *   set. Otherwise the new build is installed (it loads at the next boot) and the host fails with why.
 * - Refused where the module cannot load: kernel lockdown (Secure Boot; modules built here are
 *   unsigned), and toa without an IPv6 stack.
 */
import { managedFile } from '../plan/ops/managed-file.js';
import type { FileFacts } from '../facts/types.js';
import type { Facts } from '../facts/types.js';
import type { Change, Step } from '../plan/change.js';
import { sh } from '../transport/quote.js';
import { failStep } from './dpdk/fail.js';
import { fetchProbePresence, planFetch } from './dpdk/fetch.js';
import { kmodRole, refusal, type KmodRole } from './toa/builder.js';
import { observe, observedRequest, type ObservedModule } from './toa/observed.js';
import {
  acceptReceivedScript,
  buildScript,
  headersPackage,
  installHeadersScript,
  installScript,
  loadScript,
  replaceScript,
  type SourceFetch,
} from './toa/scripts.js';
import {
  expectedStamp,
  KMODS,
  kmodPaths,
  kmodSpec,
  loadConf,
  optionsConf,
  type KmodName,
  type KmodSpec,
} from './toa/spec.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

const TASK = 'toa';
const BUILD_TIMEOUT_MS = 30 * 60_000;

function failChange(id: string, summary: string, message: string): Change {
  return { id: `${TASK}/${id}`, task: TASK, summary, action: 'run', steps: [failStep(message)] };
}

function paramsMatch(spec: KmodSpec, o: ObservedModule, m: KmodName): boolean {
  return Object.entries(spec.params[m]).every(([k, v]) => o.params[k] === v);
}

/** Source steps and how the build script gets the tree; or a failing change. */
function sourceFor(
  ctx: PlanContext,
  spec: KmodSpec,
): { steps: Step[]; fetch: SourceFetch; summary: string } | { error: string } {
  const s = spec.source;
  if (s.git) return { steps: [], fetch: { kind: 'git', ...s.git }, summary: `git ${s.git.url} ${s.git.ref}` };
  if (!s.tarball) return { error: 'no DPVS source' };
  const f = planFetch({
    source: s.tarball,
    name: s.tarballName,
    label: `DPVS ${spec.dpvsVersion} source`,
    inv: ctx.inventory,
    facts: ctx.facts,
  });
  if (f.error || !f.cachePath || !f.sha256) return { error: f.error ?? 'DPVS source unusable' };
  return {
    steps: f.fetchSteps,
    fetch: { kind: 'tarball', cachePath: f.cachePath, sha256: f.sha256 },
    summary: f.summary,
  };
}

function buildChanges(ctx: PlanContext, spec: KmodSpec, mods: Array<[KmodName, KmodRole]>): Change[] {
  const host = ctx.host.name;
  const kernel = ctx.facts.kernel.release;
  const builds = mods.filter(([, r]) => r.kind === 'build') as Array<
    [KmodName, { kind: 'build'; receivers: string[] }]
  >;
  const changes: Change[] = [];
  if (builds.length) {
    const src = sourceFor(ctx, spec);
    if ('error' in src)
      return [
        failChange('build', `build ${builds.map(([m]) => m).join(', ')}: cannot`, `${host}: ${src.error}`),
      ];
    if (src.steps.length)
      changes.push({
        id: `${TASK}/source`,
        task: TASK,
        summary: src.summary,
        action: 'run',
        steps: src.steps,
      });
    const receivers = [...new Set(builds.flatMap(([, r]) => r.receivers))].sort();
    changes.push({
      id: `${TASK}/build`,
      task: TASK,
      summary:
        `build ${builds.map(([m]) => `${m}.ko`).join(', ')} for kernel ${kernel} (${ctx.facts.kernel.machine}) ` +
        `from DPVS ${spec.dpvsVersion} kmod/` +
        (receivers.length ? `; copied to ${receivers.join(', ')} (same kernel: built once)` : ''),
      action: 'run',
      after: builds.map(([m]) => expectedStamp(spec, ctx.facts, m)).join(''),
      steps: [
        {
          kind: 'exec',
          timeoutMs: BUILD_TIMEOUT_MS,
          command: buildScript(
            host,
            kernel,
            src.fetch,
            builds.map(([m]) => ({ name: m, stamp: expectedStamp(spec, ctx.facts, m) })),
          ),
        },
      ],
    });
  }
  for (const [m, r] of mods) {
    if (r.kind !== 'receive') continue;
    const p = kmodPaths(kernel, m);
    const stamp = expectedStamp(spec, ctx.facts, m);
    changes.push({
      id: `${TASK}/receive-${m}`,
      task: TASK,
      summary: `receive ${m}.ko for kernel ${kernel} from ${r.builder} (same kernel: built once), check its sha256`,
      action: 'create',
      after: stamp,
      steps: [
        { kind: 'exec', command: sh`mkdir -p ${p.root}` },
        {
          kind: 'copy-from-host',
          sourceHost: r.builder,
          sourcePath: p.builtSha,
          path: `${p.builtSha}.recv`,
          mode: 0o644,
        },
        {
          kind: 'copy-from-host',
          sourceHost: r.builder,
          sourcePath: p.built,
          path: `${p.built}.recv`,
          mode: 0o644,
        },
        { kind: 'exec', command: acceptReceivedScript(kernel, m, r.builder, stamp) },
      ],
    });
  }
  return changes;
}

function moduleChanges(ctx: PlanContext, spec: KmodSpec, m: KmodName, rebuilt: boolean): Change[] {
  const host = ctx.host.name;
  const kernel = ctx.facts.kernel.release;
  const p = kmodPaths(kernel, m);
  const o = observe(ctx.facts, m);
  const changes: Change[] = [];
  const install = rebuilt || !o.installedSha || o.installedSha !== o.builtSha;
  if (install)
    changes.push({
      id: `${TASK}/install-${m}`,
      task: TASK,
      summary: `install ${m}.ko as ${p.installed} (depmod)`,
      action: o.installedSha ? 'update' : 'create',
      steps: [{ kind: 'exec', command: installScript(kernel, m) }],
    });
  const asFile = (content: string | null): FileFacts => ({
    exists: content !== null,
    sha256: null,
    mode: null,
    content,
  });
  const persist = managedFile({
    task: TASK,
    id: `${TASK}/persist-${m}`,
    path: p.loadConf,
    content: loadConf(m),
    mode: 0o644,
    current: asFile(o.loadConf),
    summary: `load ${m} at boot: ${p.loadConf}`,
  });
  if (persist) changes.push(persist);
  const wantOpts = optionsConf(spec, m);
  if (o.optionsConf !== wantOpts)
    changes.push(
      wantOpts === null
        ? {
            id: `${TASK}/options-${m}`,
            task: TASK,
            summary: `remove ${p.optionsConf} (no ${m} parameters set)`,
            action: 'delete',
            before: o.optionsConf ?? undefined,
            steps: [{ kind: 'exec', command: sh`rm -f ${p.optionsConf}` }],
          }
        : (managedFile({
            task: TASK,
            id: `${TASK}/options-${m}`,
            path: p.optionsConf,
            content: wantOpts,
            mode: 0o644,
            current: asFile(o.optionsConf),
            summary: `${m} parameters: ${p.optionsConf}`,
          }) as Change),
    );

  const params = Object.entries(spec.params[m])
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  if (!o.loaded) {
    changes.push({
      id: `${TASK}/load-${m}`,
      task: TASK,
      summary: `load ${m}${params ? ` (${params})` : ''}, check /proc/modules and /proc/net/${m}_stats`,
      action: 'create',
      steps: [{ kind: 'exec', command: loadScript(host, kernel, m) }],
    });
    return changes;
  }
  const sameBuild = !install && !!o.loadedSha && o.loadedSha === o.installedSha;
  const why = !sameBuild
    ? o.loadedSha
      ? 'a new build'
      : 'a build dpvs-deploy did not load'
    : !paramsMatch(spec, o, m)
      ? `other parameters (${Object.entries(spec.params[m])
          .filter(([k, v]) => o.params[k] !== v)
          .map(([k, v]) => `${k} ${o.params[k] ?? '?'} → ${v}`)
          .join(', ')})`
      : null;
  if (!why) return changes;
  if (o.refcount > 0 && !spec.replaceLoaded) {
    changes.push(
      failChange(
        `replace-${m}`,
        `replace the loaded ${m} (${why}): refused, in use (refcount ${o.refcount})`,
        `${host}: ${m} is loaded and in use (refcount ${o.refcount} in /proc/modules): not replaced by ${why}; ` +
          `the installed build loads at the next boot; set realserver.replace_loaded: true to replace it now`,
      ),
    );
    return changes;
  }
  changes.push({
    id: `${TASK}/replace-${m}`,
    task: TASK,
    summary:
      `replace the loaded ${m} (${why})` +
      (o.refcount > 0
        ? ` although in use (refcount ${o.refcount}; realserver.replace_loaded)`
        : ', idle (refcount 0)'),
    action: 'update',
    disruptive: true,
    steps: [{ kind: 'exec', command: replaceScript(host, kernel, m, spec.replaceLoaded) }],
  });
  return changes;
}

function project(facts: Facts, spec: KmodSpec): Facts {
  const p = structuredClone(facts);
  p.kernel.headersInstalled = true;
  for (const m of spec.modules) {
    const paths = kmodPaths(facts.kernel.release, m);
    const params = { ...(p.modules.find((x) => x.name === m)?.params ?? {}), ...spec.params[m] };
    p.modules = [...p.modules.filter((x) => x.name !== m), { name: m, params, refcount: 0 }];
    p.files[paths.loadConf] = { exists: true, sha256: null, mode: '0644', content: loadConf(m) };
  }
  return p;
}

export const toaTask: Task = {
  name: TASK,
  probe(host, inventory) {
    const spec = kmodSpec(host, inventory);
    if (!spec) return {};
    const files: string[] = [];
    for (const m of KMODS) {
      const p = kmodPaths('-', m);
      files.push(p.loadConf, p.optionsConf, p.loadedState);
    }
    const present = spec.source.tarball
      ? fetchProbePresence(spec.source.tarball, spec.source.tarballName, inventory)
      : [];
    const observed = observedRequest();
    return {
      ...observed,
      files: [...files, ...(observed.files ?? [])],
      present,
      modules: [...KMODS],
      commands: ['make', 'gcc'],
    };
  },

  plan(ctx: PlanContext): TaskPlan {
    const spec = kmodSpec(ctx.host, ctx.inventory);
    if (!spec) return { changes: [] };
    const { facts } = ctx;
    const host = ctx.host.name;
    const refused = spec.modules.map((m) => refusal(host, spec, facts, m)).filter((x) => x !== null);
    if (refused.length)
      return {
        changes: [
          failChange(
            'refused',
            `load ${spec.modules.join(', ')}: refused: ${refused[0] as string}`,
            refused.join('\n'),
          ),
        ],
      };

    const changes: Change[] = [];
    if (!facts.kernel.headersInstalled) {
      const pkg = headersPackage(facts);
      changes.push(
        pkg
          ? {
              id: `${TASK}/headers`,
              task: TASK,
              summary: `install ${pkg.name} (${pkg.pm}): headers for the running kernel ${facts.kernel.release}`,
              action: 'create',
              after: pkg.name,
              steps: [
                { kind: 'exec', command: installHeadersScript(host, facts, pkg), timeoutMs: 30 * 60_000 },
              ],
            }
          : failChange(
              'headers',
              `kernel headers for ${facts.kernel.release}: no known package manager`,
              `${host}: /lib/modules/${facts.kernel.release}/build is missing and this host has neither apt, dnf nor yum: install the kernel headers for ${facts.kernel.release}`,
            ),
      );
    }
    const roles = spec.modules.map((m) => [m, kmodRole(ctx, spec, m)] as [KmodName, KmodRole]);
    changes.push(...buildChanges(ctx, spec, roles));
    for (const [m, r] of roles) changes.push(...moduleChanges(ctx, spec, m, r.kind !== 'current'));
    return { changes, projected: changes.length ? project(facts, spec) : undefined };
  },

  verify(ctx: PlanContext): string[] {
    const spec = kmodSpec(ctx.host, ctx.inventory);
    if (!spec) return [];
    const { facts } = ctx;
    const kernel = facts.kernel.release;
    const problems: string[] = [];
    for (const m of spec.modules) {
      const no = refusal(ctx.host.name, spec, facts, m);
      if (no) {
        problems.push(no);
        continue;
      }
      const o = observe(facts, m);
      const p = kmodPaths(kernel, m);
      if (!o.builtSha || o.stamp !== expectedStamp(spec, facts, m))
        problems.push(`${m}.ko: no build for kernel ${kernel} from the inventory's DPVS source in ${p.root}`);
      if (!o.installedSha) problems.push(`${m}.ko is not installed in ${p.installed}`);
      else if (o.installedSha !== o.builtSha)
        problems.push(`${p.installed} (sha256 ${o.installedSha.slice(0, 12)}…) is not the built ${m}.ko`);
      if (!o.loaded) problems.push(`${m} is not loaded (/proc/modules)`);
      else {
        if (!o.stats) problems.push(`${m} is loaded but /proc/net/${m}_stats is missing`);
        if (!o.loadedSha)
          problems.push(`the loaded ${m} was not loaded by dpvs-deploy (no record in ${p.loadedState})`);
        else if (o.loadedSha !== o.builtSha)
          problems.push(
            `the loaded ${m} (sha256 ${o.loadedSha.slice(0, 12)}…) is not the built one (${(o.builtSha ?? 'none').slice(0, 12)}…)`,
          );
        if (!paramsMatch(spec, o, m))
          problems.push(
            `${m} runs with other parameters than realserver.uoa_params (${JSON.stringify(o.params)})`,
          );
      }
      if (o.loadConf !== loadConf(m))
        problems.push(`${p.loadConf} is missing or changed: ${m} would not load at boot`);
      if (o.optionsConf !== optionsConf(spec, m))
        problems.push(`${p.optionsConf} does not hold the ${m} parameters`);
    }
    return problems;
  },
};
