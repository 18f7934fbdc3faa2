/**
 * Facts the tasks ask for by name (ProbeRequest): modules, commands, packages, files, disk space,
 * services, processes, and the raw readings of the typed readers (read.ts): argv commands, listings,
 * small texts. Contents and outputs travel base64-encoded,
 * so no text can be mistaken for the probe's own markers.
 */
import {
  type Exec,
  type Facts,
  type FileFacts,
  type Listing,
  type ModuleFacts,
  onKernel,
  type ProbeRequest,
  type RawOutput,
  RUNNING_KERNEL,
} from './types.js';
import {
  blobPart,
  type FactModule,
  first,
  fromB64,
  int,
  kvLines,
  type ParseContext,
  rawBlock,
  rawBlocks,
} from './section.js';
import { quote } from '../transport/quote.js';

export type RequestedFacts = Pick<
  Facts,
  | 'modules'
  | 'modulesAvailable'
  | 'limits'
  | 'commands'
  | 'packages'
  | 'files'
  | 'diskFreeMb'
  | 'services'
  | 'outputs'
  | 'processes'
>;

const MAX_CONTENT = 65536;

/**
 * A request's path or argv word as one shell word: quoted, with the running kernel (RUNNING_KERNEL)
 * as "$DPVS_PROBE_RELEASE", which the system section set.
 */
export function word(x: string): string {
  const parts = x.split(RUNNING_KERNEL);
  const w = parts.map((p, i) => (i ? '"$DPVS_PROBE_RELEASE"' : '') + (p ? quote(p) : '')).join('');
  return w || "''";
}

function words(list: string[]): string {
  return list.map((x) => word(x)).join(' ');
}

/**
 * `systemctl is-active` states it answers 0 for (systemd's check_unit_generic: active, reloading, and
 * refreshing since v257); every other word ("inactive", "failed", "activating", "unknown" for a unit
 * that does not exist on old systemd, ...) is not active.
 */
export const ACTIVE_STATES: ReadonlySet<string> = new Set(['active', 'reloading', 'refreshing']);

/** `systemctl is-enabled` states it answers 0 for (systemd's verb_is_enabled); "disabled", "masked", ... are not. */
export const ENABLED_STATES: ReadonlySet<string> = new Set([
  'enabled',
  'enabled-runtime',
  'static',
  'alias',
  'indirect',
  'generated',
]);

/**
 * Every requested package in ONE read of the OS family's own package database (os-release ID/ID_LIKE),
 * not whichever tool is on PATH: Debian can carry rpm (alien) and RHEL can carry dpkg (EPEL). Prints a
 * `pkgwant` line per requested name, then one `pkgdeb`/`pkgrpm` line per package the database knows.
 * The os-release check is the shell's own loop (no grep). Lines are matched to requests by package
 * name: the requests are plain package names (packages.ts), no versions, architectures or globs.
 *
 * dpkg: one `awk` over dpkg's status file prints what `dpkg-query -W -f='${Package}\t${Status}\t
 * ${Version}\n' NAMES` prints, in the file's order, for a third of its CPU (dpkg-query loads the whole
 * database and the architecture list first). It reads what dpkg-query reads: the status file under
 * $DPKG_ADMINDIR, else /var/lib/dpkg (dpkg 1.21.23 lib/dpkg/dbdir.c:51-55), one stanza per package,
 * field names case-insensitive, values trimmed (lib/dpkg/parse.c:123, 636-723). dpkg-query also merges
 * the journal of an interrupted dpkg run, the all-digit files of <admindir>/updates
 * (lib/dpkg/dbmodify.c:64-78, 80-105): when there is one, or no awk, dpkg-query itself answers.
 * test/fixtures/upstream/dpkg/status.yaml has the samples; test/unit/facts/dpkg-status.test.ts runs
 * both on them. rpm: `rpm -q --qf`, one line per installed package ("package X is not installed" has
 * no tab and is ignored).
 */
/** `grep -qiE '(rhel|fedora|centos|suse)'` as a case pattern, so the check needs no process. */
const RPM_LIKE = ['rhel', 'fedora', 'centos', 'suse']
  .map((w) => `*${[...w].map((c) => `[${c}${c.toUpperCase()}]`).join('')}*`)
  .join('|');

/** dpkg Status values of an installed package (see the pkgdeb parser). */
const DPKG_INSTALLED: ReadonlySet<string> = new Set(['install ok installed', 'hold ok installed']);

/** A dpkg field name as a case-insensitive awk pattern: `^[Pp][Aa]...[ \t]*:` (dpkg allows blanks before the colon). */
function dpkgField(name: string): string {
  return String.raw`/^${[...name].map((c) => `[${c.toUpperCase()}${c.toLowerCase()}]`).join('')}[ \t]*:/`;
}

/**
 * The awk program over dpkg's status file: the `pkgdeb` line of each stanza whose Package is one of the
 * names in `w` (" a b c "), at the blank line that ends it (or at the end of the file).
 */
export const DPKG_STATUS_AWK = [
  String.raw`function val(l) { sub(/^[^:]*:[ \t]*/, "", l); sub(/[ \t\r]+$/, "", l); return l }`,
  String.raw`function out() { if (p != "" && index(w, " " p " ")) printf "pkgdeb\t%s\t%s\t%s\n", p, s, v; p = s = v = "" }`,
  `${dpkgField('package')} { p = val($0); next }`,
  `${dpkgField('status')} { s = val($0); next }`,
  `${dpkgField('version')} { v = val($0); next }`,
  '/^$/ { out() }',
  'END { out() }',
].join('\n');

export function packagesSnippet(pkgs: string[]): string {
  const w = words(pkgs);
  return `rh=; while IFS= read -r l; do case $l in ID=*|ID_LIKE=*) case \${l#*=} in ${RPM_LIKE}) rh=1;; esac;; esac; done < /etc/os-release
pm=; if [ -n "$rh" ] && command -v rpm >/dev/null 2>&1; then pm=rpm
elif command -v dpkg-query >/dev/null 2>&1; then pm=dpkg; elif command -v rpm >/dev/null 2>&1; then pm=rpm; fi
printf 'pkgwant\\t%s\\n' ${w}
case $pm in
  dpkg) D=\${DPKG_ADMINDIR:-/var/lib/dpkg}; j=; for x in "$D"/updates/*; do case \${x##*/} in *[!0-9]*) ;; *) j=1;; esac; done
    if [ -z "$j" ] && [ -f "$D/status" ] && [ -r "$D/status" ] && command -v awk >/dev/null 2>&1; then
      awk -v w=${quote(` ${pkgs.join(' ')} `)} ${quote(DPKG_STATUS_AWK)} "$D/status"
    else dpkg-query -W -f='pkgdeb\\t\${Package}\\t\${Status}\\t\${Version}\\n' ${w} 2>/dev/null; fi;;
  rpm) rpm -q --qf 'pkgrpm\\t%{NAME}\\t%{VERSION}-%{RELEASE}\\n' ${w} 2>/dev/null;;
esac`;
}

/**
 * systemd's system unit load path (`systemd-analyze unit-paths`, systemd 252 on Debian 12:
 * test/fixtures/upstream/systemd/unit-paths.json). A directory a host's systemd does not search only
 * makes the probe ask systemctl as it did before; a directory missing here would skip a unit that exists.
 */
export const UNIT_LOAD_PATH: readonly string[] = [
  '/etc/systemd/system.control',
  '/run/systemd/system.control',
  '/run/systemd/transient',
  '/run/systemd/generator.early',
  '/etc/systemd/system',
  '/etc/systemd/system.attached',
  '/run/systemd/system',
  '/run/systemd/system.attached',
  '/run/systemd/generator',
  '/usr/local/lib/systemd/system',
  '/lib/systemd/system',
  '/usr/lib/systemd/system',
  '/run/systemd/generator.late',
];

/** Where SysV init scripts live (systemctl answers is-enabled for them through systemd-sysv-install). */
export const SYSV_DIRS: readonly string[] = ['/etc/init.d', '/etc/rc.d/init.d'];

/** Where a unit file makes `unitExists` (the system unit directories of Debian and RHEL). */
export const UNIT_DIRS: readonly string[] = [
  '/etc/systemd/system',
  '/lib/systemd/system',
  '/usr/lib/systemd/system',
];

/**
 * Services in two systemctl calls: `is-active a b c` for all, `is-enabled` for those with a unit file
 * (a unit without one is asked alone: systemctl stops at the first unit whose file state it cannot read,
 * and answers for a SysV-only service ahead of the others). Each prints one line per unit, in order, and
 * exits non-zero when any is not active/enabled, so the lines are read, not the exit code. A batch whose
 * line count is not one per unit (an error on stderr instead of a line, no systemd) is not used: its
 * units are asked one by one, as before batching, unless it printed nothing at all (no systemd to
 * answer: each unit alone would print nothing either). Prints `svc NAME ACTIVE-STATE ENABLED-STATE UNITFILE`,
 * "-" for a state systemctl did not print.
 *
 * A unit systemd cannot know is not asked alone: no file or link of its name in any directory of
 * systemd's unit load path (`loadPath`, SYSTEMD_UNIT_PATH unset) and no SysV script of its name
 * (`sysvDirs`). systemctl would only print an error there (nothing on stdout, exit 1; systemd 252:
 * test/fixtures/upstream/systemd/), so its states are "-" without the call (15 to 20 ms of CPU each).
 */
export function servicesSnippet(
  units: string[],
  unitDirs: readonly string[] = UNIT_DIRS,
  loadPath: readonly string[] = UNIT_LOAD_PATH,
  sysvDirs: readonly string[] = SYSV_DIRS,
): string {
  const w = words(units);
  const dirs = words([...unitDirs]);
  const known = words([...new Set([...loadPath, ...unitDirs])]);
  const sysv = words([...sysvDirs]);
  return `nl='
'
sd=; command -v systemctl >/dev/null 2>&1 && sd=1
uf() { for d in ${dirs}; do [ -f "$d/$1.service" ] || [ -f "$d/$1" ] && return 0; done; return 1; }
uk() { [ -n "\${SYSTEMD_UNIT_PATH+x}" ] && return 0; for d in ${known}; do for f in "$d/$1.service" "$d/$1"; do [ -e "$f" ] || [ -h "$f" ] && return 0; done; done; for d in ${sysv}; do [ -e "$d/$1" ] || [ -h "$d/$1" ] && return 0; done; return 1; }
nlines() { c=0; r=$1; while [ -n "$r" ]; do c=$((c+1)); case $r in *"$nl"*) r=\${r#*"$nl"};; *) r=;; esac; done; [ "$c" -eq "$2" ]; }
us=; set --
for s in ${w}; do if uf "$s"; then us=\${us}1; set -- "$@" "$s"; else us=\${us}0; fi; done
A=; E=; ba=; be=
if [ -n "$sd" ]; then
  A=$(systemctl is-active ${w} 2>/dev/null); nlines "$A" ${units.length} && ba=1; [ -n "$A" ] || ba=0
  if [ $# -gt 0 ]; then E=$(systemctl is-enabled "$@" 2>/dev/null); nlines "$E" $# && be=1; fi
fi
for s in ${w}; do
  u=\${us%"\${us#?}"}; us=\${us#?}; a=; e=
  if [ "$ba" = 0 ]; then a=
  elif [ -n "$ba" ]; then a=\${A%%"$nl"*}; A=\${A#"$a"}; A=\${A#"$nl"}
  elif [ -n "$sd" ]; then a=$(systemctl is-active "$s" 2>/dev/null); a=\${a%%"$nl"*}; fi
  if [ -n "$be" ] && [ "$u" = 1 ]; then e=\${E%%"$nl"*}; E=\${E#"$e"}; E=\${E#"$nl"}
  elif [ -n "$sd" ] && uk "$s"; then e=$(systemctl is-enabled "$s" 2>/dev/null); e=\${e%%"$nl"*}; fi
  printf 'svc\\t%s %s %s %s\\n' "$s" "\${a:--}" "\${e:--}" "$u"
done`;
}

/** The name /sys/module and /proc/modules use: dashes as underscores. */
export function moduleName(m: string): string {
  return m.replace(/-/g, '_');
}

/**
 * Processes by name: the comm of every /proc/PID read by the shell (pgrep -x matches the same name),
 * no process of its own.
 */
function processesSnippet(names: string[]): string {
  return `for p in /proc/[0-9]*; do c=; read -r c < "$p/comm" || continue
  case $c in ${names.map((n) => quote(n)).join('|')}) printf 'pid\\t%s %s\\n' "\${p#/proc/}" "$c";; esac
done`;
}

/**
 * Where a requested path's free space is read: its nearest existing ancestor (dirname in shell
 * parameter expansion, no process), then ONE `df -Pm` for all.
 */
function diskSnippet(paths: string[]): string {
  return `set --
for p in ${words(paths)}; do q=$p; while [ ! -e "$q" ] && [ "$q" != / ]; do q=\${q%/*}; [ -n "$q" ] || q=/; done; set -- "$@" "$q"; done
${rawBlock('df', 'df -Pm "$@"')}`;
}

export const requestedFacts: FactModule<RequestedFacts> = {
  name: 'requested',
  reads: (r: Required<ProbeRequest>) => [
    '/proc/modules',
    ...Object.values(r.texts).map((t) => word(t)),
    ...r.modules.flatMap((m) => {
      const s = quote(`/sys/module/${moduleName(m)}`);
      return [`${s}/initstate`, `${s}/refcnt`, `${s}/parameters/*`];
    }),
  ],
  snippet: (r: Required<ProbeRequest>) => {
    const parts: string[] = [];
    parts.push(`printf 'nofile\\t'; ulimit -n`);
    if (r.modules.length) {
      // modinfo names each module it cannot find on stderr; the others are available
      parts.push(
        `command -v modinfo >/dev/null 2>&1 && { ${rawBlock('modinfo', `modinfo -F filename ${words(r.modules)} 2>&1 >/dev/null`)}; }`,
      );
      for (const m of [...new Set(r.modules.map(moduleName))])
        parts.push(`[ -d ${quote(`/sys/module/${m}`)} ] && printf 'modsys\\t%s\\n' ${quote(m)}`);
    }
    if (r.commands.length)
      parts.push(
        `for c in ${words(r.commands)}; do printf 'cmd\\t%s ' "$c"; command -v "$c" 2>/dev/null || echo; done`,
      );
    if (r.packages.length) parts.push(packagesSnippet(r.packages));
    if (r.diskPaths.length) parts.push(diskSnippet(r.diskPaths));
    if (r.services.length) parts.push(servicesSnippet(r.services));
    if (r.processes.length) parts.push(processesSnippet(r.processes));
    Object.values(r.listings).forEach((l, i) =>
      parts.push(
        `d=${word(l.dir)}; [ -d "$d" ] && { printf 'ls\\t%s\\n' ${i}; for e in "$d"/*; do [ -e "$e" ] || [ -h "$e" ] || continue; printf 'lse\\t%s\\t%s\\n' ${i} "\${e##*/}"; done; }`,
      ),
    );
    return parts.join('\n');
  },
  blob: (r: Required<ProbeRequest>) =>
    filesBlob(r.files, digestPaths(r), presentPaths(r)) + execsBlob(r.execs),
  parse(rawText, ctx) {
    const text = ctx ? legacyLines(rawText, ctx) : rawText;
    const mods = new Map<string, ModuleFacts>();
    const out: RequestedFacts = {
      modules: [],
      modulesAvailable: [],
      limits: { nofile: 0 },
      commands: {},
      packages: {},
      files: {},
      diskFreeMb: {},
      services: {},
      outputs: {},
      processes: {},
    };
    for (const [k, v] of kvLines(text)) {
      const sp = v.indexOf(' ');
      const head = sp < 0 ? v : v.slice(0, sp);
      const rest = sp < 0 ? '' : v.slice(sp + 1);
      switch (k) {
        case 'nofile':
          out.limits.nofile = v === 'unlimited' ? Number.MAX_SAFE_INTEGER : int(v);
          break;
        case 'mod':
          mods.set(head, { name: head, params: {}, refcount: int(rest) });
          break;
        case 'modparam': {
          const [mod, param, ...value] = v.split(' ');
          if (mod === undefined || param === undefined) break;
          let m = mods.get(mod);
          if (!m) {
            // built-in modules have /sys/module entries without a /proc/modules line
            m = { name: mod, params: {}, refcount: 0, builtin: true };
            mods.set(mod, m);
          }
          m.params[param] = value.join(' ');
          break;
        }
        case 'modsys':
          if (!mods.has(v)) {
            mods.set(v, { name: v, params: {}, refcount: 0, builtin: true });
          }
          break;
        case 'modlive': {
          // a loadable module (initstate exists) that is live, also where /proc/modules is unreadable
          const m = mods.get(head);
          if (!m || m.builtin) mods.set(head, { name: head, params: m?.params ?? {}, refcount: int(rest) });
          break;
        }
        case 'modavail':
          out.modulesAvailable.push(v);
          break;
        case 'cmd':
          out.commands[head] = rest || null;
          break;
        case 'pkgwant':
          if (!(v in out.packages)) out.packages[v] = null;
          break;
        case 'pkgdeb': {
          // one line per package dpkg knows. Its Status is "WANT EFLAG STATE" (dpkg-query(1), dpkg 1.21 on
          // Debian 12: the selection state, the error flag, the package state): a package is installed when
          // its state is "installed" with no error, selected to stay ("install") or held at its version
          // ("hold", apt-mark hold: still installed). "deinstall"/"purge" (selected for removal) and every
          // other state read as not installed, so the packages task asks for it again.
          const [name, status, version] = v.split('\t');
          if (name && DPKG_INSTALLED.has(status ?? '') && !out.packages[name])
            out.packages[name] = version || null;
          break;
        }
        case 'pkgrpm': {
          // one line per installed package (several for installonly packages: the first is kept)
          const [name, version] = v.split('\t');
          if (name && !out.packages[name]) out.packages[name] = version || null;
          break;
        }
        case 'file': {
          const [path, mode, sha, content] = v.split('\t');
          const f: FileFacts = {
            exists: true,
            mode: mode ? mode.padStart(4, '0') : null,
            sha256: sha || null,
            content: content
              ? fromB64(content)
              : sha === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
                ? ''
                : null,
          };
          out.files[fromB64(path ?? '')] = f;
          break;
        }
        case 'missing':
          out.files[fromB64(v)] = { exists: false, mode: null, sha256: null, content: null };
          break;
        case 'disk':
          out.diskFreeMb[head] = int(rest);
          break;
        case 'svc': {
          const [name, a, e, u] = v.split(' ');
          out.services[name ?? ''] = {
            active: ACTIVE_STATES.has(a ?? ''),
            enabled: ENABLED_STATES.has(e ?? ''),
            unitExists: u === '1',
          };
          break;
        }
        case 'proc':
          out.processes[head] = rest
            .split(' ')
            .filter(Boolean)
            .map((x) => int(x));
          break;
        case 'out': {
          const [key, code, b64] = v.split('\t');
          out.outputs[key ?? ''] = { code: int(code), stdout: fromB64(b64 ?? '') };
          break;
        }
      }
    }
    out.modules = [...mods.values()];
    if (ctx) {
      const expand = (p: string): string => onKernel(p, ctx.release);
      out.files = parseFiles(
        ctx.request.files.map(expand),
        ctx.blob,
        digestPaths(ctx.request).map(expand),
        presentPaths(ctx.request).map(expand),
      );
      Object.assign(out.outputs, hashOutputs(ctx.request.hashes, out.files, expand));
      Object.assign(out.outputs, parseListings(rawText, ctx.request.listings));
      for (const [key, path] of Object.entries(ctx.request.texts)) {
        const lines = ctx.reads.get(expand(path));
        out.outputs[key] = lines ? { code: 0, stdout: lines.join('\n') } : { code: 1, stdout: '' };
      }
      for (const [k, part] of ctx.blob)
        if (k.startsWith('out:'))
          out.outputs[k.slice(4)] = {
            code: part.code,
            stdout: part.bytes.toString('utf8').replace(/\n+$/, ''),
          };
    }
    return out;
  },
};

/** Content is read for files up to this size (the rest get sha256 and mode only). */
const HEAD = MAX_CONTENT + 1;

/** Paths whose size stat cannot tell (the kernel's own files): no content from the blob. */
function sizeless(path: string): boolean {
  return /^\/(proc|sys)\//.test(path);
}

/**
 * Every requested file in three processes whatever their number: ONE `stat -L` (mode, size; a path
 * it answers for exists), ONE `sha256sum` over the readable regular ones and ONE `head -v -c` over
 * those of them whose content is wanted (`files`, not `digests`), all inside the blob (encoded once).
 * `head` frames each file with "==> PATH <==" and the sizes from stat say where each content ends, so
 * no content can be mistaken for a frame.
 */
export function filesBlob(
  files: string[],
  digests: readonly string[] = [],
  present: readonly string[] = [],
): string {
  const all = [...files, ...digests];
  const stated = [...all, ...present];
  if (!stated.length) return '';
  for (const f of stated)
    if (f.includes('\n')) throw new Error(`a probed path cannot contain a newline: ${JSON.stringify(f)}`);
  // the readable regular files among `paths`, as the positional parameters
  const readable = (paths: readonly string[]): string =>
    ['set --', ...paths.map((f) => `f=${word(f)}; [ -f "$f" ] && [ -r "$f" ] && set -- "$@" "$f"`)].join(
      '\n',
    );
  const heads = files.filter((f) => !sizeless(f));
  return [
    '',
    readable(all),
    blobPart('stat', `stat -L -c '%a %s %n' -- ${words(stated)}`),
    `[ $# -gt 0 ] && { ${blobPart('sha', 'sha256sum -- "$@"')}; }`,
    ...(heads.length
      ? [readable(heads), `[ $# -gt 0 ] && { ${blobPart('head', `head -v -c ${HEAD} -- "$@"`)}; }`]
      : []),
    '',
  ].join('\n');
}

/** The digests and every path `hashes` names that is not a file or a digest already, each once. */
export function digestPaths(r: Pick<Required<ProbeRequest>, 'files' | 'digests' | 'hashes'>): string[] {
  const seen = new Set([...r.files, ...r.digests]);
  const out = [...r.digests];
  for (const p of Object.values(r.hashes).flat())
    if (!seen.has(p)) {
      seen.add(p);
      out.push(p);
    }
  return out;
}

/** The `present` paths that are not read more fully as files or digests. */
export function presentPaths(
  r: Pick<Required<ProbeRequest>, 'files' | 'digests' | 'hashes' | 'present'>,
): string[] {
  const more = new Set([...r.files, ...digestPaths(r)]);
  return r.present.filter((p) => !more.has(p));
}

/** Each `hashes` key's reading, as `sha256sum -- PATH...` prints it, from the files the probe hashed. */
export function hashOutputs(
  hashes: Record<string, string[]>,
  files: Record<string, FileFacts>,
  expand: (p: string) => string,
): Record<string, RawOutput> {
  const out: Record<string, RawOutput> = {};
  for (const [key, paths] of Object.entries(hashes)) {
    const lines: string[] = [];
    let code = 0;
    for (const p of paths.map(expand)) {
      const h = files[p]?.sha256;
      if (h) lines.push(`${h}  ${p}`);
      else code = 1;
    }
    out[key] = { code, stdout: lines.length ? `${lines.join('\n')}\n` : '' };
  }
  return out;
}

/**
 * Commands as argv: run in the blob's own process (no subshell: argv cannot exit or cd), each only
 * when its program is there (`command -v`, a builtin), so a missing one costs no process.
 */
export function execsBlob(execs: Record<string, string[] | Exec>): string {
  return Object.entries(execs)
    .map(([key, e]) => {
      const x: Exec = Array.isArray(e) ? { argv: e } : e;
      if (!x.argv.length) throw new Error(`probe exec ${key}: empty argv`);
      const k = quote(`out:${key}`);
      const other = x.otherwise ?? { code: 1, stdout: '' };
      const skip = (o: { code: number; stdout: string }) =>
        `printf '%s begin %s\\n%s\\n%s end %s\\n' "$N" ${k} ${quote(o.stdout)} "$N" ${o.code}`;
      const run = `if command -v ${word(x.argv[0] ?? '')} >/dev/null 2>&1; then ${blobPart(`out:${key}`, `${words(x.argv)} ${x.stderr === false ? '2>/dev/null' : '2>&1'}`)}; else ${skip({ code: 127, stdout: '' })}; fi`;
      const gated = x.onlyIf
        ? `if [ -e ${word(x.onlyIf)} ] || [ -h ${word(x.onlyIf)} ]; then ${run}; else ${skip(other)}; fi`
        : run;
      if (!x.unless) return `\n${gated}`;
      return `\nif [ -e ${word(x.unless)} ]; then ${skip(other)}; else ${gated}; fi`;
    })
    .join('');
}

const EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** sha256sum's line: "HASH  PATH", or "\HASH  PATH-ESCAPED" for a name with a backslash or newline. */
export function shaLine(line: string): [string, string] | null {
  const esc = line.startsWith('\\');
  const m = /^([0-9a-f]{64}) [ *](.*)$/.exec(esc ? line.slice(1) : line);
  if (!m?.[1]) return null;
  const name = esc ? (m[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) : (m[2] ?? '');
  return [name, m[1]];
}

export function parseFiles(
  files: string[],
  blob: ParseContext['blob'],
  digests: readonly string[] = [],
  present: readonly string[] = [],
): Record<string, FileFacts> {
  const stat = new Map<string, { mode: string; size: number }>();
  for (const line of (blob.get('stat')?.bytes.toString('utf8') ?? '').split('\n')) {
    const m = /^([0-7]+) ([0-9]+) (.*)$/.exec(line);
    if (m?.[1] && m[3] !== undefined) stat.set(m[3], { mode: m[1].padStart(4, '0'), size: int(m[2]) });
  }
  const sha = new Map<string, string>();
  for (const line of (blob.get('sha')?.bytes.toString('utf8') ?? '').split('\n')) {
    const s = shaLine(line);
    if (s) sha.set(s[0], s[1]);
  }
  const content = new Map<string, string | null>();
  const head = blob.get('head')?.bytes;
  if (head) {
    let pos = 0;
    for (const f of files) {
      // head framed exactly the readable regular files sha256sum read (the same shell test)
      if (sizeless(f) || !sha.has(f)) continue;
      const frame = Buffer.from(`${pos === 0 ? '' : '\n'}==> ${f} <==\n`);
      const size = stat.get(f)?.size;
      if (size === undefined || !head.subarray(pos, pos + frame.length).equals(frame))
        throw new Error(`probe: ${f} changed while the probe read it; run again`);
      pos += frame.length;
      const n = Math.min(size, HEAD);
      if (pos + n > head.length) throw new Error(`probe: ${f} shrank while the probe read it; run again`);
      content.set(f, size <= MAX_CONTENT ? head.subarray(pos, pos + n).toString('utf8') : null);
      pos += n;
    }
  }
  const out: Record<string, FileFacts> = {};
  const digest = new Set(digests);
  for (const f of [...files, ...digests, ...present]) {
    const st = stat.get(f);
    if (!st) {
      out[f] = { exists: false, mode: null, sha256: null, content: null };
      continue;
    }
    const h = sha.get(f) ?? null;
    out[f] = {
      exists: true,
      mode: st.mode,
      sha256: h,
      content: digest.has(f) ? null : (content.get(f) ?? (h === EMPTY_SHA ? '' : null)),
    };
  }
  return out;
}

/** Module lines in the order the per-item loop printed them: modavail, modsys, modlive, modparam. */
function moduleLines(text: string, ctx: ParseContext): string[] {
  const { reads, request } = ctx;
  const out: string[] = [];
  for (const line of reads.get('/proc/modules') ?? []) {
    const f = line.split(' ');
    if (f[0]) out.push(`mod\t${f[0]} ${f[2] ?? ''}`);
  }
  const { lines, blocks } = rawBlocks(text);
  const modinfo = blocks.find(([n]) => n === 'modinfo')?.[1];
  const missing = new Set<string>();
  for (const l of modinfo ?? []) {
    const m = /Module (\S+) not found/.exec(l) ?? /'([^']+)'/.exec(l);
    if (m?.[1]) missing.add(m[1]);
  }
  const sys = new Set(lines.filter(([k]) => k === 'modsys').map(([, v]) => v));
  for (const m of request.modules) {
    const s = moduleName(m);
    const dir = `/sys/module/${s}`;
    if (modinfo && !missing.has(m)) out.push(`modavail\t${m}`);
    if (sys.has(s)) out.push(`modsys\t${s}`);
    if (reads.has(`${dir}/initstate`)) out.push(`modlive\t${s} ${first(reads, `${dir}/refcnt`) || '0'}`);
    for (const [p, v] of reads)
      if (p.startsWith(`${dir}/parameters/`) && !p.slice(dir.length + 12).includes('/'))
        out.push(`modparam\t${s} ${p.slice(dir.length + 12)} ${(v[0] ?? '').slice(0, 200)}`);
  }
  return out;
}

/** The line protocol the parser reads, from this module's section and the probe's shared reads. */
function legacyLines(text: string, ctx: ParseContext): string {
  const { lines, blocks } = rawBlocks(text);
  const out = lines
    .filter(([k]) => k !== 'modsys' && k !== 'pid' && k !== 'ls' && k !== 'lse')
    .map(([k, v]) => `${k}\t${v}`);
  out.push(...moduleLines(text, ctx));
  const df = blocks.find(([n]) => n === 'df')?.[1].slice(1) ?? [];
  ctx.request.diskPaths.forEach((p, i) => {
    const free = df.length === ctx.request.diskPaths.length ? (df[i]?.split(/\s+/)[3] ?? '') : '';
    out.push(`disk\t${p} ${free}`);
  });
  const pids = new Map<string, string[]>();
  for (const [k, v] of lines) {
    const sp = v.indexOf(' ');
    if (k === 'pid' && sp > 0)
      pids.set(v.slice(sp + 1), [...(pids.get(v.slice(sp + 1)) ?? []), v.slice(0, sp)]);
  }
  for (const l of pids.values()) l.sort((a, b) => int(a) - int(b));
  for (const p of ctx.request.processes) out.push(`proc\t${p} ${(pids.get(p) ?? []).join(' ')}`);
  return out.join('\n');
}

/** Each listing as `ls -1` printed it (byte order, the excluded suffixes left out). */
function parseListings(text: string, listings: Record<string, Listing>): RequestedFacts['outputs'] {
  const seen = new Set<string>();
  const names = new Map<string, string[]>();
  for (const [k, v] of kvLines(text)) {
    if (k === 'ls') seen.add(v);
    else if (k === 'lse') {
      const t = v.indexOf('\t');
      const i = v.slice(0, t);
      names.set(i, [...(names.get(i) ?? []), v.slice(t + 1)]);
    }
  }
  const out: RequestedFacts['outputs'] = {};
  Object.entries(listings).forEach(([key, l], i) => {
    if (!seen.has(String(i))) {
      out[key] = { code: 2, stdout: '' };
      return;
    }
    const keep = (names.get(String(i)) ?? [])
      .filter((n) => !(l.exclude ?? []).some((x) => n.endsWith(x)))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    out[key] = { code: 0, stdout: keep.join('\n') };
  });
  return out;
}
