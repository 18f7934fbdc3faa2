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

  private readonly shared = new Map<string, { problem: Problem; message: string; hosts: string[] }>();

  /**
   * Adds what one host's checks found. A problem at a path outside `hosts.<host>` (a default or a
   * group that several hosts inherit) is reported once, naming the hosts it affects.
   */
  addFromHost(host: string, found: Findings): void {
    const add = (list: Problem[], kind: string, p: Problem): void => {
      if (p.path[0] === 'hosts' && p.path[1] === host) {
        list.push(p);
        return;
      }
      const key = JSON.stringify([kind, p.path, p.message, p.atKey ?? false]);
      const seen = this.shared.get(key);
      if (seen) {
        if (!seen.hosts.includes(host)) seen.hosts.push(host);
        seen.problem.message = `${seen.message} (hosts ${seen.hosts.join(', ')})`;
        return;
      }
      const problem = { ...p, message: `${p.message} (host ${host})` };
      this.shared.set(key, { problem, message: p.message, hosts: [host] });
      list.push(problem);
    };
    for (const p of found.errors) add(this.errors, 'error', p);
    for (const p of found.warnings) add(this.warnings, 'warning', p);
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
