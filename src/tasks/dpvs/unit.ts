/**
 * The systemd units for dpvs and its keepalived, as typed sections (src/plan/ops/systemd-unit.ts).
 *
 * Upstream facts used (reference dpvs-upstream.md §3, §6, §8.10):
 * - 1.9.4+: `dpvs [-c conf] [-p pidfile] [-x ipcfile] -- <EAL args>`, tools find it via DPVS_IPC_FILE;
 *   1.8: `dpvs -- <EAL args>` only (any other option prints usage and exits), /etc/dpvs.conf and
 *   /var/run/dpvs_ctrl fixed (corpus: test/fixtures/upstream/dpvs.yaml). Foreground; init takes 10-40 s.
 * - keepalived must start only after dpvs answers and must restart whenever dpvs restarts.
 */
import { dirname, join } from 'node:path';
import { MANAGED_MARKER } from '../../dpvsconf/render.js';
import { renderUnit, type UnitEntry } from '../../plan/ops/systemd-unit.js';
import { quote } from '../../transport/quote.js';

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

function positiveInt(name: string, n: number): number {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got ${n}`);
  return n;
}

/** `Environment=DPVS_IPC_FILE=<file>` for releases whose tools read it; no line for 1.8. */
function ipcEnvironment(env: string | null | undefined, file: string): UnitEntry[] {
  const name = env === undefined ? 'DPVS_IPC_FILE' : env;
  return name === null ? [] : [['Environment', { env: { [name]: file } }]];
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
  const nofile = positiveInt('nofile', u.nofile);
  const dpip = u.dpipBinary ?? join(dirname(u.dpvsBinary), 'dpip');
  const files = u.fileOptions === false ? [] : ['-c', u.confPath, '-p', u.pidFile, '-x', u.ipcFile];
  const post: UnitEntry[] =
    u.restoreScript === undefined
      ? []
      : [
          [
            'ExecStartPost',
            {
              exec: [
                '/bin/sh',
                '-c',
                `${waitForDpvs(dpip, u.startTimeoutS)}; exec ${quote(u.restoreScript)}`,
              ],
            },
          ],
        ];
  return renderUnit({
    comments: [
      `${MANAGED_MARKER}.`,
      'DPVS runs in the foreground (it has no daemon mode); systemd supervises it.',
    ],
    sections: [
      [
        'Unit',
        [
          ['Description', 'DPVS layer-4 load balancer (DPDK)'],
          ['Documentation', 'https://github.com/iqiyi/dpvs'],
          ['After', ['network-online.target']],
          ['Wants', ['network-online.target']],
        ],
      ],
      [
        'Service',
        [
          ['Type', 'simple'],
          ...ipcEnvironment(u.ipcEnv, u.ipcFile),
          ['ExecStart', { exec: [u.dpvsBinary, ...files, '--', ...u.ealArgs] }],
          ...post,
          ['Restart', 'on-failure'],
          ['RestartSec', 5],
          ['TimeoutStartSec', timeout],
          ['LimitNOFILE', nofile],
          ['LimitMEMLOCK', 'infinity'],
        ],
      ],
      ['Install', [['WantedBy', ['multi-user.target']]]],
    ],
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
  const wait = positiveInt('waitTimeoutS', u.waitTimeoutS ?? 90);
  const dpip = u.dpipBinary ?? join(dirname(u.keepalivedBinary), 'dpip');
  const argv = [u.keepalivedBinary, '--dont-fork', '--log-console', '--log-detail', '-f', u.confPath];
  if (u.pidFile !== undefined) argv.push('--pid', u.pidFile);
  return renderUnit({
    comments: [
      `${MANAGED_MARKER}.`,
      'keepalived talks to dpvs over its IPC socket: start it only after dpvs answers, restart it with dpvs.',
    ],
    sections: [
      [
        'Unit',
        [
          ['Description', 'keepalived for DPVS (VRRP and health checks)'],
          ['After', ['dpvs.service']],
          ['Requires', ['dpvs.service']],
          ['PartOf', ['dpvs.service']],
        ],
      ],
      [
        'Service',
        [
          ['Type', 'simple'],
          ...ipcEnvironment(u.ipcEnv, u.ipcFile),
          ['ExecStartPre', { exec: ['/bin/sh', '-c', waitForDpvs(dpip, wait)] }],
          ['ExecStart', { exec: argv }],
          ['ExecReload', { exec: ['/bin/kill', '-HUP', { variable: 'MAINPID' }] }],
          ['Restart', 'on-failure'],
          ['RestartSec', 5],
          ['TimeoutStartSec', wait + 30],
        ],
      ],
      ['Install', [['WantedBy', ['multi-user.target', 'dpvs.service']]]],
    ],
  });
}
