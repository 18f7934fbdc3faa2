/**
 * Host resolution: defaults → each group the host is in (groups in document order) → the host's own
 * values. Mappings merge key by key (recursively); lists and scalars replace what came before.
 */
import type { HostSettings, Inventory } from './schema.js';
import type { ResolvedHost } from './types.js';
import type { DocPath } from './source.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Keys whose value is one of several alternative shapes ({url, sha256} | {file} | {git, ref}): a
 * higher layer's value replaces the lower one whole, since keys of two alternatives never combine.
 */
export const ATOMIC_KEYS: ReadonlySet<string> = new Set(['source']);

/** Deep merge: objects merge, arrays, scalars and ATOMIC_KEYS from `over` replace. Inputs are not modified. */
export function deepMerge<T>(base: T, over: unknown): T {
  if (over === undefined) return clone(base);
  if (!isPlainObject(base) || !isPlainObject(over)) return clone(over) as T;
  const out: Record<string, unknown> = { ...clone(base) };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = k in out && !ATOMIC_KEYS.has(k) ? deepMerge(out[k], v) : clone(v);
  }
  return out as T;
}

/**
 * deepMerge into an object the caller owns (every nested object in it a copy): `over`'s values are
 * cloned in, `target` is not cloned again. Resolution merges each host's layers this way, once.
 */
function mergeInto(target: Record<string, unknown>, over: unknown): void {
  if (!isPlainObject(over)) return;
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const cur = target[k];
    if (isPlainObject(cur) && isPlainObject(v) && !ATOMIC_KEYS.has(k)) mergeInto(cur, v);
    else target[k] = clone(v);
  }
}

function clone<T>(v: T): T {
  return v === undefined ? v : (structuredClone(v) as T);
}

/** One source of settings for a host, with the document path its values sit at. */
export interface Layer {
  path: DocPath;
  settings: HostSettings;
}

export interface Resolution {
  host: ResolvedHost;
  /** Highest priority last: defaults, groups in document order, the host. */
  layers: Layer[];
}

function get(obj: unknown, path: DocPath): unknown {
  let cur = obj;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === 'number') cur = cur[seg];
    else if (isPlainObject(cur)) cur = cur[String(seg)];
    else return undefined;
  }
  return cur;
}

/**
 * Document path of a resolved host's value: the highest-priority layer that defines it (arrays replace,
 * so the layer that holds the list holds its items). Falls back to the host's entry.
 */
export function originOf(res: Resolution, path: DocPath): DocPath {
  for (let i = res.layers.length - 1; i >= 0; i--) {
    const layer = res.layers[i] as Layer;
    if (get(layer.settings, path) !== undefined) return [...layer.path, ...path];
  }
  // Not defined anywhere: point at the nearest defined prefix.
  for (let n = path.length - 1; n > 0; n--) {
    const prefix = path.slice(0, n);
    for (let i = res.layers.length - 1; i >= 0; i--) {
      const layer = res.layers[i] as Layer;
      if (get(layer.settings, prefix) !== undefined) return [...layer.path, ...prefix];
    }
  }
  return ['hosts', res.host.name];
}

/**
 * Resolves every host. `hostOrder` and `groupOrder` are the document orders of the `hosts` and
 * `groups` mappings (JS objects would reorder integer-like names).
 */
export function resolveHosts(inv: Inventory, hostOrder: string[], groupOrder: string[]): Resolution[] {
  const groups = inv.groups ?? {};
  const groupSet = new Set(groupOrder);
  const hostSet = new Set(hostOrder);
  const orderedGroups = [
    ...groupOrder.filter((g) => Object.hasOwn(groups, g)),
    ...Object.keys(groups).filter((g) => !groupSet.has(g)),
  ];
  const orderedHosts = [
    ...hostOrder.filter((h) => Object.hasOwn(inv.hosts, h)),
    ...Object.keys(inv.hosts).filter((h) => !hostSet.has(h)),
  ];
  // Group membership, once: host -> its groups in document order (each group once per host).
  const groupsOf = new Map<string, string[]>();
  for (const g of orderedGroups) {
    for (const h of groups[g]?.hosts ?? []) {
      const list = groupsOf.get(h) ?? [];
      if (list[list.length - 1] !== g) list.push(g);
      groupsOf.set(h, list);
    }
  }
  return orderedHosts.map((name) => {
    const entry = inv.hosts[name];
    if (!entry) throw new Error(`unreachable: host ${name}`);
    const layers: Layer[] = [];
    if (inv.defaults) layers.push({ path: ['defaults'], settings: inv.defaults });
    const memberOf = groupsOf.get(name) ?? [];
    for (const g of memberOf) {
      const group = groups[g];
      if (group?.vars) layers.push({ path: ['groups', g, 'vars'], settings: group.vars });
    }
    const { address, roles, ...own } = entry;
    layers.push({ path: ['hosts', name], settings: own });
    const merged: HostSettings = {};
    for (const l of layers) mergeInto(merged as Record<string, unknown>, l.settings);
    const host: ResolvedHost = { ...merged, name, address, roles: [...roles], groups: memberOf };
    return { host, layers };
  });
}
