/** The steps of a dpvs (re)start: systemctl, the health gate, and the running-state record. */
import type { ResolvedHost } from '../../inventory/types.js';
import type { Step } from '../../plan/change.js';
import { sh } from '../../transport/quote.js';
import { healthCommand, logsCommand } from './health.js';
import { DPVS_UNIT, DPVS_UNIT_PATH, layoutOf, startTimeoutS } from './settings.js';
import { recordRunningStateCommand } from './state.js';

export function portsOf(host: ResolvedHost): string[] {
  return (host.nics ?? []).map((n) => n.name);
}

export function healthWait(host: ResolvedHost, onFailure: string): Step {
  const l = layoutOf(host);
  const ports = portsOf(host);
  const timeoutS = startTimeoutS(host);
  return {
    kind: 'wait',
    command: healthCommand(l, ports),
    timeoutMs: timeoutS * 1000,
    intervalMs: 1000,
    description: `dpvs answers with ${ports.join(', ')} UP and ipvsadm -ln works (within ${timeoutS} s)`,
    onFailure,
  };
}

export function restartSteps(
  host: ResolvedHost,
  verb: 'start' | 'restart' = 'restart',
  onFailure: string = logsCommand(),
): Step[] {
  const l = layoutOf(host);
  return [
    {
      kind: 'exec',
      command: sh`systemctl ${verb} ${DPVS_UNIT}`,
      timeoutMs: (startTimeoutS(host) + 60) * 1000,
      onFailure,
    },
    healthWait(host, onFailure),
    {
      kind: 'exec',
      command: recordRunningStateCommand({
        current: l.current,
        confPath: l.confPath,
        unitPath: DPVS_UNIT_PATH,
      }),
    },
  ];
}
