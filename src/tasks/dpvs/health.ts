/**
 * The health gate after every dpvs (re)start, and what happens when it fails: the dpvs log lines, and,
 * when rollout.rollback_on_health_failure is set, the host is put back on the release and dpvs.conf it
 * last ran healthily with (recorded in the running state) and dpvs restarted on them.
 */
import { raw, sh } from '../../transport/quote.js';
import { BACKUP_SUFFIX } from '../../transport/remote-put.js';
import type { DpvsLayout } from '../../desired/layout.js';
import { DPVS_UNIT, DPVS_UNIT_PATH } from './settings.js';
import { recordRunningStateCommand, switchCurrentCommand, type RunningState } from './state.js';

/**
 * Succeeds when dpvs answers `dpip link show` with every port UP and `ipvsadm -ln` works. dpip prints
 * "1: dpdk0: socket 0 mtu 1500 ..." then "    UP 10000 Mbps full-duplex auto-nego".
 */
export function healthCommand(l: DpvsLayout, ports: string[]): string {
  const env = l.ipcEnv === null ? '' : sh`${raw(l.ipcEnv)}=${l.ipcFile}`;
  const awk = `$1 ~ /^[0-9]+:$/ { cur = $2 } cur == p ":" && $1 == "UP" { ok = 1 } END { exit !ok }`;
  const checks = ports
    .map((p) => sh`printf '%s\n' "$out" | awk -v p=${p} ${awk} || { echo ${`port ${p} is not UP`}; exit 1; }`)
    .join('; ');
  return (
    sh`out=$(${raw(env)} ${`${l.bin}/dpip`} link show 2>&1) || { printf '%s\n' "$out"; exit 1; }; ` +
    `${checks}; ` +
    sh`${raw(env)} ${`${l.bin}/ipvsadm`} -ln >/dev/null`
  );
}

export function logsCommand(): string {
  return sh`echo ${'dpvs log (journalctl -u dpvs -n 50):'}; journalctl -u ${DPVS_UNIT} -n 50 --no-pager 2>&1 | sed 's/^/  /'`;
}

export interface FailurePlan {
  layout: DpvsLayout;
  ports: string[];
  timeoutS: number;
  /** What dpvs last ran healthily with; rollback only when known and enabled. */
  previous: RunningState | null;
  rollback: boolean;
}

/** The wait step's onFailure: the log lines, then (when enabled) roll back to the previous healthy state. */
export function onFailureCommand(p: FailurePlan): string {
  const logs = logsCommand();
  if (!p.rollback || !p.previous) return logs;
  const l = p.layout;
  const prevDir = `${l.releases}/${p.previous.release}`;
  const bak = `${l.confPath}${BACKUP_SUFFIX}`;
  const health = healthCommand(l, p.ports);
  const steps = [
    sh`echo ${`rollback_on_health_failure: back to release ${p.previous.release} and the previous dpvs.conf`}`,
    sh`if [ -d ${prevDir} ]; then ${raw(switchCurrentCommand(l.prefix, l.current, prevDir))}; fi`,
    sh`if [ -f ${bak} ] && [ "$(sha256sum < ${bak} | cut -d' ' -f1)" = ${p.previous.confSha256} ]; then cp -p ${bak} ${l.confPath}; fi`,
    sh`systemctl restart ${DPVS_UNIT}`,
    `i=0; until ( ${health} ) >/dev/null 2>&1; do i=$((i+1)); if [ "$i" -ge ${p.timeoutS} ]; then echo 'rollback: dpvs is still unhealthy on the previous release'; exit 0; fi; sleep 1; done`,
    recordRunningStateCommand({ current: l.current, confPath: l.confPath, unitPath: DPVS_UNIT_PATH }),
    sh`echo ${`rollback: dpvs is healthy again on release ${p.previous.release}`}`,
  ];
  return `${logs}; ${steps.join('; ')}`;
}
