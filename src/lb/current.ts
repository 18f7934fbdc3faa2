/**
 * Current LB state, a typed read of dpip's and ipvsadm's listings. The probe keys and commands live here so the tasks and the
 * restore script agree on them.
 *
 * When dpvs does not answer (an output is missing or exited non-zero, e.g. ipvsadm's exit 2 "Are you
 * sure that dpvs is running?"), the current state is EMPTY and `running` is false: the plan is made
 * against the state dpvs will have after an earlier task of the same run starts it (no objects), so it
 * lists every add. IPv6 listings that fail (IPv6 off in dpvs) count as empty, not as "not running".
 */
import { z } from 'zod';
import { factReader, type ReaderFacts } from '../facts/read.js';
import type { ProbeRequest } from '../facts/types.js';
import { sh } from '../transport/quote.js';
import type { LbBins } from './commands.js';
import { emptyState, type LbState } from './model.js';
import { parseDpipAddrShow, parseDpipRouteShow } from './parse-dpip.js';
import { parseIpvsadmLaddrs, parseIpvsadmList } from './parse-ipvsadm.js';

export const RECORD_PATH = '/var/lib/dpvs-deploy/lb-managed.json';
export const RESTORE_SCRIPT_PATH = '/etc/dpvs-deploy/restore.sh';

export const OUT = {
  addr: 'dpip-addr',
  addr6: 'dpip-addr6',
  route: 'dpip-route',
  route6: 'dpip-route6',
  ipvsList: 'ipvsadm-ln',
  laddrs: 'ipvsadm-G',
} as const;

/** The live state reads, as argv (the probe runs them without a shell of their own). */
export function lbExecs(b: LbBins): Record<string, string[]> {
  return {
    // -s: some builds print the sa_used/sa_free counters (which mark a sapool) only with -s
    [OUT.addr]: [b.dpip, '-s', 'addr', 'show'],
    [OUT.addr6]: [b.dpip, '-6', '-s', 'addr', 'show'],
    [OUT.route]: [b.dpip, 'route', 'show'],
    [OUT.route6]: [b.dpip, '-6', 'route', 'show'],
    [OUT.ipvsList]: [b.ipvsadm, '-ln'],
    [OUT.laddrs]: [b.ipvsadm, '-G'],
  };
}

/** The same reads as shell command lines. */
export function lbOutputs(b: LbBins): Record<string, string> {
  return Object.fromEntries(Object.entries(lbExecs(b)).map(([k, argv]) => [k, sh`${argv}`]));
}

export function lbProbe(b: LbBins, extraFiles: string[] = []): ProbeRequest {
  return { ...lbState.request(b), files: [RECORD_PATH, RESTORE_SCRIPT_PATH, ...extraFiles] };
}

export interface Current {
  state: LbState;
  /** dpvs answered dpip and ipvsadm */
  running: boolean;
}

const LbStateSchema: z.ZodType<Current> = z.custom<Current>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Current).running === 'boolean' &&
    ['addresses', 'routes', 'services', 'realServers', 'laddrs'].every((k) =>
      Array.isArray((v as Current).state?.[k as keyof LbState]),
    ),
  { message: 'not an LB state' },
);

/**
 * The live LB state: dpip's addresses and routes and ipvsadm's services and local addresses, parsed by
 * the upstream-tested parsers (parse-dpip.ts, parse-ipvsadm.ts).
 */
export const lbState = factReader<Current, LbBins>({
  name: 'live LB state (dpip addr/route show, ipvsadm -ln, ipvsadm -G)',
  keys: Object.values(OUT),
  schema: LbStateSchema,
  request: (b) => ({ execs: lbExecs(b) }),
  parse: (raw) => {
    const ok = (k: string): string | null => {
      const o = raw(k);
      return o && o.code === 0 ? o.stdout : null;
    };
    const addr = ok(OUT.addr);
    const route = ok(OUT.route);
    const list = ok(OUT.ipvsList);
    const laddrText = ok(OUT.laddrs);
    if (addr === null || route === null || list === null || laddrText === null)
      return { state: emptyState(), running: false };

    // `dpip addr show` lists every family whatever -4/-6 says (dpip-addr-show-v4-link-local); the route
    // listings are per family. Each object is taken from the listing of its own family, once.
    const fam =
      (f: string) =>
      <T extends { family: string }>(xs: T[]): T[] =>
        xs.filter((x) => x.family === f);
    const [v4, v6] = [fam('inet'), fam('inet6')];
    const addresses = [...v4(parseDpipAddrShow(addr)), ...v6(parseDpipAddrShow(ok(OUT.addr6) ?? ''))];
    const routes = [...v4(parseDpipRouteShow(route)), ...v6(parseDpipRouteShow(ok(OUT.route6) ?? ''))];
    const { services, realServers } = parseIpvsadmList(list);
    const laddrs = parseIpvsadmLaddrs(laddrText, services);
    for (const l of laddrs) {
      const a = addresses.find((x) => x.ip === l.ip);
      if (a) l.dev = a.dev;
    }
    return { state: { addresses, routes, services, realServers, laddrs }, running: true };
  },
});

export function currentState(facts: ReaderFacts): Current {
  return lbState.read(facts);
}
