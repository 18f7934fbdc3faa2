/**
 * What the guest's own bootloader configuration boots: the default entry of /boot/grub/grub.cfg (as
 * Debian's update-grub writes it) and the kernel command line GRUB would hand to Linux. Pure.
 *
 * The launcher has no BIOS bootloader to run (the image is a bare ext4 filesystem without a partition
 * table, so there is no MBR to install GRUB to without loop devices); it boots the kernel and initrd the
 * default entry names, with exactly the command line GRUB builds from that entry's `linux` line:
 * `BOOT_IMAGE=<path>` followed by the arguments, each quoted as GRUB quotes it
 * (test/fixtures/upstream/debian-grub/README.md: grub2 2.06-13+deb12u2 grub-core/loader/i386/linux.c:1031,
 * grub-core/lib/cmdline.c:65-109).
 */

export interface BootEntry {
  /** the menu entry's title, e.g. `Debian GNU/Linux` */
  title: string;
  /** its id (after `$menuentry_id_option`), e.g. `gnulinux-simple-<uuid>` */
  id: string;
  /** the path on the `linux` line (on the root filesystem: no separate /boot) */
  kernel: string;
  /** the paths on the `initrd` line (GRUB loads them one after the other) */
  initrd: string[];
  /** the words after the kernel path on the `linux` line */
  args: string[];
}

export class BootConfigError extends Error {}

/**
 * GRUB script words of one line: blanks separate words, `'…'` is literal, `"…"` keeps blanks (a
 * backslash escapes `"`, `\`, `$`), a backslash outside quotes escapes the next character. A `$` outside
 * single quotes is kept as `$` so callers can refuse variable expansion where it matters.
 */
export function grubWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === '#' && !inWord) break;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new BootConfigError(`unterminated ' in: ${line.trim()}`);
      cur += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$'.includes(line[i + 1] as string)) i++;
        cur += line[i];
        i++;
      }
      if (i >= line.length) throw new BootConfigError(`unterminated " in: ${line.trim()}`);
      i++;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[i + 1];
      i += 2;
    } else {
      cur += c;
      i++;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

interface Item {
  kind: 'menuentry' | 'submenu';
  title: string;
  id: string;
  children: Item[];
  linux?: string[];
  initrd?: string[];
}

function parseItems(cfg: string): { items: Item[]; defaults: string[] } {
  const root: Item = { kind: 'submenu', title: '', id: '', children: [] };
  const stack: Array<Item | null> = []; // null: a block that is not a menu (function … {)
  const defaults: string[] = [];
  const lines = cfg.split('\n');
  lines.forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line === '}') {
      if (stack.length === 0) throw new BootConfigError(`grub.cfg line ${n + 1}: } without a block`);
      stack.pop();
      return;
    }
    const opens = line.endsWith('{');
    const words = grubWords(opens ? line.slice(0, -1) : line);
    const head = words[0];
    const parent = stack.length === 0 ? root : (stack[stack.length - 1] ?? null);
    if (opens) {
      if ((head === 'menuentry' || head === 'submenu') && parent) {
        const idAt = words.indexOf('$menuentry_id_option');
        const item: Item = {
          kind: head,
          title: words[1] ?? '',
          id: idAt >= 0 ? (words[idAt + 1] ?? '') : '',
          children: [],
        };
        parent.children.push(item);
        stack.push(item);
      } else stack.push(null);
      return;
    }
    if (stack.length === 0 && head === 'set' && words[1]?.startsWith('default=')) {
      defaults.push(words[1].slice('default='.length));
      return;
    }
    const cur = stack[stack.length - 1];
    if (cur && cur.kind === 'menuentry' && (head === 'linux' || head === 'linuxefi'))
      cur.linux = words.slice(1);
    if (cur && cur.kind === 'menuentry' && (head === 'initrd' || head === 'initrdefi'))
      cur.initrd = words.slice(1);
  });
  if (stack.length) throw new BootConfigError('grub.cfg ends inside a block (missing })');
  return { items: root.children, defaults };
}

/**
 * The entry GRUB boots without a keypress: the last literal `set default=` at the top level (00_header
 * writes `set default="${next_entry}"` for a one-time `grub-reboot` choice and `set default="0"`
 * otherwise; values read from grubenv at boot are not followed), resolved as GRUB does: a number is
 * the position among the top-level entries and submenus, anything else a title or an id, `>` steps into
 * a submenu.
 */
export function grubDefaultEntry(cfg: string): BootEntry {
  const { items, defaults } = parseItems(cfg);
  const literal = defaults.filter((d) => !d.includes('$'));
  const want = literal[literal.length - 1] ?? (defaults.length ? null : '0');
  if (want === null)
    throw new BootConfigError(
      `grub.cfg chooses its default entry from grubenv (set default=${defaults[defaults.length - 1]}): ` +
        'the launcher does not read grubenv; use GRUB_DEFAULT=<number|title|id> in /etc/default/grub',
    );
  let level = items;
  let found: Item | undefined;
  for (const part of want.split('>')) {
    found = /^\d+$/.test(part) ? level[Number(part)] : level.find((i) => i.title === part || i.id === part);
    if (!found) throw new BootConfigError(`grub.cfg has no entry ${JSON.stringify(want)} (set default)`);
    level = found.children;
  }
  if (!found || found.kind !== 'menuentry')
    throw new BootConfigError(`grub.cfg's default ${JSON.stringify(want)} is a submenu, not an entry`);
  const linux = found.linux;
  if (!linux || linux.length === 0)
    throw new BootConfigError(`grub.cfg entry ${JSON.stringify(found.title)} has no linux line`);
  const expanded = [...linux, ...(found.initrd ?? [])].find((w) => w.includes('$'));
  if (expanded !== undefined)
    throw new BootConfigError(
      `grub.cfg entry ${JSON.stringify(found.title)} uses a variable (${expanded}); the launcher takes words literally`,
    );
  return {
    title: found.title,
    id: found.id,
    kernel: linux[0] as string,
    initrd: found.initrd ?? [],
    args: linux.slice(1),
  };
}

/**
 * The command line GRUB's i386 `linux` command gives the kernel: "BOOT_IMAGE=" + the path, then every
 * argument separated by one blank; an argument with a blank is wrapped in `"…"`; `\`, `'` and `"` get a
 * backslash (grub-core/lib/cmdline.c grub_create_loader_cmdline).
 */
export function grubKernelCmdline(e: BootEntry): string {
  const quote = (a: string): string => {
    const body = a.replace(/[\\'"]/g, (c) => `\\${c}`);
    return a.includes(' ') ? `"${body}"` : body;
  };
  return `BOOT_IMAGE=${[e.kernel, ...e.args].map(quote).join(' ')}`;
}
