import type { DocPath, Problem } from './source.js';

/** Errors and warnings collected by the semantic checks. */
export class Findings {
  readonly errors: Problem[] = [];
  readonly warnings: Problem[] = [];
  /** path + message of every finding so far: a value inherited by many hosts is reported once. */
  private readonly seen = new Set<string>();

  error(path: DocPath, message: string, atKey = false, related?: DocPath): void {
    if (this.first(path, message))
      this.errors.push({ path, message, atKey, ...(related ? { related } : {}) });
  }

  warn(path: DocPath, message: string, atKey = false, related?: DocPath): void {
    if (this.first(path, message))
      this.warnings.push({ path, message, atKey, ...(related ? { related } : {}) });
  }

  private first(path: DocPath, message: string): boolean {
    const key = `${JSON.stringify(path)}\u0000${message}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}

/** "a, b, c" or "(none)". */
export function listOr(items: Iterable<string>, none = '(none)'): string {
  const arr = [...items];
  return arr.length ? arr.join(', ') : none;
}

export function ipFamily(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

/** Address without prefix length, lower-cased (IPv6). */
export function bareIp(cidr: string): string {
  return (cidr.split('/')[0] ?? cidr).toLowerCase();
}
