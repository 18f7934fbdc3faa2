/**
 * --limit PATTERN: comma-separated host names, group names or roles, with * and ? wildcards; a leading
 * ! excludes. "lb*,!lb2", "balancers", "role:realserver".
 */
import type { ResolvedHost } from '../inventory/types.js';
import { UserError } from '../errors.js';

function glob(p: string): RegExp {
  return new RegExp(
    '^' +
      p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
  );
}

function matches(h: ResolvedHost, term: string): boolean {
  if (term.startsWith('role:')) return h.roles.some((r) => glob(term.slice(5)).test(r));
  const re = glob(term);
  return re.test(h.name) || h.groups.some((g) => re.test(g)) || re.test(h.address);
}

export function selectHosts(hosts: ReadonlyArray<ResolvedHost>, limit: string | undefined): ResolvedHost[] {
  if (!limit) return [...hosts];
  const terms = limit
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const inc = terms.filter((t) => !t.startsWith('!'));
  const exc = terms.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
  const out = hosts.filter(
    (h) => (inc.length === 0 || inc.some((t) => matches(h, t))) && !exc.some((t) => matches(h, t)),
  );
  if (out.length === 0)
    throw new UserError(`--limit ${limit} matches no host (hosts: ${hosts.map((h) => h.name).join(', ')})`);
  return out;
}
