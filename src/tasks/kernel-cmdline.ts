/**
 * kernel-cmdline: kernel boot arguments (kernel.cmdline add/remove, and the derived iommu,
 * boot_hugepages and isolate_workers) written to the bootloader configuration, then a controlled reboot.
 *
 * Plan: nothing when the running command line (/proc/cmdline) already has them. Otherwise the
 * bootloader change (Debian/Ubuntu and CentOS 7: GRUB_CMDLINE_LINUX in /etc/default/grub as a diff, then
 * update-grub / grub2-mkconfig; RHEL 8/9: grubby --update-kernel=ALL) and a `reboot` change marked
 * disruptive (rolling batches; keepalived stopped first so its VIPs move to the peer). The tasks after it
 * plan on the facts as the host will boot: the new command line, 1G pages reserved at boot on each node,
 * IOMMU groups present, and no runtime state (modules, DPDK bindings, services) carried over.
 *
 * Verify (after the host came back with a new boot id): the arguments are in /proc/cmdline, and what
 * they were for is there: the boot-time pages on each node, IOMMU groups, the isolated CPUs.
 * With kernel.reboot: false, the bootloader is changed and the reboot left to the operator (KERNEL-003).
 * Rollback: the /etc/default/grub found before the first change (kept under /var/lib/dpvs-deploy/state)
 * restored, regenerated, and a reboot.
 */
import {
  argKey,
  bootArgs,
  checkArgs,
  editArgs,
  hasKernelSettings,
  satisfies,
  splitCmdline,
  unmet,
  UNMANAGED_KEYS,
  type BootArgs,
} from '../desired/boot-args.js';
import { parseCpuList } from '../cpu-list.js';
import {
  BOOT_ID,
  bootloaderOf,
  editGrubDefault,
  GRUB_DEFAULT,
  grubCfgArgs,
  GRUB_CFG_BIOS_RHEL,
  GRUB_CFG_DEBIAN,
  isUnmanageable,
  ISOLATED_CPUS,
  KERNEL_CMDLINE_FILE,
  readGrubDefault,
  REBOOT_REQUIRED,
  runningArgs,
  type Bootloader,
} from '../desired/bootloader.js';
import type { Facts } from '../facts/types.js';
import { joinRequests } from '../facts/read.js';
import { bootFirmware } from '../facts/reads/boot-firmware.js';
import { isolatedCpus } from '../facts/reads/isolated-cpus.js';
import { formatCpuList } from '../cpu-list.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import { keepalivedEnabled } from '../inventory/roles.js';
import type { Change, Step } from '../plan/change.js';
import { fileWriteSteps, managedFile, projectedFile } from '../plan/ops/managed-file.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';
import { sh } from '../transport/quote.js';
import { desiredConf } from './dpvs/desired-conf.js';

export const TASK = 'kernel-cmdline';
/** /etc/default/grub as it was before dpvs-deploy's first change (rollback restores it). */
export const GRUB_ORIGINAL = '/var/lib/dpvs-deploy/state/grub-default.orig';
export const DEFAULT_REBOOT_TIMEOUT_S = 600;
const DPDK_DRIVERS = new Set(['igb_uio', 'vfio-pci', 'uio_pci_generic']);

/** The worker CPUs dpvs will use (isolate_workers), CPU 0 left out. */
export function workerCpus(host: ResolvedHost, facts: Facts): number[] {
  if (!host.kernel?.isolate_workers) return [];
  try {
    return desiredConf(host, facts).lcores.filter((c) => c !== 0);
  } catch (e) {
    throw new Error(`kernel.isolate_workers: the worker CPUs cannot be derived: ${(e as Error).message}`);
  }
}

export function wantedArgs(host: ResolvedHost, facts: Facts): BootArgs {
  return bootArgs(host, facts, workerCpus(host, facts));
}

function rebootAllowed(host: ResolvedHost): boolean {
  return host.kernel?.reboot !== false;
}

function rebootTimeoutMs(host: ResolvedHost): number {
  return (host.kernel?.reboot_timeout_s ?? DEFAULT_REBOOT_TIMEOUT_S) * 1000;
}

/** The steps of a controlled reboot: keepalived stopped first (its VIPs move to the peer), then reboot. */
export function rebootSteps(host: ResolvedHost): Step[] {
  const steps: Step[] = [];
  if (keepalivedEnabled(host))
    steps.push({ kind: 'exec', command: 'systemctl stop keepalived', okCodes: [0, 5] });
  steps.push({
    kind: 'reboot',
    command: 'systemctl reboot',
    bootIdPath: BOOT_ID,
    timeoutMs: rebootTimeoutMs(host),
    intervalMs: 2000,
    description: `${host.name} is back over SSH with a new boot id`,
  });
  return steps;
}

function rebootChange(host: ResolvedHost, why: string): Change {
  return {
    id: `${TASK}/reboot`,
    task: TASK,
    summary: `reboot (${why}); wait up to ${Math.round(rebootTimeoutMs(host) / 1000)} s for a new boot id`,
    action: 'run',
    disruptive: true,
    steps: rebootSteps(host),
  };
}

/** The regeneration of grub.cfg after /etc/default/grub changed. */
function regenerateStep(b: Bootloader): Step {
  if (b.kind === 'grub-debian')
    return {
      kind: 'exec',
      command: sh`if command -v update-grub >/dev/null 2>&1; then update-grub; else grub-mkconfig -o ${GRUB_CFG_DEBIAN}; fi`,
    };
  return { kind: 'exec', command: b.regenerate ?? sh`grub2-mkconfig -o ${GRUB_CFG_BIOS_RHEL}` };
}

function grubbyStep(add: readonly string[], remove: readonly string[]): Step {
  let cmd = sh`grubby --update-kernel=ALL`;
  if (add.length) cmd += ' ' + sh`${`--args=${add.join(' ')}`}`;
  if (remove.length) cmd += ' ' + sh`${`--remove-args=${remove.join(' ')}`}`;
  return { kind: 'exec', command: cmd };
}

/**
 * The facts as the host will be after booting with `tokens`: the new command line, hugepages reserved
 * by it (round-robin over the nodes, as the kernel's boot-time allocation does), IOMMU groups when the
 * IOMMU is turned on, isolated CPUs; no module loaded but the built-in ones, no NIC on a DPDK driver, no
 * service running (what the host's own configuration starts at boot is started again by the tasks).
 */
export function projectBoot(facts: Facts, tokens: readonly string[]): Facts {
  const boot = splitCmdline(facts.kernel.cmdline).find((t) => argKey(t) === 'BOOT_IMAGE');
  const cmdline = [...(boot ? [boot] : []), ...tokens].join(' ');
  const value = (k: string): string | undefined =>
    [...tokens]
      .reverse()
      .find((t) => argKey(t) === k)
      ?.slice(k.length + 1);
  const sizeKb = (s: string | undefined): number | null => {
    const m = /^(\d+)([KMG]?)$/i.exec(s ?? '');
    if (!m) return null;
    const mult = { '': 1 / 1024, K: 1, M: 1024, G: 1048576 }[(m[2] ?? '').toUpperCase()] ?? 1;
    return Number(m[1]) * mult;
  };
  // hugepagesz=X hugepages=N pairs; hugepages= before any hugepagesz= is of the default size
  const boot1: Map<number, number> = new Map();
  let curSize = sizeKb(value('default_hugepagesz')) ?? 2048;
  for (const t of tokens) {
    if (argKey(t) === 'hugepagesz') curSize = sizeKb(t.slice(11)) ?? curSize;
    if (argKey(t) === 'hugepages' && /^\d+$/.test(t.slice(10))) boot1.set(curSize, Number(t.slice(10)));
  }
  const nodes = facts.numa.length ? facts.numa : [];
  const numa = nodes.map((n) => ({ ...n, hugepages: n.hugepages.map((h) => ({ ...h, total: 0, free: 0 })) }));
  for (const [size, n] of boot1) {
    for (let i = 0; i < n && numa.length; i++) {
      const node = numa[i % numa.length];
      if (!node) break;
      let c = node.hugepages.find((h) => h.sizeKb === size);
      if (!c) {
        c = { sizeKb: size, total: 0, free: 0 };
        node.hugepages.push(c);
      }
      c.total++;
      c.free++;
    }
  }
  const globals = [...new Set([...facts.hugepages.map((h) => h.sizeKb), ...boot1.keys()])].map((s) => {
    const total = numa.reduce((a, n) => a + (n.hugepages.find((h) => h.sizeKb === s)?.total ?? 0), 0);
    return { sizeKb: s, total, free: total };
  });
  const iommuOn = tokens.some((t) => /^intel_iommu=(.*,)?on(,|$)/.test(t)) || facts.cpu.model.includes('AMD');
  const iommuOff = tokens.some((t) => t === 'intel_iommu=off' || t === 'iommu=off' || t === 'amd_iommu=off');
  const groups = iommuOff
    ? 0
    : iommuOn
      ? Math.max(facts.kernel.iommuGroups, facts.nics.length, 1)
      : facts.kernel.iommuGroups;
  const isolated = value('isolcpus');
  const files = { ...facts.files };
  if (files[REBOOT_REQUIRED]?.exists)
    files[REBOOT_REQUIRED] = { exists: false, sha256: null, mode: null, content: null };
  const services = Object.fromEntries(
    Object.entries(facts.services).map(([k, v]) => [k, { ...v, active: false }]),
  );
  const def = value('default_hugepagesz');
  return isolatedCpus.project(
    {
      ...facts,
      kernel: { ...facts.kernel, cmdline, iommuGroups: groups },
      numa,
      hugepages: globals,
      memory: {
        ...facts.memory,
        hugepageSizeKb: sizeKb(def) ?? facts.memory.hugepageSizeKb,
        hugepagesTotal:
          globals.find((g) => g.sizeKb === (sizeKb(def) ?? facts.memory.hugepageSizeKb))?.total ?? 0,
        hugepagesFree:
          globals.find((g) => g.sizeKb === (sizeKb(def) ?? facts.memory.hugepageSizeKb))?.total ?? 0,
      },
      modules: facts.modules.filter((m) => m.builtin),
      nics: facts.nics.map((n) =>
        n.driver && DPDK_DRIVERS.has(n.driver)
          ? { ...n, driver: null, driverOverride: null }
          : { ...n, driverOverride: null },
      ),
      processes: Object.fromEntries(Object.keys(facts.processes).map((k) => [k, []])),
      services,
      files,
    },
    parseCpuList(
      (isolated ?? '')
        .split(',')
        .filter((p) => /^\d/.test(p))
        .join(','),
    ),
  );
}

/** grub.cfg as the regeneration writes it: every `linux` line with the new arguments. */
export function projectCfg(cfg: string | null, tokens: readonly string[]): string {
  const line = (path: string) => `\tlinux\t${path} ${tokens.join(' ')}`;
  if (cfg === null || !/^\s*linux\S*\s/m.test(cfg)) return `${cfg ?? ''}${line('/vmlinuz')}\n`;
  return cfg.replace(
    /^(\s*linux(?:efi|16)?\s+)(\S+).*$/gm,
    (_m, lead: string, path: string) => `${lead}${path} ${tokens.join(' ')}`,
  );
}

interface Situation {
  want: BootArgs;
  running: string[];
  /** the running line with the edit applied: what the host should boot with */
  target: string[];
  loader: Bootloader | { reason: string };
}

function situation(ctx: PlanContext): Situation {
  const want = wantedArgs(ctx.host, ctx.facts);
  const running = runningArgs(ctx.facts.kernel.cmdline);
  return {
    want,
    running,
    target: editArgs(running, want.add, want.remove),
    loader: bootloaderOf(ctx.facts),
  };
}

/** Problems of the inventory's arguments that no plan can fix (value errors). */
function argErrors(want: BootArgs): string[] {
  return checkArgs([...want.add, ...want.remove.filter((r) => r.includes('='))])
    .filter((p) => p.severity === 'error')
    .map((p) => p.message);
}

function blockedChange(reason: string, line: string): Change {
  return {
    id: `${TASK}/bootloader`,
    task: TASK,
    summary: `bootloader: cannot be changed by dpvs-deploy (${reason})`,
    action: 'update',
    steps: [
      {
        kind: 'exec',
        command: 'false',
        problem: `${reason}; add the kernel arguments by hand: ${line}, regenerate the boot configuration and reboot`,
      },
    ],
  };
}

/** The bootloader change (file diff and regeneration), or null when the configuration already has it. */
function bootloaderChanges(ctx: PlanContext, s: Situation): { changes: Change[]; configured: boolean } {
  const { want } = s;
  const loader = s.loader;
  if (isUnmanageable(loader))
    return { changes: [blockedChange(loader.reason, want.add.join(' '))], configured: false };
  const changes: Change[] = [];
  const gd = ctx.facts.files[GRUB_DEFAULT];
  const drop = (t: string): boolean =>
    want.remove.some((r) => (r.includes('=') ? t === r : argKey(t) === r)) ||
    want.add.some((a) => argKey(a) === argKey(t) && a !== t && !UNMANAGED_KEYS.has(argKey(t)));
  let grubText: string | null = null;
  if (gd?.exists) {
    if (gd.content === null)
      return {
        changes: [blockedChange(`${GRUB_DEFAULT} could not be read`, want.add.join(' '))],
        configured: false,
      };
    const edited = editGrubDefault(gd.content, (t) => editArgs(t, want.add, want.remove), drop);
    if (typeof edited !== 'string')
      return { changes: [blockedChange(edited.reason, want.add.join(' '))], configured: false };
    grubText = edited;
  }
  if (loader.kind === 'grubby') {
    if (satisfies(s.running, want.add, want.remove)) return { changes: [], configured: true };
    const steps: Step[] = [grubbyStep(want.add, want.remove)];
    const c: Change = {
      id: `${TASK}/bootloader`,
      task: TASK,
      summary: `grubby: every kernel boots with ${want.add.join(' ') || '(no additions)'}${want.remove.length ? `, without ${want.remove.join(' ')}` : ''}`,
      action: 'update',
      reversible: true,
      steps,
    };
    changes.push(c);
    if (grubText !== null && gd?.content !== grubText) {
      const f = managedFile({
        task: TASK,
        id: `${TASK}/grub-default`,
        path: GRUB_DEFAULT,
        content: grubText,
        mode: 0o644,
        current: gd,
      });
      if (f)
        changes.unshift({ ...f, summary: `${GRUB_DEFAULT}: GRUB_CMDLINE_LINUX for kernels installed later` });
    }
    return { changes, configured: false };
  }
  // GRUB: /etc/default/grub, then the generated grub.cfg
  if (grubText === null || !gd) return { changes: [], configured: false };
  const cfg = loader.cfg ? ctx.facts.files[loader.cfg] : undefined;
  const cfgArgs = cfg?.content ? grubCfgArgs(cfg.content) : null;
  const fileChange = managedFile({
    task: TASK,
    id: `${TASK}/grub-default`,
    path: GRUB_DEFAULT,
    content: grubText,
    mode: gd.mode ? parseInt(gd.mode, 8) : 0o644,
    current: gd,
    summary:
      `${GRUB_DEFAULT}: GRUB_CMDLINE_LINUX ${want.add.length ? `+ ${want.add.join(' ')}` : ''}${want.remove.length ? ` - ${want.remove.join(' ')}` : ''}`.trim(),
    then: [regenerateStep(loader)],
  });
  const original = ctx.facts.files[GRUB_ORIGINAL];
  const keep: Step[] =
    original?.exists === true
      ? []
      : fileWriteSteps([{ path: GRUB_ORIGINAL, content: gd.content ?? '', mode: 0o644, current: original }]);
  if (fileChange) {
    changes.push({ ...fileChange, steps: [...keep, ...fileChange.steps] });
    return { changes, configured: false };
  }
  const cfgOk = cfgArgs !== null && satisfies(cfgArgs, want.add, want.remove);
  if (!cfgOk)
    changes.push({
      id: `${TASK}/regenerate`,
      task: TASK,
      summary: `${loader.cfg ?? 'boot configuration'}: regenerate (it does not carry ${GRUB_DEFAULT}'s command line yet)`,
      action: 'run',
      steps: [regenerateStep(loader)],
    });
  return { changes, configured: cfgOk };
}

function plan(ctx: PlanContext): TaskPlan {
  if (!hasKernelSettings(ctx.host)) return { changes: [] };
  const s = situation(ctx);
  const errors = argErrors(s.want);
  if (errors.length) throw new Error(`kernel.cmdline: ${errors.join('; ')}`);
  if (!s.want.add.length && !s.want.remove.length) return { changes: [] };
  const runningOk = satisfies(s.running, s.want.add, s.want.remove);
  const { changes } = bootloaderChanges(ctx, s);
  if (runningOk) {
    // the running kernel has them; keep the bootloader in step so the next boot does too (no reboot)
    return { changes };
  }
  if (!rebootAllowed(ctx.host)) return { changes };
  const why = changes.length
    ? `boot with ${s.want.add.join(' ')}${s.want.remove.length ? `, without ${s.want.remove.join(' ')}` : ''}`
    : 'the bootloader already has the arguments; the running kernel does not';
  const all = [...changes, rebootChange(ctx.host, why)];
  // the bootloader edit takes effect only at the reboot: both run in the host's rolling batch
  for (const c of all) c.disruptive = true;
  const projected = projectBoot(ctx.facts, s.target);
  const gd = ctx.facts.files[GRUB_DEFAULT];
  const fileWrite = changes
    .flatMap((c) => c.steps)
    .find((x) => x.kind === 'write' && x.path === GRUB_DEFAULT);
  if (fileWrite && fileWrite.kind === 'write' && gd)
    projected.files = { ...projected.files, [GRUB_DEFAULT]: projectedFile(fileWrite) };
  const loader = s.loader;
  if (!isUnmanageable(loader) && loader.cfg) {
    const cfg = ctx.facts.files[loader.cfg];
    projected.files = {
      ...projected.files,
      [loader.cfg]: {
        exists: true,
        sha256: null,
        mode: cfg?.mode ?? '0444',
        content: projectCfg(cfg?.content ?? null, s.target),
      },
    };
  }
  return { changes: all, projected };
}

function verify(ctx: PlanContext): string[] {
  if (!hasKernelSettings(ctx.host)) return [];
  const s = situation(ctx);
  if (!s.want.add.length && !s.want.remove.length) return [];
  const out: string[] = [];
  if (!rebootAllowed(ctx.host)) {
    const left = bootloaderChanges(ctx, s).changes;
    return left.map((c) => `still pending after apply: ${c.summary}`);
  }
  const missing = unmet(s.running, s.want.add, s.want.remove);
  if (missing.length) {
    out.push(`/proc/cmdline after the reboot: ${missing.join(', ')} (running: ${ctx.facts.kernel.cmdline})`);
    return out;
  }
  const f = ctx.facts;
  if (ctx.host.kernel?.boot_hugepages && ctx.host.hugepages?.per_node !== undefined) {
    const size = ctx.host.hugepages.size === '1G' ? 1048576 : 2048;
    const per = ctx.host.hugepages.per_node;
    const nodes = f.numa.length ? f.numa : [];
    const total = nodes.reduce((a, n) => a + (n.hugepages.find((h) => h.sizeKb === size)?.total ?? 0), 0);
    const wanted =
      typeof per === 'number' ? per * nodes.length : Object.values(per).reduce((a, b) => a + b, 0);
    if (total < wanted)
      out.push(
        `boot-time hugepages: ${total} of ${wanted} ${size === 1048576 ? '1G' : '2M'} pages reserved (per node: ${nodes
          .map((n) => `node${n.id} ${n.hugepages.find((h) => h.sizeKb === size)?.total ?? 0}`)
          .join(', ')}); the kernel could not reserve the rest at boot (memory per node?)`,
      );
  }
  const wantsIommu = s.want.add.some((a) => /^intel_iommu=(.*,)?on(,|$)/.test(a) || a === 'iommu=pt');
  if (ctx.host.kernel?.iommu && wantsIommu && f.kernel.iommuGroups === 0)
    out.push(
      'IOMMU: /sys/kernel/iommu_groups is empty after booting with the IOMMU on (VT-d / AMD-Vi off in the firmware?)',
    );
  const iso = [...s.want.add].reverse().find((a) => argKey(a) === 'isolcpus');
  if (iso) {
    const wantCpus = parseCpuList(
      iso
        .slice('isolcpus='.length)
        .split(',')
        .filter((p) => /^\d/.test(p))
        .join(','),
    );
    const got = isolatedCpus.read(f);
    if (got && got.join(',') !== wantCpus.join(','))
      out.push(
        `isolated CPUs: ${ISOLATED_CPUS} says "${formatCpuList(got)}", expected ${wantCpus.join(',')}`,
      );
  }
  return out;
}

/** Rollback: /etc/default/grub as it was before the first change, regenerated, and a reboot. */
function rollback(ctx: PlanContext): TaskPlan {
  const orig = ctx.facts.files[GRUB_ORIGINAL];
  const gd = ctx.facts.files[GRUB_DEFAULT];
  const loader = bootloaderOf(ctx.facts);
  if (
    !orig?.exists ||
    orig.content === null ||
    !gd?.exists ||
    isUnmanageable(loader) ||
    loader.kind === 'grubby'
  )
    return { changes: [] };
  const view = readGrubDefault(orig.content);
  if ('reason' in view) return { changes: [] };
  const wanted = [...view.linux, ...view.linuxDefault];
  const running = runningArgs(ctx.facts.kernel.cmdline).filter((t) => !UNMANAGED_KEYS.has(argKey(t)));
  const changes: Change[] = [];
  const f = managedFile({
    task: TASK,
    id: `${TASK}/grub-default`,
    path: GRUB_DEFAULT,
    content: orig.content,
    mode: 0o644,
    current: gd,
    summary: `${GRUB_DEFAULT}: restore the command line found before dpvs-deploy's first change`,
    then: [regenerateStep(loader)],
  });
  if (f) changes.push(f);
  if (changes.length || running.join(' ') !== wanted.join(' ')) {
    if (rebootAllowed(ctx.host))
      changes.push(
        rebootChange(ctx.host, `boot with the previous command line: ${wanted.join(' ') || '(empty)'}`),
      );
    for (const c of changes) c.disruptive = true;
  }
  return { changes };
}

export const kernelCmdlineTask: Task = {
  name: TASK,
  probe(host: ResolvedHost, _inv: LoadedInventory) {
    void host;
    return joinRequests(isolatedCpus.request(), bootFirmware.request(), {
      files: [
        GRUB_DEFAULT,
        GRUB_CFG_DEBIAN,
        GRUB_CFG_BIOS_RHEL,
        KERNEL_CMDLINE_FILE,
        REBOOT_REQUIRED,
        GRUB_ORIGINAL,
      ],
    });
  },
  plan,
  verify,
  rollback,
};
