/**
 * Gathering: one connection and one probe exec per host, at most `forks` at a time. A host that cannot
 * be connected to or probed is recorded with the reason; it never fails the others. With `release`, each
 * connection is closed right after its probe (commands that only read: plan, verify, facts), so at most
 * `forks` connections are open at once and none is held until the end of the run.
 */
import type { Facts } from '../facts/types.js';
import type { ResolvedHost } from '../inventory/types.js';
import { releaseTransport } from '../transport/closed.js';
import type { Transport } from '../transport/types.js';
import { errorText } from './plan-fleet.js';
import { mapLimit } from './pool.js';

export type Connector = (host: ResolvedHost) => Promise<Transport>;

export interface Gathered {
  transports: Map<string, Transport>;
  facts: Map<string, Facts>;
  errors: Map<string, string>;
}

export interface GatherOptions {
  hosts: readonly ResolvedHost[];
  forks: number;
  connect: Connector;
  /** The host's full probe over its transport. */
  probe: (host: string, t: Transport) => Promise<Facts>;
  /** Close each connection after its probe; the map then holds its closed stand-in (name and counters). */
  release?: boolean;
  hostState?: (host: string, state: string) => void;
  log: (host: string, line: string) => void;
}

export async function gather(o: GatherOptions, into?: Gathered): Promise<Gathered> {
  const g: Gathered = into ?? { transports: new Map(), facts: new Map(), errors: new Map() };
  await mapLimit(o.hosts, o.forks, async (h) => {
    o.hostState?.(h.name, 'connecting');
    try {
      const t = await o.connect(h);
      g.transports.set(h.name, t);
      o.hostState?.(h.name, 'probing');
      try {
        g.facts.set(h.name, await o.probe(h.name, t));
      } finally {
        if (o.release) g.transports.set(h.name, await releaseTransport(t));
      }
      o.hostState?.(h.name, 'probed');
    } catch (e) {
      const msg = errorText(e);
      g.errors.set(h.name, msg);
      o.log(h.name, `ERROR ${msg}`);
      o.hostState?.(h.name, 'unreachable');
    }
  });
  return g;
}
