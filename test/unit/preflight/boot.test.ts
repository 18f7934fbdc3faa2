import { describe, expect, it } from 'vitest';
import { KEYS } from '../../../src/desired/bootloader.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { r630, r630Host } from '../../support/facts-builder.js';
import { failing, tripped } from './helpers.js';

const host = (kernel: ResolvedHost['kernel'], over: Partial<ResolvedHost> = {}) =>
  r630Host({ kernel, ...over });
const KERNEL = (ids: string[]) => ids.filter((i) => i.startsWith('KERNEL-'));
const facts = (tables = 'APIC\nDMAR\nDSDT') =>
  r630()
    .kernel({ cmdline: 'BOOT_IMAGE=/boot/vmlinuz root=/dev/sda1 ro quiet', iommuGroups: 0 })
    .output(KEYS.acpiTables, tables)
    .build();

describe('preflight: kernel boot arguments', () => {
  it('a host without kernel settings, or with good ones, trips none', () => {
    expect(KERNEL(failing(r630Host(), facts()))).toEqual([]);
    expect(KERNEL(failing(host({ iommu: true, cmdline: { add: ['isolcpus=2-5'] } }), facts()))).toEqual([]);
  });

  it("KERNEL-001: a known argument's bad value", () => {
    const r = tripped(host({ cmdline: { add: ['intel_iommu=yes'] } }), facts(), 'KERNEL-001');
    expect(r.found).toContain('intel_iommu=yes: expected a comma list of on, off');
  });

  it('KERNEL-002: an unknown argument is a warning', () => {
    const r = tripped(host({ cmdline: { add: ['intel_iomu=on'] } }), facts(), 'KERNEL-002');
    expect(r.severity).toBe('warning');
    expect(r.found).toBe('intel_iomu=on');
  });

  it('KERNEL-003: CPU 0 in isolcpus / nohz_full', () => {
    const r = tripped(
      host({ cmdline: { add: ['isolcpus=domain,0-3', 'nohz_full=4-7'] } }),
      facts(),
      'KERNEL-003',
    );
    expect(r.found).toBe('isolcpus=domain,0-3');
  });

  it('KERNEL-004: the IOMMU asked for without DMAR/IVRS in the firmware; KMOD-002 defers to it', () => {
    const vfio = host({ iommu: true }, { dpdk: { version: '20.11.10', driver: 'vfio-pci' } });
    const r = tripped(vfio, facts('APIC\nDSDT\nFACP'), 'KERNEL-004');
    expect(r.found).toContain('no DMAR or IVRS');
    expect(failing(vfio, facts())).not.toContain('KMOD-002');
    expect(failing(vfio, facts())).not.toContain('KERNEL-004');
    // without kernel.iommu, vfio-pci on a host without IOMMU groups is still KMOD-002
    expect(failing(r630Host({ dpdk: { version: '20.11.10', driver: 'vfio-pci' } }), facts())).toContain(
      'KMOD-002',
    );
  });

  it('KERNEL-005: reboot pending, not allowed', () => {
    const r = tripped(host({ iommu: true, reboot: false }), facts(), 'KERNEL-005');
    expect(r.found).toBe('the running kernel lacks intel_iommu=on iommu=pt');
    expect(KERNEL(failing(host({ iommu: true }), facts()))).toEqual([]);
  });
});
