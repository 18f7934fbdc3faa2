/**
 * The devices driverctl has an override for (`driverctl list-overrides`): one "<device> <driver>" line
 * per device whose driver_override is set, where <driver> is the driver the device is BOUND to now, or
 * "(none)" when it is unbound: not the override itself (driverctl 0.111-1, Debian bookworm:
 * test/fixtures/upstream/driverctl/list-overrides.yaml). Nothing when driverctl is not installed or
 * finds no overridable device (its message goes to stderr, which the read drops).
 *
 *   { '0000:04:00.0': 'vfio-pci', '0000:04:00.1': null }
 */
import { z } from 'zod';
import { factReader } from '../read.js';

const KEY = 'nic-binding-driverctl';

export const driverOverridesSchema = z.record(z.string(), z.string().nullable());

export const driverOverrides = factReader<Record<string, string | null>>({
  name: 'driver overrides (driverctl list-overrides)',
  keys: [KEY],
  schema: driverOverridesSchema,
  request: () => ({ execs: { [KEY]: { argv: ['driverctl', 'list-overrides'], stderr: false } } }),
  parse: (raw) => {
    const out: Record<string, string | null> = {};
    for (const line of (raw(KEY)?.stdout ?? '').split('\n')) {
      const [pci, drv] = line.trim().split(/\s+/);
      if (pci && drv) out[pci] = drv === '(none)' ? null : drv;
    }
    return out;
  },
});
