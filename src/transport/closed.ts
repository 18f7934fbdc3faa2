/**
 * What is left of a transport once its connection was released: its name and its counters. A command
 * that has no use for a host after reading it (plan, verify, facts) closes the connection right after the
 * probe and keeps this instead, so neither the socket nor the client's buffers and ciphers stay alive for
 * the rest of the run. Any use of it is a bug and says so.
 */
import { TransportError, type Transport, type TransportStats } from './types.js';

export function closedTransport(name: string, stats: TransportStats): Transport {
  const gone = (): Promise<never> =>
    Promise.reject(new TransportError(name, 'disconnected', 'the connection was released after the probe'));
  const counters: TransportStats = { ...stats };
  return {
    name,
    exec: gone,
    put: gone,
    get: gone,
    close: () => Promise.resolve(),
    get stats() {
      return { ...counters };
    },
  };
}

/** Close `t` and return its closed stand-in (close errors are ignored: the probe's answer is in). */
export async function releaseTransport(t: Transport): Promise<Transport> {
  await t.close().catch(() => undefined);
  return closedTransport(t.name, t.stats);
}
