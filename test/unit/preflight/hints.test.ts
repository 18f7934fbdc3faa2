/** Preflight fixes that must never make things worse: no kernel downgrade, no missing driver as the way out. */
import { describe, expect, it } from 'vitest';
import { r630, r630Host } from '../../support/facts-builder.js';
import { tripped } from './helpers.js';

const realserver = r630Host({
  name: 'rs1',
  roles: ['realserver'],
  nics: [],
  hugepages: undefined,
  workers: undefined,
});

describe('BUILD-002 on a host running a kernel newer than the installed ones', () => {
  it('does not suggest rebooting into an older kernel', () => {
    const facts = r630()
      .kernel({ release: '6.18.0-1-amd64', headersInstalled: false })
      .output('kernels-installed', '6.1.0-57-amd64\n6.1.0-18-amd64\n')
      .build();
    const r = tripped(realserver, facts, 'BUILD-002');
    expect(r.found).not.toContain('reboot pending');
    expect(r.fix).not.toMatch(/reboot/);
    expect(r.fix).not.toContain('6.1.0-57-amd64');
    expect(r.expected).toContain('linux-headers-6.18.0-1-amd64');
  });

  it('still suggests the reboot towards a newer installed kernel (6.1.0-57 after 6.1.0-18)', () => {
    const facts = r630()
      .kernel({ headersInstalled: false })
      .output('kernels-installed', '6.1.0-18-amd64\n6.1.0-57-amd64\n')
      .build();
    expect(tripped(realserver, facts, 'BUILD-002').fix).toBe(
      'reboot into 6.1.0-57-amd64 before applying, so headers of the running kernel are installable',
    );
  });
});

describe('KMOD-001 never offers the missing driver as the fix', () => {
  it('uio_pci_generic missing: offers vfio-pci and igb_uio, not uio_pci_generic', () => {
    const r = tripped(r630Host(), r630().withoutModules('uio_pci_generic').build(), 'KMOD-001');
    expect(r.fix).toContain('or choose another dpdk.driver this kernel has (vfio-pci, igb_uio)');
    expect(r.fix).not.toContain('uio_pci_generic');
  });

  it('vfio-pci missing: offers uio_pci_generic, not vfio-pci', () => {
    const host = r630Host({ dpdk: { version: '20.11.10', driver: 'vfio-pci' } });
    const r = tripped(host, r630().withoutModules('vfio-pci', 'vfio_pci').build(), 'KMOD-001');
    expect(r.fix).toContain('uio_pci_generic');
    expect(r.fix).not.toMatch(/\(.*vfio-pci.*\)/);
  });

  it('no binding driver at all: says so instead of naming one', () => {
    const r = tripped(
      r630Host(),
      r630().withoutModules('uio_pci_generic', 'vfio-pci', 'vfio_pci', 'uio').build(),
      'KMOD-001',
    );
    expect(r.fix).toContain('this kernel has none of the other binding drivers');
    expect(r.fix).not.toContain('choose another dpdk.driver this kernel has');
  });
});
