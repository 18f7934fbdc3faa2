/**
 * Basic checks of an explicit worker layout against the host's NICs — the upstream
 * netif_lcore_init rules (reference §8 item 5: -2/-3 duplicate queue ids, -4 unassigned queue,
 * -5 unknown port, -6 unequal port lists / no tx queue, -7 no slave). The full validator of the
 * rendered dpvs.conf is src/dpvsconf/validate.ts (validateLayout).
 */
import type { Findings } from './findings.js';
import { listOr } from './findings.js';
import { originOf, type Resolution } from './merge.js';
import type { NicSettings } from './schema.js';

export function checkWorkers(r: Resolution, f: Findings): void {
  const h = r.host;
  const w = h.workers;
  if (w === undefined || w === 'auto') return;
  const at = (...p: Array<string | number>) => originOf(r, ['workers', ...p]);
  const nics = new Map<string, NicSettings>((h.nics ?? []).map((n) => [n.name, n]));

  // CPUs: one use each.
  const used = new Map<number, string>([[w.master, 'the master']]);
  const reserved = new Set(h.reserved_cpus ?? []);
  w.slaves.forEach((s, i) => {
    const prev = used.get(s.cpu);
    if (prev)
      f.error(
        at('slaves', i, 'cpu'),
        `CPU ${s.cpu} is already used by ${prev}; each worker needs its own CPU`,
      );
    else used.set(s.cpu, `slave ${i}`);
    if (reserved.has(s.cpu)) {
      f.error(
        at('slaves', i, 'cpu'),
        `CPU ${s.cpu} is in reserved_cpus; a slave worker may not run on a reserved CPU`,
      );
    }
  });
  if (w.kni !== undefined) {
    const prev = used.get(w.kni);
    if (prev) f.error(at('kni'), `CPU ${w.kni} is already used by ${prev}; the kni worker needs its own CPU`);
  }

  // Ports: known (-5), same set on every slave (-6), each with a tx queue (-6).
  const firstPorts = Object.keys(w.slaves[0]?.ports ?? {}).sort();
  w.slaves.forEach((s, i) => {
    const ports = Object.keys(s.ports);
    for (const p of ports) {
      if (!nics.has(p)) {
        f.error(
          at('slaves', i, 'ports', p),
          `port '${p}' is not one of this host's nics (${listOr(nics.keys())}) (upstream error -5)`,
          true,
        );
      }
      const q = s.ports[p];
      if (q && q.tx.length === 0) {
        f.error(
          at('slaves', i, 'ports', p, 'tx'),
          `slave ${i} needs at least one tx queue on '${p}' (upstream error -6)`,
        );
      }
    }
    const sorted = [...ports].sort();
    if (i > 0 && sorted.join(',') !== firstPorts.join(',')) {
      f.error(
        at('slaves', i, 'ports'),
        `slave ${i} serves ports ${listOr(sorted)} but slave 0 serves ${listOr(firstPorts)}; every slave must serve the same ports (upstream error -6)`,
        true,
      );
    }
  });

  // Queues per port and direction: unique (-2/-3), contiguous from 0, covering every configured queue (-4).
  for (const [name, nic] of nics) {
    const served = w.slaves.some((s) => name in s.ports);
    if (!served) {
      f.error(
        originOf(r, ['nics', [...nics.keys()].indexOf(name), 'name']),
        `port '${name}' is served by no slave worker (upstream error -4)`,
      );
      continue;
    }
    for (const dir of ['rx', 'tx'] as const) {
      const configured = nic[dir]?.queues;
      const seen = new Map<number, number>();
      w.slaves.forEach((s, i) => {
        const ids = s.ports[name]?.[dir] ?? [];
        ids.forEach((id, k) => {
          const prev = seen.get(id);
          if (prev !== undefined) {
            f.error(
              at('slaves', i, 'ports', name, dir, k),
              `${dir} queue ${id} of '${name}' is already assigned to slave ${prev}; each queue goes to one worker (upstream error ${dir === 'rx' ? -2 : -3})`,
            );
          } else seen.set(id, i);
          if (configured !== undefined && id >= configured) {
            f.error(
              at('slaves', i, 'ports', name, dir, k),
              `${dir} queue ${id} does not exist: '${name}' has ${dir}.queues ${configured} (ids 0..${configured - 1})`,
            );
          }
        });
      });
      const count = configured ?? (seen.size ? Math.max(...seen.keys()) + 1 : 0);
      const missing: number[] = [];
      for (let q = 0; q < count; q++) if (!seen.has(q)) missing.push(q);
      if (missing.length) {
        const where =
          configured !== undefined
            ? originOf(r, ['nics', [...nics.keys()].indexOf(name), dir, 'queues'])
            : at('slaves');
        f.error(
          where,
          `${dir} queue${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of '${name}' ${missing.length > 1 ? 'are' : 'is'} assigned to no worker; ` +
            `queue ids must run from 0 to ${count - 1} without gaps (upstream error -4)`,
        );
      }
    }
  }
}
