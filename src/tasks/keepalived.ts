/**
 * keepalived: /etc/keepalived/keepalived.conf for the DPVS fork (VRRP on <port>.kni with
 * dpdk_interface <port>; virtual_server blocks when keepalived owns the services), the kernel address
 * of the KNI netdev VRRP speaks on, and a restart of keepalived when the file changes (the unit is
 * shipped by the dpvs-service task).
 *
 * auth_pass is a Secret: it is written into the file (mode 0600) but every text shown to people — the
 * Change's diff — has it replaced by ******; summary/before/after never carry file content.
 */
import { managedFile } from '../plan/ops/managed-file.js';
import { hasAddress, KNI_ADDR_KEY, kniAddresses } from '../facts/reads/kni-address.js';
import { isBalancer } from '../inventory/roles.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import type { Change } from '../plan/change.js';
import { secretValue, type ControlInputs } from '../inventory/control.js';
import { quote, sh } from '../transport/quote.js';
import { keepalivedEnabled, servicesOf } from '../lb/desired.js';
import {
  KEEPALIVED_CONF_PATH,
  keepalivedSettings,
  redactKeepalived,
  renderKeepalivedConf,
} from '../lb/keepalived.js';
import type { PlanContext, Task, TaskPlan } from '../plan/task.js';

export const KEEPALIVED_TASK = 'keepalived';
export const KEEPALIVED_UNIT = 'keepalived';
/** the raw reading's key (tests) */
export const KNI_ADDR_OUTPUT = KNI_ADDR_KEY;

export interface KeepalivedTaskOptions {
  /** looks a Secret ({env}, {file}, literal) up; default: the values read at load (inventory.control) */
  resolveSecret?: (value: unknown, control: ControlInputs | undefined) => string | undefined;
}

export function createKeepalivedTask(opts: KeepalivedTaskOptions = {}): Task {
  const resolve = opts.resolveSecret ?? secretValue;
  return {
    name: KEEPALIVED_TASK,
    probe(host: ResolvedHost, _inv: LoadedInventory) {
      if (!keepalivedEnabled(host)) return {};
      const kni = keepalivedSettings(host).kniName;
      return {
        files: [KEEPALIVED_CONF_PATH],
        services: [KEEPALIVED_UNIT],
        ...kniAddresses.request(kni),
      };
    },
    plan(ctx: PlanContext): TaskPlan {
      const { host, facts, inventory } = ctx;
      if (!isBalancer(host) || !keepalivedEnabled(host)) return { changes: [] };
      const changes: Change[] = [];
      const k = keepalivedSettings(host);

      const kniAddress = host.keepalived?.kni_address;
      if (kniAddress) {
        const have = kniAddresses.read(facts);
        if (!have || !hasAddress(have, kniAddress)) {
          changes.push({
            id: `keepalived/kni-address/${k.kniName}`,
            task: KEEPALIVED_TASK,
            summary: `address ${kniAddress} on ${k.kniName} (VRRP)`,
            action: 'create',
            after: `${kniAddress} dev ${k.kniName}`,
            steps: [
              {
                kind: 'exec',
                command: sh`ip addr replace ${kniAddress} dev ${k.kniName} && ip link set ${k.kniName} up`,
              },
            ],
          });
        }
      }

      const authPass =
        host.keepalived?.auth_pass !== undefined
          ? resolve(host.keepalived.auth_pass, inventory.control)
          : undefined;
      const conf = renderKeepalivedConf({
        host,
        services: servicesOf(host, inventory.services ?? []),
        ...(authPass !== undefined ? { authPass } : {}),
      });
      const cur = facts.files?.[KEEPALIVED_CONF_PATH];
      const unit = facts.services?.[KEEPALIVED_UNIT];
      const before = cur?.exists ? redactKeepalived(cur.content ?? '') : null;
      const secretOnly = before !== null && cur?.content !== conf && before === redactKeepalived(conf);
      const write = managedFile({
        task: KEEPALIVED_TASK,
        id: 'keepalived/conf',
        path: KEEPALIVED_CONF_PATH,
        content: conf,
        mode: 0o600,
        current: cur,
        display: redactKeepalived,
        summary: `write ${KEEPALIVED_CONF_PATH} (${k.state} priority ${k.priority} on ${k.kniName}${secretOnly ? ', auth_pass changed' : ''}) and restart keepalived`,
        then: [
          {
            kind: 'exec',
            command: sh`systemctl enable ${KEEPALIVED_UNIT} && systemctl restart ${KEEPALIVED_UNIT}`,
          },
        ],
        disruptive: true,
      });
      if (write) {
        changes.push(write);
      } else if (!unit?.active || !unit.enabled) {
        changes.push({
          id: 'keepalived/running',
          task: KEEPALIVED_TASK,
          summary: `start keepalived (${unit?.active ? 'active' : 'inactive'}, ${unit?.enabled ? 'enabled' : 'not enabled'})`,
          action: 'run',
          steps: [{ kind: 'exec', command: `systemctl enable --now ${quote(KEEPALIVED_UNIT)}` }],
        });
      }
      return { changes };
    },
  };
}

export const keepalivedTask: Task = createKeepalivedTask();
