/**
 * Facts the tasks ask for by name (ProbeRequest): modules, commands, packages, files, disk space,
 * services, processes and the outputs of read-only commands. Contents and outputs travel base64-encoded,
 * so no text can be mistaken for the probe's own markers.
 */
import type { Facts, FileFacts, ModuleFacts, ProbeRequest } from './types.js';
import { type FactModule, fromB64, int, kvLines } from './section.js';
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

function words(list: string[]): string {
  return list.map((x) => quote(x)).join(' ');
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
 * Every requested package in ONE query of the OS family's own package database (os-release ID/ID_LIKE),
 * not whichever tool is on PATH: Debian can carry rpm (alien) and RHEL can carry dpkg (EPEL). Prints a
 * `pkgwant` line per requested name, then the database's lines: dpkg-query one per package it knows (in
 * its own order; "no packages found" goes to stderr), rpm one per installed package ("package X is not
 * installed" has no tab and is ignored). Lines are matched to requests by package name: the requests are
 * plain package names (packages.ts), no versions, architectures or globs.
 */
export function packagesSnippet(pkgs: string[]): string {
  const w = words(pkgs);
  return `pm=; if command -v rpm >/dev/null 2>&1 && grep -qiE '^(ID|ID_LIKE)=.*(rhel|fedora|centos|suse)' /etc/os-release 2>/dev/null; then pm=rpm
elif command -v dpkg-query >/dev/null 2>&1; then pm=dpkg; elif command -v rpm >/dev/null 2>&1; then pm=rpm; fi
printf 'pkgwant\\t%s\\n' ${w}
case $pm in
  dpkg) dpkg-query -W -f='pkgdeb\\t\${Package}\\t\${Status}\\t\${Version}\\n' ${w} 2>/dev/null;;
  rpm) rpm -q --qf 'pkgrpm\\t%{NAME}\\t%{VERSION}-%{RELEASE}\\n' ${w} 2>/dev/null;;
esac`;
}

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
 * units are asked one by one, as before batching. Prints `svc NAME ACTIVE-STATE ENABLED-STATE UNITFILE`,
 * "-" for a state systemctl did not print.
 */
export function servicesSnippet(units: string[], unitDirs: readonly string[] = UNIT_DIRS): string {
  const w = words(units);
  const dirs = words([...unitDirs]);
  return `nl='
'
sd=; command -v systemctl >/dev/null 2>&1 && sd=1
uf() { for d in ${dirs}; do [ -f "$d/$1.service" ] || [ -f "$d/$1" ] && return 0; done; return 1; }
nlines() { c=0; r=$1; while [ -n "$r" ]; do c=$((c+1)); case $r in *"$nl"*) r=\${r#*"$nl"};; *) r=;; esac; done; [ "$c" -eq "$2" ]; }
us=; set --
for s in ${w}; do if uf "$s"; then us=\${us}1; set -- "$@" "$s"; else us=\${us}0; fi; done
A=; E=; ba=; be=
if [ -n "$sd" ]; then
  A=$(systemctl is-active ${w} 2>/dev/null); nlines "$A" ${units.length} && ba=1
  if [ $# -gt 0 ]; then E=$(systemctl is-enabled "$@" 2>/dev/null); nlines "$E" $# && be=1; fi
fi
for s in ${w}; do
  u=\${us%"\${us#?}"}; us=\${us#?}; a=; e=
  if [ -n "$ba" ]; then a=\${A%%"$nl"*}; A=\${A#"$a"}; A=\${A#"$nl"}
  elif [ -n "$sd" ]; then a=$(systemctl is-active "$s" 2>/dev/null); a=\${a%%"$nl"*}; fi
  if [ -n "$be" ] && [ "$u" = 1 ]; then e=\${E%%"$nl"*}; E=\${E#"$e"}; E=\${E#"$nl"}
  elif [ -n "$sd" ]; then e=$(systemctl is-enabled "$s" 2>/dev/null); e=\${e%%"$nl"*}; fi
  printf 'svc\\t%s %s %s %s\\n' "$s" "\${a:--}" "\${e:--}" "$u"
done`;
}

export const requestedFacts: FactModule<RequestedFacts> = {
  name: 'requested',
  snippet: (r: Required<ProbeRequest>) => {
    const parts: string[] = [];
    parts.push(`printf 'nofile\\t%s\\n' "$(ulimit -n)"`);
    parts.push(`[ -r /proc/modules ] && awk '{ printf "mod\\t%s %s\\n", $1, $3 }' /proc/modules`);
    if (r.modules.length)
      parts.push(`for m in ${words(r.modules)}; do
  modinfo -F filename "$m" >/dev/null 2>&1 && printf 'modavail\\t%s\\n' "$m"
  s=/sys/module/$(printf %s "$m" | tr - _)
  [ -d "$s" ] && printf 'modsys\\t%s\\n' "\${s##*/}"
  [ -r "$s/initstate" ] && printf 'modlive\\t%s %s\\n' "\${s##*/}" "$(cat "$s/refcnt" 2>/dev/null || echo 0)"
  for p in "$s"/parameters/*; do [ -r "$p" ] && printf 'modparam\\t%s %s %s\\n' "\${s##*/}" "\${p##*/}" "$(head -c 200 "$p" 2>/dev/null)"; done
done`);
    if (r.commands.length)
      parts.push(
        `for c in ${words(r.commands)}; do printf 'cmd\\t%s %s\\n' "$c" "$(command -v "$c" 2>/dev/null)"; done`,
      );
    if (r.packages.length) parts.push(packagesSnippet(r.packages));
    for (const f of r.files)
      parts.push(
        `f=${quote(f)}; if [ -e "$f" ]; then printf 'file\\t%s\\t%s\\t%s\\t' "$(printf %s "$f" | base64 | tr -d '\\n')" "$(stat -c %a "$f" 2>/dev/null)" "$(sha256sum < "$f" 2>/dev/null | cut -d' ' -f1)"; if [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -le ${MAX_CONTENT} ] && [ -f "$f" ]; then base64 < "$f" | tr -d '\\n'; fi; echo; else printf 'missing\\t%s\\n' "$(printf %s "$f" | base64 | tr -d '\\n')"; fi`,
      );
    if (r.diskPaths.length)
      parts.push(
        `for p in ${words(r.diskPaths)}; do q=$p; while [ ! -e "$q" ] && [ "$q" != / ]; do q=$(dirname "$q"); done; printf 'disk\\t%s %s\\n' "$p" "$(df -Pm "$q" 2>/dev/null | awk 'NR==2{print $4}')"; done`,
      );
    if (r.services.length) parts.push(servicesSnippet(r.services));
    if (r.processes.length)
      parts.push(
        `for p in ${words(r.processes)}; do printf 'proc\\t%s %s\\n' "$p" "$(pgrep -x "$p" 2>/dev/null | tr '\\n' ' ')"; done`,
      );
    for (const [key, cmd] of Object.entries(r.outputs))
      parts.push(
        `o=$( (${cmd}) 2>&1 ); c=$?; printf 'out\\t%s\\t%s\\t%s\\n' ${quote(key)} $c "$(printf %s "$o" | base64 | tr -d '\\n')"`,
      );
    return parts.join('\n');
  },
  parse(text) {
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
          // one line per package dpkg knows; only an installed one ("install ok installed") has a version
          const [name, status, version] = v.split('\t');
          if (name && status === 'install ok installed' && !out.packages[name])
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
    return out;
  },
};
