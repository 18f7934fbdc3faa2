/**
 * The restore script (/etc/dpvs-deploy/restore.sh), run as ExecStartPost of the dpvs unit: dpvs keeps
 * its addresses, routes and services in memory only, so after every (re)start they are added again.
 * POSIX sh. It waits (bounded) until `dpip link show` answers, then runs each add command and treats
 * "already exists" answers as success, so it is idempotent. Other failures are logged to stderr (the
 * journal) and make it exit 1 at the end, after it has tried every command; a dpvs that never answers
 * makes it exit 1 at once.
 */
import { quote, sh } from '../transport/quote.js';
import * as cmd from './commands.js';
import type { LbState } from './model.js';

export interface RestoreOptions {
  bins: cmd.LbBins;
  /** seconds to wait for dpvs to answer (default 90) */
  timeoutS?: number;
  /** kernel address for the KNI netdev that VRRP uses (it vanishes with dpvs) */
  kni?: { ifname: string; address: string };
}

export function restoreCommands(desired: LbState, bins: cmd.LbBins): string[] {
  const svc = new Map(desired.services.map((s) => [s.key, s]));
  const svcOf = (key: string) => svc.get(key) ?? { key, proto: 'tcp' as const, scheduler: 'wlc' };
  return [
    ...desired.addresses.map((a) => cmd.addrAdd(bins, a)),
    ...desired.routes.map((r) => cmd.routeAdd(bins, r)),
    ...desired.services.map((s) => cmd.serviceAdd(bins, s)),
    ...desired.realServers.map((r) => cmd.realServerAdd(bins, svcOf(r.service), r)),
    ...desired.laddrs.map((l) => cmd.laddrAdd(bins, svcOf(l.service), l)),
  ];
}

export function renderRestoreScript(desired: LbState, opts: RestoreOptions): string {
  const timeout = Math.max(1, Math.round(opts.timeoutS ?? 90));
  const lines = [
    '#!/bin/sh',
    '# Managed by dpvs-deploy: re-adds addresses, routes and services after dpvs (re)starts.',
    '# Run as ExecStartPost of the dpvs unit. Do not edit: the next apply rewrites it.',
    'set -u',
    '',
    `timeout=${timeout}`,
    'waited=0',
    sh`until ${opts.bins.dpip} link show >/dev/null 2>&1; do`,
    '  if [ "$waited" -ge "$timeout" ]; then',
    '    echo "dpvs-restore: dpvs did not answer within ${timeout}s" >&2',
    '    exit 1',
    '  fi',
    '  sleep 1',
    '  waited=$((waited + 1))',
    'done',
    '',
    'failed=0',
    '# run COMMAND...: success, or an "exists" answer, counts as done',
    'run() {',
    '  if out=$("$@" 2>&1); then return 0; fi',
    '  case $out in',
    '    *[Ee]xist*) return 0 ;;',
    '  esac',
    '  echo "dpvs-restore: failed: $*: $out" >&2',
    '  failed=1',
    '}',
    '',
  ];
  for (const c of restoreCommands(desired, opts.bins)) lines.push(`run ${c}`);
  if (opts.kni) {
    const a = opts.kni.address;
    lines.push(
      '',
      `# kernel side of the KNI netdev used by keepalived (VRRP)`,
      `run ip addr add ${quote(a)} dev ${quote(opts.kni.ifname)}`,
      `run ip link set ${quote(opts.kni.ifname)} up`,
    );
  }
  lines.push('', 'exit "$failed"', '');
  return lines.join('\n');
}
