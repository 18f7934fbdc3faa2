/**
 * The record of what dpvs-deploy created on a balancer (/var/lib/dpvs-deploy/lb-managed.json). The
 * reconciler deletes only objects listed here. A missing or unreadable record is an empty record: then
 * nothing is deleted (safe default), and objects on the host that are not desired are "unmanaged".
 *
 * The network task owns `addresses` and `routes`; the services task owns `services`, `realServers`
 * and `laddrs`. Each rewrites only its sections and passes the new content on as a projected fact.
 */
import { z } from 'zod';
import { emptyState, type LbState } from './model.js';

const Address = z.object({
  family: z.enum(['inet', 'inet6']),
  ip: z.string(),
  plen: z.number().int(),
  dev: z.string(),
  scope: z.enum(['global', 'link', 'host']),
  sapool: z.boolean(),
});
const Route = z.object({
  family: z.enum(['inet', 'inet6']),
  prefix: z.string(),
  dev: z.string(),
  via: z.string().optional(),
  src: z.string().optional(),
  scope: z.enum(['global', 'link', 'host', 'kni_host']).optional(),
  mtu: z.number().int().optional(),
  metric: z.number().int().optional(),
});
const Match = z.object({
  proto: z.enum(['tcp', 'udp', 'icmp']),
  srcRange: z.string().optional(),
  dstRange: z.string().optional(),
  iif: z.string().optional(),
  oif: z.string().optional(),
});
const Service = z.object({
  key: z.string(),
  proto: z.enum(['tcp', 'udp', 'icmp']),
  vip: z.string().optional(),
  port: z.number().int().optional(),
  match: Match.optional(),
  scheduler: z.string(),
  persistence: z.number().int().optional(),
  connTimeout: z.number().int().optional(),
  name: z.string().optional(),
});
const RealServer = z.object({
  service: z.string(),
  ip: z.string(),
  port: z.number().int(),
  weight: z.number().int(),
  forward: z.enum(['fullnat', 'dr', 'tun', 'nat', 'snat']),
});
const Laddr = z.object({ service: z.string(), ip: z.string(), dev: z.string().optional() });

const RecordDoc = z.object({
  version: z.literal(1),
  addresses: z.array(Address).default([]),
  routes: z.array(Route).default([]),
  services: z.array(Service).default([]),
  realServers: z.array(RealServer).default([]),
  laddrs: z.array(Laddr).default([]),
});

export type NetworkSections = Pick<LbState, 'addresses' | 'routes'>;
export type ServiceSections = Pick<LbState, 'services' | 'realServers' | 'laddrs'>;

export function parseRecord(content: string | null | undefined): LbState {
  if (!content) return emptyState();
  try {
    const parsed = RecordDoc.safeParse(JSON.parse(content));
    if (!parsed.success) return emptyState();
    const { version: _v, ...state } = parsed.data;
    return state as LbState;
  } catch {
    return emptyState();
  }
}

/** Objects with their keys sorted, so equal records render byte-equal whatever built them. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  return value;
}

/** Deterministic JSON (sorted keys inside objects, sections in model order, trailing newline). */
export function renderRecord(state: LbState): string {
  return (
    JSON.stringify(
      {
        version: 1,
        addresses: sortKeys(state.addresses),
        routes: sortKeys(state.routes),
        services: sortKeys(state.services),
        realServers: sortKeys(state.realServers),
        laddrs: sortKeys(state.laddrs),
      },
      null,
      2,
    ) + '\n'
  );
}
