/**
 * What a host's DPVS release cannot do, refused before anything runs. Each rule is an upstream sample
 * (test/fixtures/upstream/, cited there) the tool would otherwise break on:
 * - 1.8 has no `kni` keyword and exits "add KNI port fail" without rte_kni (dpvs-conf-kni-keyword);
 * - 1.8 takes no -c: it always reads /etc/dpvs.conf (dpvs-cli-1.8);
 * - `ipvsadm --conn-timeout` exists from 1.9.6 (ipvsadm-ln-conn-timeout, ipvsadm-conn-timeout-1.8-refused);
 * - `ipvsadm -H` needs a src-range or dst-range (ipvsadm-H-without-range);
 * - `dpip -6 route` drops a metric and never prints one, so such a route never matches
 *   (dpip-route6-metric-dropped).
 */
import { isBalancer } from './roles.js';
import { DEFAULT_DPVS_VERSION, dpvsBehaviour } from '../versions.js';
import type { Findings } from './findings.js';
import { originOf, type Resolution } from './merge.js';
import type { Inventory } from './schema.js';

const versionOf = (r: Resolution): string => r.host.dpvs?.version ?? DEFAULT_DPVS_VERSION;

export function checkSeries(inv: Inventory, res: Resolution[], f: Findings): void {
  const byName = new Map(res.map((r) => [r.host.name, r]));
  for (const r of res) {
    const h = r.host;
    const o = (...p: Array<string | number>) => originOf(r, p);
    const b = dpvsBehaviour(versionOf(r));
    if (b && isBalancer(h)) {
      if (!b.kniKeyword && h.dpvs?.kni === false)
        f.error(
          o('dpvs', 'kni'),
          `DPVS ${versionOf(r)} has no 'kni' switch: it always runs KNI and exits "add KNI port fail" ` +
            `without rte_kni; remove kni: false (dpvs-deploy loads rte_kni), or use DPVS 1.9.8 or later`,
        );
      if (!b.fileOptions && h.dpvs?.config_path !== undefined && h.dpvs.config_path !== b.defaultConf)
        f.error(
          o('dpvs', 'config_path'),
          `DPVS ${versionOf(r)} always reads ${b.defaultConf} (it has no -c option); remove config_path`,
        );
    }
    (h.routes ?? []).forEach((rt, i) => {
      if (rt.metric !== undefined && (rt.prefix.includes(':') || (rt.via ?? '').includes(':')))
        f.error(
          o('routes', i, 'metric'),
          `dpip -6 ignores a route's metric and never lists one (so the route would be re-added on every ` +
            `apply); remove metric from IPv6 route ${rt.prefix}`,
        );
    });
  }
  (inv.services ?? []).forEach((s, i) => {
    if (s.mode === 'snat' && s.match && s.match.src_range === undefined && s.match.dst_range === undefined)
      f.error(
        ['services', i, 'match'],
        `an SNAT match needs src_range or dst_range: ipvsadm -H refuses a match without one ` +
          `("illegal match specified"); add e.g. src_range: 192.168.100.0-192.168.100.254`,
        true,
      );
    if (s.conn_timeout_s === undefined) return;
    for (const name of s.balancers) {
      const r = byName.get(name);
      if (!r) continue;
      if (dpvsBehaviour(versionOf(r))?.connTimeout === false)
        f.error(
          ['services', i, 'conn_timeout_s'],
          `ipvsadm --conn-timeout exists from DPVS 1.9.6 on; balancer ${name} runs ${versionOf(r)}: ` +
            `remove conn_timeout_s or upgrade ${name}`,
        );
    }
  });
}
