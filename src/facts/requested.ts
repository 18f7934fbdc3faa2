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
    if (r.packages.length)
      // The package database is the OS family's own (os-release ID/ID_LIKE), not whichever tool is on
      // PATH: Debian can carry rpm (alien) and RHEL can carry dpkg (EPEL).
      parts.push(`pm=; if command -v rpm >/dev/null 2>&1 && grep -qiE '^(ID|ID_LIKE)=.*(rhel|fedora|centos|suse)' /etc/os-release 2>/dev/null; then pm=rpm
elif command -v dpkg-query >/dev/null 2>&1; then pm=dpkg; elif command -v rpm >/dev/null 2>&1; then pm=rpm; fi
for p in ${words(r.packages)}; do
  case $pm in dpkg) v=$(dpkg-query -W -f='\${Status} \${Version}' "$p" 2>/dev/null | sed -n 's/^install ok installed //p');;
  rpm) v=$(rpm -q --qf '%{VERSION}-%{RELEASE}' "$p" 2>/dev/null) || v=;; *) v=;; esac
  printf 'pkg\\t%s %s\\n' "$p" "$v"; done`);
    for (const f of r.files)
      parts.push(
        `f=${quote(f)}; if [ -e "$f" ]; then printf 'file\\t%s\\t%s\\t%s\\t' "$(printf %s "$f" | base64 | tr -d '\\n')" "$(stat -c %a "$f" 2>/dev/null)" "$(sha256sum < "$f" 2>/dev/null | cut -d' ' -f1)"; if [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -le ${MAX_CONTENT} ] && [ -f "$f" ]; then base64 < "$f" | tr -d '\\n'; fi; echo; else printf 'missing\\t%s\\n' "$(printf %s "$f" | base64 | tr -d '\\n')"; fi`,
      );
    if (r.diskPaths.length)
      parts.push(
        `for p in ${words(r.diskPaths)}; do q=$p; while [ ! -e "$q" ] && [ "$q" != / ]; do q=$(dirname "$q"); done; printf 'disk\\t%s %s\\n' "$p" "$(df -Pm "$q" 2>/dev/null | awk 'NR==2{print $4}')"; done`,
      );
    if (r.services.length)
      parts.push(
        `for s in ${words(r.services)}; do a=0; e=0; u=0; systemctl is-active --quiet "$s" 2>/dev/null && a=1; systemctl is-enabled --quiet "$s" 2>/dev/null && e=1; for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do [ -f "$d/$s.service" ] || [ -f "$d/$s" ] && u=1; done; printf 'svc\\t%s %s %s %s\\n' "$s" $a $e $u; done`,
      );
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
        case 'pkg':
          out.packages[head] = rest || null;
          break;
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
          out.services[name ?? ''] = { active: a === '1', enabled: e === '1', unitExists: u === '1' };
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
