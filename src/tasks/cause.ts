/**
 * Failure causes, found on the host in the same exec as the failure and printed as one `cause: ...`
 * line: the failure's headline leads with it (errors.ts CommandError), instead of naming the command.
 *
 * - builds: the first error line of the build's log, or the tool's own diagnosis where it knows the
 *   way out (a known compiler/OpenSSL error of DPVS 1.9.10, a library the link cannot find);
 * - dpvs at start: the line of the unit's journal that says why dpvs stopped (DPDK's `PANIC in f():`
 *   with the line after it, an `EAL:` error, a `Cannot ...` line, rte_exit's `Cause:`), else systemd's
 *   own "Main process exited, code=..., status=..." line.
 *
 * Pure text; every value quoted (transport/quote.ts). The shell is portable (POSIX sh, any awk).
 */
import { quote, sh } from '../transport/quote.js';

/** The marker a `cause:` line starts with (errors.ts reads it). */
export const CAUSE_PREFIX = 'cause: ';

/**
 * awk over a unit's journal (journalctl's short format, or bare lines): the cause of the last exit of
 * the unit's main or control process, from the lines of that attempt (after the last "Starting" or
 * "Scheduled restart job" before the exit). Prints nothing when the journal has no such line.
 */
const JOURNAL_CAUSE_AWK = [
  '{ m = $0; sys = (m ~ /systemd\\[1\\]: /)',
  '  sub(/^[A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [^ ]+ [^ ]+: /, "", m)',
  '  sub(/^[ \\t]+/, "", m); n++; L[n] = m; S[n] = sys',
  '  if (sys && m ~ /Main process exited|Control process exited|Failed to execute/) e = n }',
  'END {',
  '  if (!n) exit; if (!e) e = n; b = 0',
  '  for (i = 1; i < e; i++) if (S[i] && L[i] ~ /Starting |Scheduled restart job/) b = i',
  '  best = ""; cls = 9',
  '  for (i = b + 1; i <= e; i++) { m = L[i]; c = 9',
  '    if (m ~ /PANIC in /) { c = 1; if (i < n && !S[i + 1]) m = m " " L[i + 1] }',
  '    else if (S[i]) { if (i == e) c = 5 }',
  '    else if (m ~ /exiting with code/) c = 9',
  '    else if (m ~ /EAL: / && m ~ /Cannot|cannot|[Ee]rror|[Ff]ail/) c = 2',
  '    else if (m ~ /Cannot |cannot |[Ee]rror|[Ff]ailed|FAIL|No such |denied/) c = 3',
  '    else if (m ~ /Cause: /) c = 4',
  '    if (c < cls) { cls = c; best = m } }',
  '  if (best != "") print substr(best, 1, 300) }',
].join('\n');

/** Shell printing `cause: <line>` from the unit's journal (nothing when it has none). */
export function journalCauseCommand(unit: string, lines = 200): string {
  return (
    sh`c=$(journalctl -u ${unit} -n ${lines} --no-pager 2>/dev/null | awk ${JOURNAL_CAUSE_AWK}); ` +
    `[ -z "$c" ] || printf '${CAUSE_PREFIX}%s\\n' "$c"`
  );
}

/**
 * `systemctl start|restart UNIT`, and when it fails, the journal's cause on stderr (same exec), so the
 * failure's headline names it rather than the command.
 */
export function unitStartCommand(verb: 'start' | 'restart', unit: string): string {
  return sh`systemctl ${verb} ${unit}` + ` || { rc=$?; { ${journalCauseCommand(unit)}; } >&2; exit $rc; }`;
}

/** The exit code of unitGoneCommand when the unit's main process exited or restarted. */
export const UNIT_GONE_EXIT = 86;

/**
 * Exits UNIT_GONE_EXIT, after printing the journal's cause and the unit's state, when the unit's main
 * process has exited or restarted since it was (re)started; 0 otherwise. systemd's properties
 * (`systemctl show`, org.freedesktop.systemd1(5)): ActiveState failed/inactive/deactivating, or
 * activating with SubState auto-restart (the main process exited, a restart is scheduled), or NRestarts
 * above 0 (systemd flushes the counter on a start that is not an automatic restart: src/core/service.c
 * service_enter_dead sets flush_n_restarts, service_start resets n_restarts). ExecMainCode/Status say
 * how the last main process ended (1 exited, 2 killed, 3 dumped; its status or signal).
 */
export function unitGoneCommand(unit: string): string {
  const props = ['ActiveState', 'SubState', 'NRestarts', 'ExecMainCode', 'ExecMainStatus', 'MainPID'];
  return [
    sh`p=$(systemctl show ${unit} ${props.flatMap((x) => ['-p', x])} 2>/dev/null); a=; s=; nr=0; ec=; es=`,
    'for kv in $p; do case $kv in ActiveState=*) a=${kv#*=};; SubState=*) s=${kv#*=};; NRestarts=*) nr=${kv#*=};; ExecMainCode=*) ec=${kv#*=};; ExecMainStatus=*) es=${kv#*=};; esac; done',
    'g=',
    'case $a in failed|inactive|deactivating) g="is $a ($s)";; activating) [ "$s" != auto-restart ] || g="is waiting to restart it (activating, auto-restart)";; esac',
    'case $nr in ""|*[!0-9]*) nr=0;; esac',
    '[ "$nr" -eq 0 ] || g="${g:+$g, }restarted it $nr time(s) (NRestarts=$nr)"',
    `if [ -n "$g" ]; then ${journalCauseCommand(unit)}; ` +
      sh`printf '%s\n' ${`${unit}'s main process exited since the start: systemd `}"$g; last exit: ExecMainCode=$ec ExecMainStatus=$es"; exit ${UNIT_GONE_EXIT}; fi`,
  ].join('\n');
}

/**
 * The tool's own diagnosis of a build log, as `cause: ...` lines, checked before the first error line:
 * DPVS 1.9.10's known GCC 12 / OpenSSL 3 errors (docs/operations.md, known issue) and a library the
 * link cannot find, with the way out.
 */
const KNOWN_BUILD_ERRORS: Array<{ grep: string; cause: string }> = [
  {
    grep: '-Werror=array-bounds',
    cause:
      "GCC 12+ stops DPVS's build with -Werror=array-bounds (src/ipvs/ip_vs_proxy_proto.c, DPDK's inlined rte_memcpy); set dpvs.build_env CFLAGS: -Wno-error=array-bounds -Wno-error=deprecated-declarations (docs/operations.md, known issue)",
  },
  {
    grep: "'MD5' is deprecated",
    cause:
      "OpenSSL 3 stops DPVS's build: 'MD5' is deprecated (src/ipvs/ip_vs_synproxy.c, -Werror=deprecated-declarations); set dpvs.build_env CFLAGS: -Wno-error=array-bounds -Wno-error=deprecated-declarations (docs/operations.md, known issue)",
  },
];

/** Development packages (Debian, RHEL) of the libraries the real DPDK/DPVS link lines name. */
const LIB_PACKAGES: Record<string, [string, string]> = {
  systemd: ['libsystemd-dev', 'systemd-devel'],
  pcap: ['libpcap-dev', 'libpcap-devel'],
  numa: ['libnuma-dev', 'numactl-devel'],
  crypto: ['libssl-dev', 'openssl-devel'],
  ssl: ['libssl-dev', 'openssl-devel'],
  'dbus-1': ['libdbus-1-dev', 'dbus-devel'],
  z: ['zlib1g-dev', 'zlib-devel'],
  popt: ['libpopt-dev', 'popt-devel'],
  'nl-3': ['libnl-3-dev', 'libnl3-devel'],
  'nl-genl-3': ['libnl-genl-3-dev', 'libnl3-devel'],
};

/**
 * `cause:` lines for a build log: `diagnosis` (our own shell text, which sets k=1 when it printed one),
 * a known error with its fix, a library the link cannot find with its package, else the first error line.
 */
export function buildCauseCommand(log: string, diagnosis = ''): string {
  const known = KNOWN_BUILD_ERRORS.map(
    (k) =>
      sh`if grep -qF -e ${k.grep} ${log} 2>/dev/null; then printf '%s\n' ${CAUSE_PREFIX + k.cause}; k=1; fi; `,
  ).join('');
  const cases = Object.entries(LIB_PACKAGES)
    .map(([lib, [deb, rpm]]) => `${quote(lib)}) p=${quote(`${deb} on Debian, ${rpm} on RHEL`)};;`)
    .join(' ');
  const lib =
    sh`l=$(grep -m 1 -oE 'cannot find -l[A-Za-z0-9_+.-]+' ${log} 2>/dev/null); ` +
    `if [ -z "$k" ] && [ -n "$l" ]; then n=\${l#cannot find -l}; case $n in ${cases} *) p="the development package of lib$n";; esac; ` +
    `printf '${CAUSE_PREFIX}ld: %s: %s is not installed (the packages task installs it; with packages: false install it by hand)\n' "$l" "$p"; k=1; fi; `;
  const first =
    sh`[ -n "$k" ] || { c=$(grep -m 1 -E '(^|: )(ERROR|[Ee]rror|fatal error):|^FAILED:' ${log} 2>/dev/null); ` +
    `[ -z "$c" ] || printf '${CAUSE_PREFIX}%s\n' "$c"; }`;
  return `k=; ${diagnosis}${known}${lib}${first}`;
}

/**
 * Run `body` with its output in `log`, printed; on failure, a headline, the log's last lines, `notes`
 * and `diagnosis` (our own shell text; see buildCauseCommand), then the cause lines, all to stderr,
 * and the body's exit status.
 */
export function loggedBuild(
  label: string,
  body: string,
  log: string,
  opts: { notes?: string; diagnosis?: string } = {},
): string {
  return [
    `{ ${body}; } > ${quote(log)} 2>&1; rc=$?`,
    sh`cat ${log}`,
    sh`if [ $rc -ne 0 ]; then { printf '%s\n' ${`${label} failed`}" (exit $rc); last lines of "${log}:; tail -n 25 ${log}; ` +
      `${opts.notes ?? ''} ${buildCauseCommand(log, opts.diagnosis)}; } >&2; exit $rc; fi`,
  ].join('\n');
}
