/**
 * The driver overrides driverctl keeps (`driverctl list-overrides`): one "<pci> <driver>" line per
 * device (driverctl 0.115:driverctl:list_overrides, test/fixtures/upstream/driverctl/). Nothing when
 * driverctl is not installed.
 *
 *   { '0000:04:00.0': 'vfio-pci' }
 */
import { z } from 'zod';
import { factReader } from '../read.js';

const KEY = 'nic-binding-driverctl';

export const driverOverridesSchema = z.record(z.string(), z.string());

export const driverOverrides = factReader<Record<string, string>>({
  name: 'driver overrides (driverctl list-overrides)',
  keys: [KEY],
  schema: driverOverridesSchema,
  request: () => ({ execs: { [KEY]: { argv: ['driverctl', 'list-overrides'], stderr: false } } }),
  parse: (raw) => {
    const out: Record<string, string> = {};
    for (const line of (raw(KEY)?.stdout ?? '').split('\n')) {
      const [pci, drv] = line.trim().split(/\s+/);
      if (pci && drv) out[pci] = drv;
    }
    return out;
  },
});
