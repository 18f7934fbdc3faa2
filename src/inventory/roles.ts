/**
 * What a host's roles and role blocks mean, in one place: validation, preflight, planners and views all
 * ask these instead of testing `roles.includes(...)` or a block's flags themselves.
 */
import type { ResolvedHost } from './types.js';

type Roles = Pick<ResolvedHost, 'roles'>;

export function isBalancer(host: Roles): boolean {
  return host.roles.includes('balancer');
}

export function isRealserver(host: Roles): boolean {
  return host.roles.includes('realserver');
}

/**
 * keepalived runs on the host: its block is present and not `enabled: false` (docs/inventory.md: "enabled
 * when the block is present").
 */
export function keepalivedEnabled(host: Pick<ResolvedHost, 'keepalived'>): boolean {
  return host.keepalived !== undefined && host.keepalived.enabled !== false;
}
