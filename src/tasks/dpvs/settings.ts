/**
 * Effective DPVS settings of a host for the dpvs-build, dpvs-conf and dpvs-service tasks: versions (with
 * the matrix's defaults), on-host paths, timeouts and the rollout policy. Pure.
 */
import type { Facts } from '../../facts/types.js';
import type { LoadedInventory, ResolvedHost } from '../../inventory/types.js';
import {
  DEFAULT_BEHAVIOUR,
  DEFAULT_DPVS_VERSION,
  dpvsBehaviour,
  lookupPairing,
  type VersionPairing,
} from '../../versions.js';
import { dpvsLayout, type DpvsLayout } from '../../desired/layout.js';

export const DPVS_UNIT = 'dpvs';
export const DPVS_UNIT_PATH = '/etc/systemd/system/dpvs.service';
export const KEEPALIVED_UNIT_PATH = '/etc/systemd/system/keepalived.service';
export const DEFAULT_START_TIMEOUT_S = 90;

/** A host that cannot be planned for a reason the operator must fix (bad layout, missing NIC...). */
export class DpvsPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DpvsPlanError';
  }
}

export { isBalancer } from '../../inventory/roles.js';

export function dpvsVersionOf(host: ResolvedHost): string {
  return host.dpvs?.version ?? DEFAULT_DPVS_VERSION;
}

/** The version pairing of the host's DPVS (and DPDK); a planning error when it is outside the matrix. */
export function pairingOf(host: ResolvedHost): { pairing: VersionPairing; dpdkVersion: string } {
  const r = lookupPairing(dpvsVersionOf(host), host.dpdk?.version);
  if (!r.ok) throw new DpvsPlanError(r.message);
  return { pairing: r.pairing, dpdkVersion: r.dpdkVersion };
}

/** The host's DPVS paths: 1.8 always reads /etc/dpvs.conf and serves /var/run/dpvs_ctrl (no -c/-x). */
export function layoutOf(host: ResolvedHost): DpvsLayout {
  // validate refuses a dpvs.version that is no version, so the default is only a type fallback
  const b = dpvsBehaviour(dpvsVersionOf(host)) ?? DEFAULT_BEHAVIOUR;
  const conf = b.fileOptions ? host.dpvs?.config_path : b.defaultConf;
  return dpvsLayout(host.dpvs?.prefix, conf, b);
}

export function startTimeoutS(host: ResolvedHost): number {
  return Math.ceil(host.dpvs?.start_timeout_s ?? DEFAULT_START_TIMEOUT_S);
}

export function rollbackOnHealthFailure(inventory: LoadedInventory): boolean {
  return inventory.doc.rollout?.rollback_on_health_failure === true;
}

/** dpvs is running now (its unit is active). */
export function dpvsActive(facts: Facts): boolean {
  return facts.services[DPVS_UNIT]?.active === true;
}
