/**
 * kmods: the kernel modules a balancer needs, loaded with their parameters and persisted across reboot.
 *
 *   binding driver   igb_uio (+ uio; from the 18.11 DPDK build, or for 20.11+ from dpdk-kmods
 *                    (dpdk.kmods) compiled by the DPDK build; intr_mode and wc_activate from dpdk.igb_uio),
 *                    uio_pci_generic, or vfio-pci (vfio enable_unsafe_noiommu_mode=1 when allowed
 *                    and the host has no IOMMU)
 *   exception path   rte_kni carrier=on (DPVS 1.8/1.9, built by the DPDK build), vhost + vhost_net (1.10)
 *
 * Out-of-tree .ko files are copied to /lib/modules/<kernel>/extra/ and depmod runs, so modprobe (and
 * systemd-modules-load at boot) finds them. Persistence: /etc/modules-load.d/dpvs-deploy.conf (names)
 * and /etc/modprobe.d/dpvs-deploy.conf (options, which modprobe applies now and at boot). A module
 * loaded with the wrong parameters, or whose .ko changed, is reloaded (disruptive: dpvs must not hold it).
 * Rollback removes the persistence files and the copied .ko files (loaded modules stay loaded).
 */
import { type Facts, kernelPath } from '../facts/types.js';
import { extraModuleHashes } from '../facts/reads/file-hashes.js';
import type { Change } from '../plan/change.js';
import { managedFiles, projectedFile } from '../plan/ops/managed-file.js';
import { sh } from '../transport/quote.js';
import { failStep } from './dpdk/fail.js';
import { dpdkSpec, kernelDirRelease, kmodKernelDir, type DpdkSpec } from './dpdk/spec.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

const TASK = 'kmods';
export const MODULES_LOAD_CONF = '/etc/modules-load.d/dpvs-deploy.conf';
export const MODPROBE_CONF = '/etc/modprobe.d/dpvs-deploy.conf';
/** the raw reading's key (tests) */
export const EXTRA_OUTPUT = extraModuleHashes.keys[0] as string;
const OUT_OF_TREE = ['igb_uio', 'rte_kni'];

export interface WantedModule {
  /** modprobe name: vfio-pci, uio_pci_generic, rte_kni */
  name: string;
  /** /sys/module and /proc/modules name (underscores) */
  sys: string;
  params: Record<string, string>;
  /**
   * parameters written to /etc/modprobe.d but not readable back: the module declares them with
   * permission 0, so /sys/module/<m>/parameters has no file for them (igb_uio's wc_activate)
   */
  hiddenParams?: Record<string, string>;
  /** .ko the DPDK build left, copied to /lib/modules/<kernel>/extra/ */
  ko?: string;
  why: string;
  /** the module cannot be had on this host: the message */
  unavailable?: string;
}

const sysName = (m: string): string => m.replace(/-/g, '_');

export function extraDir(release: string): string {
  return `/lib/modules/${release}/extra`;
}

/** sha256 of <extra>/<m>.ko of the running kernel by module name. */
export function extraShas(facts: Facts): Record<string, string> {
  const hashes = extraModuleHashes.read(facts);
  const dir = extraDir(facts.kernel.release);
  const out: Record<string, string> = {};
  for (const m of OUT_OF_TREE) {
    const h = hashes[`${dir}/${m}.ko`];
    if (h) out[m] = h;
  }
  return out;
}

function loadedMod(facts: Facts, sys: string) {
  return facts.modules.find((m) => m.name === sys);
}

function availableMod(facts: Facts, name: string): boolean {
  return facts.modulesAvailable.some((m) => sysName(m) === sysName(name));
}

/**
 * igb_uio's parameters from dpdk.igb_uio: intr_mode is `module_param(intr_mode, charp, S_IRUGO)` (readable
 * in /sys/module/igb_uio/parameters), wc_activate `module_param(wc_activate, int, 0)` (no sysfs file), as
 * sampled in test/fixtures/upstream/kmods/igb_uio-params.txt.
 */
function igbUioParams(spec: DpdkSpec): Pick<WantedModule, 'params' | 'hiddenParams'> {
  const p = spec.igbUioParams;
  const params: Record<string, string> = {};
  const hiddenParams: Record<string, string> = {};
  if (p.intr_mode) params.intr_mode = p.intr_mode;
  if (p.wc_activate !== undefined) hiddenParams.wc_activate = p.wc_activate ? '1' : '0';
  return { params, ...(Object.keys(hiddenParams).length ? { hiddenParams } : {}) };
}

/** A module built for another kernel (-Dkernel_dir=/lib/modules/<release> names one): insmod would refuse it. */
function builtForOther(spec: DpdkSpec, facts: Facts, ko: string, alsoOut = ''): string | undefined {
  const dir = kmodKernelDir(spec);
  const built = dir ? kernelDirRelease(dir) : null;
  if (!built || built === facts.kernel.release) return undefined;
  return `${ko} is built for kernel ${built} (dpdk.meson_options -Dkernel_dir=${dir}) but this host runs ${facts.kernel.release}: it would not load; set -Dkernel_dir to this host's kernel (or remove it to build for the running kernel)${alsoOut ? `, ${alsoOut}` : ''}`;
}

export function wantedModules(spec: DpdkSpec, facts: Facts, allowNoiommu: boolean): WantedModule[] {
  const out: WantedModule[] = [];
  const add = (name: string, why: string, extra: Partial<WantedModule> = {}): void => {
    out.push({ name, sys: sysName(name), params: {}, why, ...extra });
  };
  switch (spec.driver) {
    case 'igb_uio':
      add('uio', 'igb_uio needs it');
      if (spec.igbUioFromBuild)
        add('igb_uio', 'binding driver', {
          ko: `${spec.layout.kmodDir}/igb_uio.ko`,
          ...igbUioParams(spec),
        });
      else if (spec.igbUioFromKmods)
        add('igb_uio', 'binding driver (dpdk-kmods)', {
          ko: `${spec.layout.kmodDir}/igb_uio.ko`,
          ...igbUioParams(spec),
          unavailable: builtForOther(spec, facts, 'igb_uio.ko'),
        });
      else
        add('igb_uio', 'binding driver', {
          ...igbUioParams(spec),
          unavailable: availableMod(facts, 'igb_uio')
            ? undefined
            : `igb_uio for DPDK ${spec.version} comes from dpdk-kmods: set dpdk.kmods to the dpdk-kmods source ({url, sha256} or {file}) so the DPDK build compiles it, or install it so modprobe finds igb_uio, or set dpdk.driver to uio_pci_generic or vfio-pci`,
        });
      break;
    case 'uio_pci_generic':
      add('uio_pci_generic', 'binding driver');
      break;
    case 'vfio-pci':
      if (allowNoiommu && facts.kernel.iommuGroups === 0)
        add('vfio', 'vfio-pci without an IOMMU (dpdk.allow_noiommu)', {
          params: { enable_unsafe_noiommu_mode: 'Y' },
        });
      add('vfio-pci', 'binding driver');
      break;
  }
  if (spec.rteKni) {
    add('rte_kni', 'DPVS KNI exception path', {
      ko: `${spec.layout.kmodDir}/rte_kni.ko`,
      params: { carrier: 'on' },
      unavailable: builtForOther(spec, facts, 'rte_kni.ko', 'or set dpvs.kni: false'),
    });
  }
  if (spec.vhostNet) {
    for (const m of ['vhost', 'vhost_net']) {
      const l = loadedMod(facts, m);
      if (l?.builtin) continue;
      if (!availableMod(facts, m) && !l && facts.files['/dev/vhost-net']?.exists) continue;
      add(m, 'DPVS 1.10 virtio-user KNI (/dev/vhost-net)');
    }
  }
  return out;
}

/** Parameter values as /sys/module/<m>/parameters shows them (bools as Y/N). */
function paramMatches(have: string | undefined, want: string): boolean {
  if (have === undefined) return false;
  const norm = (v: string): string =>
    ({ '1': 'Y', y: 'Y', Y: 'Y', on: 'on', '0': 'N', n: 'N', N: 'N' })[v.trim()] ?? v.trim();
  return norm(have) === norm(want) || (want === 'Y' && have.trim() === '1');
}

export function renderModulesLoad(mods: WantedModule[]): string {
  return ['# managed by dpvs-deploy: modules DPVS needs at boot', ...mods.map((m) => m.name), ''].join('\n');
}

export function renderModprobeConf(mods: WantedModule[]): string | null {
  const all = (m: WantedModule): Array<[string, string]> => [
    ...Object.entries(m.params),
    ...Object.entries(m.hiddenParams ?? {}),
  ];
  const lines = mods
    .filter((m) => all(m).length)
    .map(
      (m) =>
        `options ${m.sys} ${all(m)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
    );
  return lines.length ? ['# managed by dpvs-deploy: module options for DPVS', ...lines, ''].join('\n') : null;
}

function context(ctx: PlanContext): { spec: DpdkSpec; mods: WantedModule[] } | null {
  const spec = dpdkSpec(ctx.host, ctx.inventory);
  if (!spec) return null;
  return { spec, mods: wantedModules(spec, ctx.facts, ctx.host.dpdk?.allow_noiommu === true) };
}

export const kmodsTask: Task = {
  name: TASK,
  probe(host, inventory) {
    const spec = dpdkSpec(host, inventory);
    if (!spec) return {};
    return {
      modules: ['uio', 'igb_uio', 'uio_pci_generic', 'vfio', 'vfio-pci', 'rte_kni', 'vhost', 'vhost_net'],
      files: [MODULES_LOAD_CONF, MODPROBE_CONF, '/dev/vhost-net'],
      // the modules the DPDK build left: their sha256, none of their bytes
      digests: OUT_OF_TREE.map((m) => `${spec.layout.kmodDir}/${m}.ko`),
      ...extraModuleHashes.request(OUT_OF_TREE.map((m) => kernelPath('/lib/modules/', `/extra/${m}.ko`))),
    };
  },

  plan(ctx: PlanContext): TaskPlan {
    const c = context(ctx);
    if (!c) return { changes: [] };
    const { facts } = ctx;
    const changes: Change[] = [];
    const projected = structuredClone(facts);
    const release = facts.kernel.release;
    const extra = extraShas(facts);
    const replaced = new Set<string>();

    for (const m of c.mods) {
      if (m.unavailable) {
        changes.push({
          id: `${TASK}/${m.name}`,
          task: TASK,
          summary: `${m.name}: not available`,
          action: 'run',
          steps: [failStep(m.unavailable)],
        });
        continue;
      }
      if (!m.ko) continue;
      const src = facts.files[m.ko];
      const dst = `${extraDir(release)}/${m.sys}.ko`;
      if (src?.exists && src.sha256 !== null && extra[m.sys] === src.sha256) continue;
      replaced.add(m.sys);
      changes.push({
        id: `${TASK}/install/${m.sys}`,
        task: TASK,
        summary: `install ${m.ko} as ${dst} (depmod)`,
        action: extra[m.sys] ? 'update' : 'create',
        reversible: true,
        steps: [
          {
            kind: 'exec',
            command: sh`[ -f ${m.ko} ] || { printf '%s\n' ${`${m.ko} is missing (the DPDK build did not produce it)`} >&2; exit 1; }; mkdir -p ${extraDir(release)} && install -m 0644 ${m.ko} ${dst} && depmod -a ${release}`,
          },
        ],
      });
      if (!projected.modulesAvailable.includes(m.name)) projected.modulesAvailable.push(m.name);
    }

    const load = renderModulesLoad(c.mods);
    const opts = renderModprobeConf(c.mods);
    const persist = managedFiles({
      task: TASK,
      id: `${TASK}/persist`,
      files: [
        { path: MODULES_LOAD_CONF, content: load, mode: 0o644, current: facts.files[MODULES_LOAD_CONF] },
        ...(opts !== null
          ? [{ path: MODPROBE_CONF, content: opts, mode: 0o644, current: facts.files[MODPROBE_CONF] }]
          : []),
      ],
      remove: opts === null ? [{ path: MODPROBE_CONF, current: facts.files[MODPROBE_CONF] }] : [],
    });
    if (persist) {
      persist.summary = `load ${c.mods.map((m) => m.name).join(', ')} at boot: ${persist.summary}`;
      changes.push(persist);
      projected.files[MODULES_LOAD_CONF] = projectedFile({ content: load, mode: 0o644 });
      if (opts !== null) projected.files[MODPROBE_CONF] = projectedFile({ content: opts, mode: 0o644 });
      else projected.files[MODPROBE_CONF] = { exists: false, sha256: null, mode: null, content: null };
    }

    for (const m of c.mods) {
      if (m.unavailable) continue;
      const l = loadedMod(facts, m.sys);
      if (l?.builtin) continue;
      const badParams = Object.entries(m.params).filter(([k, v]) => !paramMatches(l?.params[k], v));
      const paramText = Object.entries(m.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      const checks = Object.entries(m.params).map(
        ([k]) =>
          sh`printf '%s=%s\n' ${k} "$(cat /sys/module/${m.sys}/parameters/${k} 2>/dev/null)"` as string,
      );
      const check = checks.length ? ` && ${checks.join(' && ')}` : '';
      if (l && !badParams.length && !replaced.has(m.sys)) continue;
      if (l) {
        const why = badParams.length
          ? `loaded with ${badParams.map(([k]) => `${k}=${l.params[k] ?? '(unset)'}`).join(' ')}`
          : 'its .ko was replaced';
        changes.push({
          id: `${TASK}/reload/${m.sys}`,
          task: TASK,
          summary: `reload ${m.name} ${paramText} (${why})`,
          action: 'update',
          disruptive: true,
          steps: [{ kind: 'exec', command: sh`modprobe -r ${m.name} && modprobe ${m.name}` + check }],
        });
      } else {
        changes.push({
          id: `${TASK}/load/${m.sys}`,
          task: TASK,
          summary: `load ${m.name}${paramText ? ` ${paramText}` : ''} (${m.why})`,
          action: 'create',
          steps: [{ kind: 'exec', command: sh`modprobe ${m.name}` + check }],
        });
      }
      projected.modules = [
        ...projected.modules.filter((x) => x.name !== m.sys),
        { name: m.sys, params: { ...(l?.params ?? {}), ...m.params }, refcount: l?.refcount ?? 0 },
      ];
    }
    return { changes, projected };
  },

  verify(ctx: PlanContext): string[] {
    const c = context(ctx);
    if (!c) return [];
    const problems: string[] = [];
    for (const m of c.mods) {
      if (m.unavailable) {
        problems.push(m.unavailable);
        continue;
      }
      const l = loadedMod(ctx.facts, m.sys);
      if (!l) {
        problems.push(`${m.name} is not loaded`);
        continue;
      }
      for (const [k, v] of Object.entries(m.params))
        if (!paramMatches(l.params[k], v))
          problems.push(
            `${m.name} is loaded with ${k}=${l.params[k] ?? '(unset)'} (/sys/module/${m.sys}/parameters/${k}), expected ${v}`,
          );
    }
    if (ctx.facts.files[MODULES_LOAD_CONF]?.content !== renderModulesLoad(c.mods))
      problems.push(`${MODULES_LOAD_CONF} does not list ${c.mods.map((m) => m.name).join(', ')}`);
    return problems;
  },

  rollback(ctx: PlanContext): TaskPlan {
    const spec = dpdkSpec(ctx.host, ctx.inventory);
    if (!spec) return { changes: [] };
    const f = ctx.facts;
    const extra = extraShas(f);
    const rm: string[] = [];
    if (f.files[MODULES_LOAD_CONF]?.exists) rm.push(MODULES_LOAD_CONF);
    if (f.files[MODPROBE_CONF]?.exists) rm.push(MODPROBE_CONF);
    const kos = Object.keys(extra).map((m) => `${extraDir(f.kernel.release)}/${m}.ko`);
    if (!rm.length && !kos.length) return { changes: [] };
    const steps: Change['steps'] = [{ kind: 'exec', command: sh`rm -f ${[...rm, ...kos]}` }];
    if (kos.length) steps.push({ kind: 'exec', command: sh`depmod -a ${f.kernel.release}` });
    return {
      changes: [
        {
          id: `${TASK}/rollback`,
          task: TASK,
          summary: `remove ${[...rm, ...kos].join(', ')} (loaded modules stay loaded)`,
          action: 'delete',
          steps,
        },
      ],
    };
  },
};
