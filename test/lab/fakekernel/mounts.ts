/**
 * hostMounts: the bind mounts the orchestrator makes inside a host's mount namespace, in this order,
 * after the host has its private /proc. `source` is relative to <mountpoint>/<host>/.
 *
 * Kinds: 'dir' and 'file' are plain bind mounts (targets under /run must be created first with
 * mkdir -p; /sys and /proc targets exist, except those marked optional, which are skipped when
 * missing: this machine's kernel has no /proc/modules). 'symlink' mounts
 * the source symlink itself over the target symlink (the new mount API; run
 * `/usr/bin/python3 test/lab/fakekernel/mount-symlink.py SOURCE TARGET` inside the host): it turns
 * the host's /proc/net into a link to /run/fakekernel/kernel/procnet, so toa_stats / uoa_stats can
 * appear there. The host's whole fake-kernel dir is at /run/fakekernel/kernel (the fake tools use
 * its ctl and proc/modules).
 */
import { join } from 'node:path';
import { repoRoot } from '../paths.js';
import type { LabHostProfile } from '../profile-types.js';
import { HOST_KERNEL_DIR } from './tree.js';

export interface HostMount {
  source: string;
  target: string;
  kind: 'dir' | 'file' | 'symlink';
  /** skip this mount when the target does not exist on this machine (e.g. /proc/modules without CONFIG_MODULES) */
  optional?: true;
}

/** Helper for kind 'symlink': `/usr/bin/python3 <this> SOURCE TARGET`. */
export const MOUNT_SYMLINK_HELPER = join(repoRoot(), 'test', 'lab', 'fakekernel', 'mount-symlink.py');

export function hostMounts(profile: LabHostProfile): HostMount[] {
  const real = profile.hugepages === 'real';
  const m: HostMount[] = [
    { source: 'sys/bus/pci', target: '/sys/bus/pci', kind: 'dir' },
    { source: 'sys/devices/pci0000:00', target: '/sys/devices/pci0000:00', kind: 'dir' },
    { source: 'sys/devices/system/node', target: '/sys/devices/system/node', kind: 'dir' },
    { source: 'sys/devices/system/cpu', target: '/sys/devices/system/cpu', kind: 'dir' },
    { source: 'sys/module', target: '/sys/module', kind: 'dir' },
    { source: 'sys/kernel/iommu_groups', target: '/sys/kernel/iommu_groups', kind: 'dir', optional: true },
    { source: 'sys/kernel/security', target: '/sys/kernel/security', kind: 'dir' },
    {
      source: 'sys/firmware/acpi/tables',
      target: '/sys/firmware/acpi/tables',
      kind: 'dir',
      optional: true,
    },
  ];
  if (!real) m.push({ source: 'sys/kernel/mm/hugepages', target: '/sys/kernel/mm/hugepages', kind: 'dir' });
  if (!real) m.push({ source: 'proc/meminfo', target: '/proc/meminfo', kind: 'file' });
  m.push(
    { source: 'proc/cpuinfo', target: '/proc/cpuinfo', kind: 'file' },
    { source: 'proc/modules', target: '/proc/modules', kind: 'file', optional: true },
    { source: 'proc/cmdline', target: '/proc/cmdline', kind: 'file' },
  );
  if (!real)
    m.push({ source: 'proc/sys/vm/nr_hugepages', target: '/proc/sys/vm/nr_hugepages', kind: 'file' });
  m.push(
    { source: '.', target: HOST_KERNEL_DIR, kind: 'dir' },
    { source: 'procnet-link', target: '/proc/net', kind: 'symlink' },
  );
  return m;
}
