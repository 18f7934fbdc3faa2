/**
 * Small, pure IP helpers for the LB model: canonical text forms (so inventory values compare equal to
 * what dpip/ipvsadm print), prefix networks and the `addr:port` forms ipvsadm uses.
 */
import { isIpv4, isIpv6 } from './schema.js';

export type Family = 'inet' | 'inet6';

export function familyOf(ip: string): Family {
  return ip.includes(':') ? 'inet6' : 'inet';
}

export function maxPrefixLen(family: Family): number {
  return family === 'inet' ? 32 : 128;
}

function ipv6Groups(ip: string): number[] | null {
  const bare = ip.split('%')[0] ?? ip;
  const halves = bare.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (i === pieces.length - 1 && isIpv4(piece)) {
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) out.push(parseInt(piece, 16));
      else return null;
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

function formatIpv6(groups: number[]): string {
  // RFC 5952: compress the longest run (>= 2) of zero groups, first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an address: IPv4 unchanged, IPv6 lower-case and RFC 5952 compressed. */
export function canonicalIp(ip: string): string {
  if (!isIpv6(ip)) return ip;
  const groups = ipv6Groups(ip);
  return groups ? formatIpv6(groups) : ip.toLowerCase();
}

/** The network address of ip/plen, canonical. */
export function networkOf(ip: string, plen: number): string {
  if (familyOf(ip) === 'inet') {
    const n = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const mask = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
    const net = (n & mask) >>> 0;
    return [24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.');
  }
  const groups = ipv6Groups(ip);
  if (!groups) return ip;
  const out = groups.map((g, i) => {
    const bits = Math.max(0, Math.min(16, plen - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    return g & mask;
  });
  return formatIpv6(out);
}

/** Canonical prefix: "default" → 0.0.0.0/0 (or ::/0), host bits cleared, IPv6 compressed. */
export function canonicalPrefix(prefix: string, family: Family = 'inet'): string {
  if (prefix === 'default') return family === 'inet' ? '0.0.0.0/0' : '::/0';
  const [ip = '', len] = prefix.split('/');
  const fam = familyOf(ip);
  const plen = len === undefined ? maxPrefixLen(fam) : Number(len);
  return `${networkOf(canonicalIp(ip), plen)}/${plen}`;
}

/** The unspecified address dpip prints for "none" (0.0.0.0, ::). */
export function isUnspecified(ip: string | undefined): boolean {
  return ip === undefined || ip === '' || ip === '0.0.0.0' || canonicalIp(ip) === '::';
}

/** ipvsadm's `addr:port` form: IPv6 in brackets. */
export function hostPort(ip: string, port: number): string {
  return familyOf(ip) === 'inet6' ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Split ipvsadm's `addr:port` / `[v6]:port`. */
export function splitHostPort(text: string): { ip: string; port: number } | null {
  const m6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (m6) return { ip: canonicalIp(m6[1] ?? ''), port: Number(m6[2]) };
  const m4 = /^([^:\s]+):(\d+)$/.exec(text);
  if (m4) return { ip: m4[1] ?? '', port: Number(m4[2]) };
  return null;
}

/**
 * The canonical text of an ipvsadm match range, as the tool writes it and compares it: `A`, `A-B`,
 * `A:P`, `A-B:P-Q` (IPv6 as `[A-B]`), a second address or port only when it differs from the first, no
 * port when both are 0. `ipvsadm -ln` prints the full form (`A-A:0-0`, `[A-B]:0-0`:
 * test/fixtures/upstream/ipvsadm.yaml, ipvsadm-ln-snat-*); both forms map to the same text here.
 * Text that is no range is returned unchanged.
 */
export function canonicalRange(text: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+)(?:-(\d+))?)?$/.exec(text.trim());
  if (!m) return text;
  const v6 = m[1] !== undefined;
  const ips = (m[1] ?? m[2] ?? '').split('-'); // no address has a '-' of its own
  const lo = canonicalIp(ips[0] ?? '');
  const hi = canonicalIp(ips[1] ?? ips[0] ?? '');
  const pLo = Number(m[3] ?? 0);
  const pHi = Number(m[4] ?? m[3] ?? 0);
  const addr = lo === hi ? lo : `${lo}-${hi}`;
  const where = v6 ? `[${addr}]` : addr;
  if (pLo === 0 && pHi === 0) return where;
  return pLo === pHi ? `${where}:${pLo}` : `${where}:${pLo}-${pHi}`;
}
