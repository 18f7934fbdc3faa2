/**
 * The steps of a dpvs (re)start: systemctl (a failure names the journal's cause), the health gate (which
 * gives up as soon as dpvs's main process exited or restarted, naming the cause), and the running-state
 * record.
 */
import type { ResolvedHost } from '../../inventory/types.js';
import type { Step } from '../../plan/change.js';
import { UNIT_GONE_EXIT, unitGoneCommand, unitStartCommand } from '../cause.js';
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
    command: `${unitGoneCommand(DPVS_UNIT)}\n${healthCommand(l, ports)}`,
    timeoutMs: timeoutS * 1000,
    intervalMs: 1000,
    description: `dpvs answers with ${ports.join(', ')} UP and ipvsadm -ln works (within ${timeoutS} s)`,
    onFailure,
    giveUpCode: UNIT_GONE_EXIT,
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
      command: unitStartCommand(verb, DPVS_UNIT),
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
