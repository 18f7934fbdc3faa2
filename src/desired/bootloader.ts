/**
 * The bootloader of a host and its configuration, as the kernel-cmdline task edits it. Pure: reads the
 * probed files (facts.files) and the typed boot firmware read (src/facts/reads/boot-firmware.ts), never a host.
 *
 * - Debian/Ubuntu: GRUB_CMDLINE_LINUX in /etc/default/grub, then `update-grub` (Debian's update-grub is
 *   `exec grub-mkconfig -o /boot/grub/grub.cfg "$@"`, grub2-common 2.06-13+deb12u2:/usr/sbin/update-grub:3);
 *   /etc/grub.d/10_linux writes each entry's `linux` line as
 *   `linux <path> root=<dev> ro ${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}`
 *   (grub-common 2.06-13+deb12u2:/etc/grub.d/10_linux:193 and :381).
 * - RHEL 8/9 and derivatives (BLS): `grubby --update-kernel=ALL --args=... --remove-args=...`, and the
 *   same edit of GRUB_CMDLINE_LINUX so kernels installed later get it.
 * - CentOS/RHEL 7: GRUB_CMDLINE_LINUX, then `grub2-mkconfig -o` /boot/grub2/grub.cfg (BIOS) or
 *   /boot/efi/EFI/<vendor>/grub.cfg (EFI).
 */
import type { Facts } from '../facts/types.js';
import { argKey, splitCmdline } from './boot-args.js';
import { BOOT_KEYS, bootFirmware } from '../facts/reads/boot-firmware.js';
import { ISOLATED_CPUS, ISOLATED_KEY } from '../facts/reads/isolated-cpus.js';

export const GRUB_DEFAULT = '/etc/default/grub';
export const GRUB_CFG_DEBIAN = '/boot/grub/grub.cfg';
export const GRUB_CFG_BIOS_RHEL = '/boot/grub2/grub.cfg';
export const KERNEL_CMDLINE_FILE = '/etc/kernel/cmdline';
export const REBOOT_REQUIRED = '/run/reboot-required';
export const BOOT_ID = '/proc/sys/kernel/random/boot_id';
export { ISOLATED_CPUS };

/** The keys of the raw readings behind the typed reads (tests build facts with them). */
export const KEYS = { isolated: ISOLATED_KEY, ...BOOT_KEYS } as const;

export type BootloaderKind = 'grub-debian' | 'grubby' | 'grub2-mkconfig';

export interface Bootloader {
  kind: BootloaderKind;
  /** the generated configuration (grub.cfg) the regeneration writes; null for grubby */
  cfg: string | null;
  /** the command that regenerates the boot configuration from /etc/default/grub (null for grubby) */
  regenerate: string | null;
}

export interface Unmanageable {
  reason: string;
}

/** The bootloader dpvs-deploy manages on this host, or why it cannot. */
export function bootloaderOf(facts: Facts): Bootloader | Unmanageable {
  const grubDefault = facts.files[GRUB_DEFAULT];
  const fw = bootFirmware.read(facts);
  if (facts.os.family === 'debian') {
    if (!grubDefault?.exists) return { reason: `${GRUB_DEFAULT} does not exist (not booted by GRUB?)` };
    return { kind: 'grub-debian', cfg: GRUB_CFG_DEBIAN, regenerate: 'update-grub' };
  }
  if (facts.os.family === 'rhel') {
    const major = Number(/^(\d+)/.exec(facts.os.versionId)?.[1] ?? '0');
    if (major >= 8) return { kind: 'grubby', cfg: null, regenerate: null };
    if (major === 7) {
      if (!grubDefault?.exists) return { reason: `${GRUB_DEFAULT} does not exist (not booted by GRUB 2?)` };
      let cfg = GRUB_CFG_BIOS_RHEL;
      if (fw.efi) {
        const vendors = fw.efiVendors.filter((v) => v !== 'BOOT');
        const vendor = vendors.includes(facts.os.id) ? facts.os.id : vendors[0];
        if (!vendor) return { reason: 'EFI boot, but no vendor directory under /boot/efi/EFI' };
        cfg = `/boot/efi/EFI/${vendor}/grub.cfg`;
      }
      return { kind: 'grub2-mkconfig', cfg, regenerate: `grub2-mkconfig -o ${cfg}` };
    }
  }
  return { reason: `no bootloader handling for ${facts.os.prettyName || facts.os.id || 'this OS'}` };
}

export function isUnmanageable(b: Bootloader | Unmanageable): b is Unmanageable {
  return 'reason' in b;
}

interface Assignment {
  line: number;
  value: string;
}

const VAR_LINE = (name: string) => new RegExp(`^\\s*(?:export\\s+)?${name}=(.*)$`);

/** The shell value of an assignment line: "..." or '...' or a bare word; null when it expands anything. */
function shellValue(raw: string): string | null {
  const v = raw.replace(/\s+#.*$/, '').trim();
  if (v.startsWith('"')) {
    const end = v.lastIndexOf('"');
    if (end <= 0) return null;
    const inner = v.slice(1, end);
    if (/[$`\\]/.test(inner)) return null;
    return inner;
  }
  if (v.startsWith("'")) {
    const end = v.lastIndexOf("'");
    return end <= 0 ? null : v.slice(1, end);
  }
  if (/[$`\\"' ]/.test(v)) return null;
  return v;
}

function lastAssignment(lines: readonly string[], name: string): Assignment | null {
  const re = VAR_LINE(name);
  let found: Assignment | null = null;
  lines.forEach((l, i) => {
    const m = re.exec(l);
    if (m) found = { line: i, value: m[1] ?? '' };
  });
  return found;
}

export interface GrubDefaultView {
  linux: string[];
  linuxDefault: string[];
}

/** GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT of /etc/default/grub, or why they cannot be read. */
export function readGrubDefault(text: string): GrubDefaultView | { reason: string } {
  const lines = text.split('\n');
  const out: GrubDefaultView = { linux: [], linuxDefault: [] };
  for (const [name, key] of [
    ['GRUB_CMDLINE_LINUX', 'linux'],
    ['GRUB_CMDLINE_LINUX_DEFAULT', 'linuxDefault'],
  ] as const) {
    const a = lastAssignment(lines, name);
    if (!a) continue;
    const v = shellValue(a.value);
    if (v === null)
      return {
        reason: `${name} on line ${a.line + 1} is not a plain quoted value (${a.value.trim()}): edit it by hand`,
      };
    out[key] = splitCmdline(v);
  }
  return out;
}

function assign(name: string, tokens: readonly string[]): string {
  return `${name}="${tokens.join(' ')}"`;
}

/**
 * /etc/default/grub with GRUB_CMDLINE_LINUX edited: `add` applied there, `remove` (and the keys of `add`)
 * taken out of GRUB_CMDLINE_LINUX_DEFAULT too, since 10_linux appends it after GRUB_CMDLINE_LINUX and
 * the kernel takes a key's last value. Every other line is kept as it is. Returns the text unchanged
 * when nothing changes.
 */
export function editGrubDefault(
  text: string,
  edit: (tokens: string[]) => string[],
  dropFromDefault: (token: string) => boolean,
): string | { reason: string } {
  const view = readGrubDefault(text);
  if ('reason' in view) return view;
  const lines = text.split('\n');
  const linux = edit(view.linux);
  const dflt = view.linuxDefault.filter((t) => !dropFromDefault(t));
  const put = (name: string, tokens: string[], old: string[]) => {
    if (tokens.join(' ') === old.join(' ')) return;
    const a = lastAssignment(lines, name);
    if (a) lines[a.line] = assign(name, tokens);
    else {
      const at = lines.length && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
      lines.splice(at, 0, assign(name, tokens));
    }
  };
  put('GRUB_CMDLINE_LINUX', linux, view.linux);
  put('GRUB_CMDLINE_LINUX_DEFAULT', dflt, view.linuxDefault);
  return lines.join('\n');
}

/**
 * The arguments of the default entry's `linux` line in a generated grub.cfg (GRUB_DEFAULT=0: the first
 * menuentry), without the kernel path; null when there is none.
 */
export function grubCfgArgs(cfg: string): string[] | null {
  for (const line of cfg.split('\n')) {
    const m = /^\s*linux(?:efi|16)?\s+(\S+)\s*(.*)$/.exec(line);
    if (m) return splitCmdline(m[2] ?? '');
  }
  return null;
}

/** The running command line without what the bootloader adds itself (BOOT_IMAGE=). */
export function runningArgs(cmdline: string): string[] {
  return splitCmdline(cmdline).filter((t) => argKey(t) !== 'BOOT_IMAGE');
}
