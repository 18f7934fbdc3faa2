import type { DocPath, Problem } from './source.js';

/** Errors and warnings collected by the semantic checks. */
export class Findings {
  readonly errors: Problem[] = [];
  readonly warnings: Problem[] = [];

  error(path: DocPath, message: string, atKey = false): void {
    this.errors.push({ path, message, atKey });
  }

  warn(path: DocPath, message: string, atKey = false): void {
    this.warnings.push({ path, message, atKey });
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
