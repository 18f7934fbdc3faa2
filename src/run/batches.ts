/**
 * Rolling batches for disruptive changes: `serial` hosts (a number or a percentage) at a time, and the
 * two members of a keepalived pair (same virtual_router_id) never in the same batch.
 */
import type { ResolvedHost } from '../inventory/types.js';

export function batchSize(serial: number | string | undefined, total: number): number {
  if (serial === undefined) return Math.max(1, total);
  if (typeof serial === 'number') return Math.max(1, serial);
  const pct = Number(serial.replace('%', ''));
  return Math.max(1, Math.floor((total * pct) / 100));
}

function pairKey(h: ResolvedHost): string | null {
  const k = h.keepalived;
  if (!k || k.enabled === false || k.virtual_router_id === undefined) return null;
  return `vrid:${k.virtual_router_id}`;
}

export function planBatches(
  hosts: ReadonlyArray<ResolvedHost>,
  serial: number | string | undefined,
): ResolvedHost[][] {
  const size = batchSize(serial, hosts.length);
  const batches: ResolvedHost[][] = [];
  for (const h of hosts) {
    const key = pairKey(h);
    let placed = false;
    for (const b of batches) {
      if (b.length >= size) continue;
      if (key && b.some((x) => pairKey(x) === key)) continue;
      b.push(h);
      placed = true;
      break;
    }
    if (!placed) batches.push([h]);
  }
  return batches;
}
