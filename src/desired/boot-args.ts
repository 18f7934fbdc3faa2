/**
 * Kernel boot arguments: the command line as tokens, the arguments a host should boot with (the
 * inventory's kernel.cmdline plus the derived ones it opts into), the known arguments with their value
 * checks, and the edit of a command line by add/remove. Pure.
 *
 * Semantics follow the kernel (Documentation/admin-guide/kernel-parameters.txt): arguments are split on
 * spaces outside double quotes; for most parameters the last occurrence wins, so an added `key=value`
 * replaces every earlier value of that key; `hugepagesz=`/`hugepages=` are read as ordered pairs, which
 * is why the derived hugepage arguments are written as one group in that order.
 */
import type { Facts } from '../facts/types.js';
import { acpiTables } from '../facts/reads/boot-firmware.js';
import type { ResolvedHost } from '../inventory/types.js';
import { formatCpuList } from '../cpu-list.js';

/** Tokens of a command line as the kernel splits it (double quotes group, and are kept). */
export function splitCmdline(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of line.trim()) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && /\s/.test(ch)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

export function argKey(token: string): string {
  const i = token.indexOf('=');
  return i < 0 ? token : token.slice(0, i);
}

/** What the bootloader or the kernel itself puts on the line: never added or removed by the tool. */
export const UNMANAGED_KEYS: ReadonlySet<string> = new Set(['BOOT_IMAGE', 'root', 'ro', 'rw', 'initrd']);

const CPULIST = /^(\d+(-\d+(:\d+\/\d+)?)?)(,\d+(-\d+(:\d+\/\d+)?)?)*$/;
const SIZE = /^\d+[KMGkmg]?$/;
const oneOf =
  (...v: string[]) =>
  (x: string | null): string | null =>
    x !== null && v.includes(x) ? null : `expected one of ${v.join(', ')}`;
const listOf =
  (...v: string[]) =>
  (x: string | null): string | null =>
    x !== null && x.split(',').every((p) => v.includes(p))
      ? null
      : `expected a comma list of ${v.join(', ')}`;
const flag = (x: string | null): string | null => (x === null ? null : 'takes no value');
const int = (x: string | null): string | null => (x !== null && /^\d+$/.test(x) ? null : 'expected a number');
const cpulist = (x: string | null): string | null =>
  x !== null && CPULIST.test(x) ? null : 'expected a CPU list such as 2-5,8';

/**
 * Known arguments with their value check (null: valid), from the kernel's kernel-parameters.txt. Unknown
 * keys are allowed with a warning (KERNEL-001).
 */
export const KNOWN_ARGS: Readonly<Record<string, (value: string | null) => string | null>> = {
  intel_iommu: listOf(
    'on',
    'off',
    'igfx_off',
    'forcedac',
    'strict',
    'sp_off',
    'sm_on',
    'sm_off',
    'tboot_noforce',
  ),
  amd_iommu: listOf(
    'fullflush',
    'off',
    'force_isolation',
    'force_enable',
    'pgtbl_v1',
    'pgtbl_v2',
    'irtcachedis',
    'nohugepages',
    'v2_pgsizes_only',
  ),
  iommu: listOf(
    'off',
    'force',
    'noforce',
    'biomerge',
    'panic',
    'nopanic',
    'merge',
    'nomerge',
    'soft',
    'pt',
    'nopt',
    'nobypass',
    'forcesac',
    'allowdac',
    'nodac',
    'usedac',
  ),
  'iommu.passthrough': oneOf('0', '1'),
  'iommu.strict': oneOf('0', '1'),
  default_hugepagesz: (x) => (x !== null && SIZE.test(x) ? null : 'expected a page size such as 1G or 2M'),
  hugepagesz: (x) => (x !== null && SIZE.test(x) ? null : 'expected a page size such as 1G or 2M'),
  hugepages: (x) =>
    x !== null && (/^\d+$/.test(x) || /^\d+:\d+(,\d+:\d+)*$/.test(x))
      ? null
      : 'expected a page count (or node:count,...)',
  isolcpus: (x) => {
    if (x === null) return 'expected a CPU list such as 2-5';
    const parts = x.split(',');
    const flags = ['nohz', 'domain', 'managed_irq'];
    while (parts.length && flags.includes(parts[0] ?? '')) parts.shift();
    return cpulist(parts.join(','));
  },
  nohz_full: cpulist,
  rcu_nocbs: (x) => (x === null || x === '' ? null : cpulist(x)),
  irqaffinity: cpulist,
  nohz: oneOf('on', 'off'),
  transparent_hugepage: oneOf('always', 'madvise', 'never'),
  intel_pstate: listOf(
    'disable',
    'passive',
    'active',
    'force',
    'no_hwp',
    'hwp_only',
    'support_acpi_ppc',
    'per_cpu_perf_limits',
  ),
  'processor.max_cstate': int,
  'intel_idle.max_cstate': int,
  idle: oneOf('poll', 'halt', 'nomwait'),
  mitigations: oneOf('off', 'auto', 'auto,nosmt'),
  nosoftlockup: flag,
  nowatchdog: flag,
  nmi_watchdog: oneOf('0', '1', 'panic', 'nopanic'),
  skew_tick: oneOf('0', '1'),
  audit: oneOf('0', '1', 'off', 'on'),
  selinux: oneOf('0', '1'),
  quiet: flag,
  splash: flag,
  'vfio-pci.ids': (x) =>
    x !== null && /^[0-9a-f]{4}:[0-9a-f]{4}(,[0-9a-f]{4}:[0-9a-f]{4})*$/i.test(x)
      ? null
      : 'expected vendor:device[,...]',
  console: (x) => (x !== null && x.length > 0 ? null : 'expected a console such as ttyS0,115200'),
  rcu_nocb_poll: flag,
  tsc: oneOf('reliable', 'noirqtime', 'unstable', 'nowatchdog'),
};

export interface ArgProblem {
  arg: string;
  severity: 'error' | 'warning';
  message: string;
}

/** The value problems of arguments (errors) and the unknown keys among them (warnings). */
export function checkArgs(args: readonly string[]): ArgProblem[] {
  const out: ArgProblem[] = [];
  for (const a of args) {
    const k = argKey(a);
    const v = a.includes('=') ? a.slice(k.length + 1) : null;
    if (UNMANAGED_KEYS.has(k)) {
      out.push({
        arg: a,
        severity: 'error',
        message: `${k} is the bootloader's own; dpvs-deploy does not change it`,
      });
      continue;
    }
    const check = KNOWN_ARGS[k];
    if (!check) {
      out.push({
        arg: a,
        severity: 'warning',
        message: `${k} is not an argument dpvs-deploy knows; it is written as given`,
      });
      continue;
    }
    const p = check(v);
    if (p) out.push({ arg: a, severity: 'error', message: `${a}: ${p}` });
  }
  return out;
}

/** What a host's command line should gain and lose. */
export interface BootArgs {
  add: string[];
  remove: string[];
  /** why each derived argument is there, for the plan's summary */
  derived: string[];
}

export function hasKernelSettings(host: ResolvedHost): boolean {
  const k = host.kernel;
  return (
    !!k &&
    (!!k.cmdline?.add?.length ||
      !!k.cmdline?.remove?.length ||
      !!k.isolate_workers ||
      !!k.boot_hugepages ||
      !!k.iommu)
  );
}

/**
 * The arguments the host should boot with. `isolated`: the worker CPUs to isolate (the caller derives
 * them from the dpvs layout; CPU 0 is never isolated). Order: the derived groups, then kernel.cmdline.add
 * (an explicit argument wins over a derived one with the same key).
 */
export function bootArgs(host: ResolvedHost, facts: Facts, isolated: readonly number[] = []): BootArgs {
  const k = host.kernel ?? {};
  const add: string[] = [];
  const derived: string[] = [];
  if (k.iommu) {
    // Which IOMMU the firmware describes decides (DMAR: Intel VT-d, IVRS: AMD-Vi); the CPU only when
    // the tables are not known. (QEMU's TCG `-cpu max` reports AuthenticAMD and svm on a q35 machine
    // with an emulated VT-d: the VM tier's guest.)
    const names = acpiTables.read(facts) ?? [];
    const amd = names.includes('DMAR')
      ? false
      : names.includes('IVRS') || facts.cpu.model.includes('AMD') || facts.cpu.flags.includes('svm');
    // The AMD IOMMU is on whenever the firmware has an IVRS table: kernel-parameters.txt has no
    // amd_iommu=on (the kernel ignores it), so AMD gets iommu=pt alone.
    add.push(...(amd ? ['iommu=pt'] : ['intel_iommu=on', 'iommu=pt']));
    derived.push('iommu');
  }
  if (k.boot_hugepages && host.hugepages?.per_node !== undefined) {
    const size = host.hugepages.size ?? '2M';
    const nodes = facts.numa.length ? facts.numa.map((n) => n.id) : [0];
    const per = host.hugepages.per_node;
    const total =
      typeof per === 'number' ? per * nodes.length : Object.values(per).reduce((a, b) => a + b, 0);
    add.push(`default_hugepagesz=${size}`, `hugepagesz=${size}`, `hugepages=${total}`);
    derived.push('boot_hugepages');
  }
  const iso = [...new Set(isolated)].filter((c) => c !== 0);
  if (k.isolate_workers && iso.length) {
    const l = formatCpuList(iso);
    add.push(`isolcpus=${l}`, `nohz_full=${l}`, `rcu_nocbs=${l}`);
    derived.push('isolate_workers');
  }
  const explicit = k.cmdline?.add ?? [];
  const explicitKeys = new Set(explicit.map(argKey));
  const out = [...add.filter((a) => !explicitKeys.has(argKey(a))), ...explicit];
  return { add: [...new Set(out)], remove: [...new Set(k.cmdline?.remove ?? [])], derived };
}

/** Keys whose every occurrence counts (pairs): an add appends instead of replacing earlier values. */
const REPEATED: ReadonlySet<string> = new Set(['console']);

function removes(token: string, remove: readonly string[]): boolean {
  return remove.some((r) => (r.includes('=') ? token === r : argKey(token) === r));
}

/**
 * The command line with `remove` taken off and `add` on: an added key=value replaces the first earlier
 * value of its key in place and drops the others; a key not there yet is appended. Idempotent.
 */
export function editArgs(
  tokens: readonly string[],
  add: readonly string[],
  remove: readonly string[],
): string[] {
  let out = tokens.filter((t) => !removes(t, remove) || add.includes(t));
  for (const a of add) {
    const k = argKey(a);
    if (REPEATED.has(k)) {
      if (!out.includes(a)) out.push(a);
      continue;
    }
    const first = out.findIndex((t) => argKey(t) === k);
    if (first < 0) {
      out.push(a);
      continue;
    }
    out = out.filter((t, i) => i === first || argKey(t) !== k);
    out[first] = a;
  }
  // hugepagesz must come before its hugepages: keep the pair in order
  const sz = out.findIndex((t) => argKey(t) === 'hugepagesz');
  const hp = out.findIndex((t) => argKey(t) === 'hugepages');
  if (sz >= 0 && hp >= 0 && hp < sz) {
    const [h] = out.splice(hp, 1);
    out.splice(out.findIndex((t) => argKey(t) === 'hugepagesz') + 1, 0, h as string);
  }
  return out;
}

/** Every added argument is on the line (its key's last value is the one asked for) and none removed. */
export function satisfies(
  tokens: readonly string[],
  add: readonly string[],
  remove: readonly string[],
): boolean {
  for (const a of add) {
    const k = argKey(a);
    const last = [...tokens].reverse().find((t) => argKey(t) === k);
    if (REPEATED.has(k) ? !tokens.includes(a) : last !== a) return false;
  }
  return !tokens.some((t) => removes(t, remove) && !add.includes(t));
}

/** The arguments of `wanted` missing from a command line, and the removed ones still on it. */
export function unmet(
  tokens: readonly string[],
  add: readonly string[],
  remove: readonly string[],
): string[] {
  const out: string[] = [];
  for (const a of add) if (!satisfies(tokens, [a], [])) out.push(`${a} missing`);
  for (const t of tokens) if (removes(t, remove) && !add.includes(t)) out.push(`${t} still present`);
  return out;
}
