/**
 * systemd units for dpvs and its keepalived, and the EAL argument list. Pure (the unit's template is
 * src/dpvsconf/unit-template.ts).
 *
 * Upstream facts used (reference dpvs-upstream.md §3, §6, §8.10):
 * - 1.9.4+: `dpvs [-c conf] [-p pidfile] [-x ipcfile] -- <EAL args>`, tools find it via DPVS_IPC_FILE;
 *   1.8: `dpvs -- <EAL args>` only (any other option prints usage and exits), /etc/dpvs.conf and
 *   /var/run/dpvs_ctrl fixed (corpus: test/fixtures/upstream/dpvs.yaml). Foreground; init takes 10-40 s.
 * - keepalived must start only after dpvs answers and must restart whenever dpvs restarts.
 * - EAL: DPDK < 20.11 uses `-w BDF` and `--master-lcore`; 20.11+ uses `-a BDF` and `--main-lcore`.
 *   DPDK port ids follow the `-a` order, which must equal the device blocks' order in dpvs.conf.
 */
import { dirname, join } from 'node:path';
import { quote } from '../transport/quote.js';
import { MANAGED_MARKER } from './render.js';
import { DPVS_UNIT_TEMPLATE } from './unit-template.js';

// ---------- systemd quoting ----------

/** One ExecStart= word: bare when safe, else double-quoted; `%` and `$` escaped for systemd. */
export function systemdWord(value: string): string {
  if (/[\n\r\0]/.test(value))
    throw new Error(`a systemd argument cannot contain a line break: ${JSON.stringify(value)}`);
  const escaped = value.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && /^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export const systemdCommand = (argv: readonly string[]): string => argv.map(systemdWord).join(' ');

// ---------- EAL ----------

export interface EalInput {
  dpdkVersion: string;
  /** PCI addresses in dpvs.conf device order. */
  pcis: string[];
  /** Every CPU dpvs runs on (master, slaves, kni worker). */
  lcores: number[];
  mainLcore: number;
  filePrefix?: string;
}

/** "1,2,3,5,7,8" -> "1-3,5,7-8" (sorted, de-duplicated). */
export function compressCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i] as number;
    let end = start;
    while (sorted[i + 1] === end + 1) end = sorted[++i] as number;
    parts.push(start === end ? String(start) : `${start}-${end}`);
    i++;
  }
  return parts.join(',');
}

function dpdkIsModern(version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new Error(`not a DPDK version: ${JSON.stringify(version)}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 20 || (major === 20 && minor >= 11);
}

export function ealArgs(input: EalInput): string[] {
  if (!input.lcores.includes(input.mainLcore)) {
    throw new Error(
      `the main lcore ${input.mainLcore} must be one of the lcores (${compressCpuList(input.lcores)})`,
    );
  }
  const modern = dpdkIsModern(input.dpdkVersion);
  const args = [
    '-l',
    compressCpuList(input.lcores),
    modern ? '--main-lcore' : '--master-lcore',
    String(input.mainLcore),
  ];
  for (const pci of input.pcis) args.push(modern ? '-a' : '-w', pci);
  if (input.filePrefix !== undefined) args.push('--file-prefix', input.filePrefix);
  return args;
}

// ---------- units ----------

export interface DpvsUnitInput {
  dpvsBinary: string;
  confPath: string;
  pidFile: string;
  ipcFile: string;
  /** dpvs takes -c/-p/-x (1.9.4+); false: the paths above are dpvs's fixed ones and are not passed (1.8). */
  fileOptions?: boolean;
  /** The variable the tools read the socket from (DPVS_IPC_FILE); null: none (1.8). */
  ipcEnv?: string | null;
  ealArgs: string[];
  nofile: number;
  /** Run after start, once dpvs answers on its IPC socket (re-adds addresses, routes, services). */
  restoreScript?: string;
  startTimeoutS: number;
  /** dpip used to tell whether dpvs answers; default: `dpip` next to the dpvs binary. */
  dpipBinary?: string;
}

function dpvsTemplate(): string {
  return DPVS_UNIT_TEMPLATE;
}

function fill(template: string, values: Record<string, string>): string {
  const lines: string[] = [];
  for (const line of template.split('\n')) {
    const whole = /^\{\{([A-Z_]+)\}\}$/.exec(line);
    if (whole) {
      const v = values[whole[1] as string];
      if (v === undefined) throw new Error(`unit template: no value for ${whole[1]}`);
      if (v !== '') lines.push(v); // a placeholder alone on its line vanishes when empty
      continue;
    }
    lines.push(
      line.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
        const v = values[name];
        if (v === undefined) throw new Error(`unit template: no value for ${name}`);
        return v;
      }),
    );
  }
  return lines.join('\n');
}

function positiveInt(name: string, n: number): string {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got ${n}`);
  return String(n);
}

/** `Environment=DPVS_IPC_FILE=<file>` for releases whose tools read it; empty (no line) for 1.8. */
function ipcEnvironment(env: string | null | undefined, file: string): string {
  const name = env === undefined ? 'DPVS_IPC_FILE' : env;
  return name === null ? '' : `Environment=${systemdWord(`${name}=${file}`)}`;
}

/** A shell loop that waits (up to `timeoutS` seconds) until `dpip link show` succeeds. */
function waitForDpvs(dpip: string, timeoutS: number): string {
  return (
    `i=0; until ${quote(dpip)} link show >/dev/null 2>&1; do i=$((i+1)); ` +
    `if [ "$i" -ge ${timeoutS} ]; then echo 'dpvs did not answer in ${timeoutS}s' >&2; exit 1; fi; sleep 1; done`
  );
}

export function renderDpvsUnit(u: DpvsUnitInput): string {
  const timeout = positiveInt('startTimeoutS', u.startTimeoutS);
  const dpip = u.dpipBinary ?? join(dirname(u.dpvsBinary), 'dpip');
  const files = u.fileOptions === false ? [] : ['-c', u.confPath, '-p', u.pidFile, '-x', u.ipcFile];
  const exec = systemdCommand([u.dpvsBinary, ...files, '--', ...u.ealArgs]);
  const post =
    u.restoreScript === undefined
      ? ''
      : 'ExecStartPost=' +
        systemdCommand([
          '/bin/sh',
          '-c',
          `${waitForDpvs(dpip, u.startTimeoutS)}; exec ${quote(u.restoreScript)}`,
        ]);
  return fill(dpvsTemplate(), {
    MANAGED: `${MANAGED_MARKER}.`,
    ENVIRONMENT: ipcEnvironment(u.ipcEnv, u.ipcFile),
    EXEC_START: exec,
    EXEC_START_POST: post,
    START_TIMEOUT_S: timeout,
    NOFILE: positiveInt('nofile', u.nofile),
  });
}

export interface KeepalivedUnitInput {
  keepalivedBinary: string;
  confPath: string;
  ipcFile: string;
  /** As for the dpvs unit: null where keepalived's socket path is fixed (1.8). */
  ipcEnv?: string | null;
  /** Used to wait until dpvs answers before keepalived starts (default: dpip next to keepalived). */
  dpipBinary?: string;
  waitTimeoutS?: number;
  pidFile?: string;
}

/**
 * keepalived (DPVS's fork) in the foreground, bound to dpvs.service: started after it, stopped with it and
 * restarted whenever it restarts (PartOf), and only once dpvs answers (ExecStartPre waits).
 */
export function renderKeepalivedUnit(u: KeepalivedUnitInput): string {
  const wait = u.waitTimeoutS ?? 90;
  positiveInt('waitTimeoutS', wait);
  const dpip = u.dpipBinary ?? join(dirname(u.keepalivedBinary), 'dpip');
  const argv = [u.keepalivedBinary, '--dont-fork', '--log-console', '--log-detail', '-f', u.confPath];
  if (u.pidFile !== undefined) argv.push('--pid', u.pidFile);
  return [
    `# ${MANAGED_MARKER}.`,
    '# keepalived talks to dpvs over its IPC socket: start it only after dpvs answers, restart it with dpvs.',
    '[Unit]',
    'Description=keepalived for DPVS (VRRP and health checks)',
    'After=dpvs.service',
    'Requires=dpvs.service',
    'PartOf=dpvs.service',
    '',
    '[Service]',
    'Type=simple',
    ...[ipcEnvironment(u.ipcEnv, u.ipcFile)].filter((l) => l !== ''),
    `ExecStartPre=${systemdCommand(['/bin/sh', '-c', waitForDpvs(dpip, wait)])}`,
    `ExecStart=${systemdCommand(argv)}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure',
    'RestartSec=5',
    `TimeoutStartSec=${wait + 30}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target dpvs.service',
    '',
  ].join('\n');
}
