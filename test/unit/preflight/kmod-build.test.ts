import { describe, expect, it } from 'vitest';
import { r630, r630Host } from '../../support/facts-builder.js';
import { failing, tripped } from './helpers.js';

const realserver = r630Host({
  name: 'rs1',
  roles: ['realserver'],
  nics: [],
  hugepages: undefined,
  workers: undefined,
});

describe('kernel module checks', () => {
  it('KMOD-001 uio_pci_generic not available', () => {
    const r = tripped(r630Host(), r630().withoutModules('uio_pci_generic').build(), 'KMOD-001');
    expect(r.found).toBe('modprobe cannot find uio_pci_generic on kernel 6.1.0-18-amd64');
    expect(r.expected).toBe('module uio_pci_generic available');
  });
  it('KMOD-001 igb_uio needs uio (DPVS 1.8 defaults to igb_uio)', () => {
    const host = r630Host({ dpvs: { version: '1.8.12' }, dpdk: undefined });
    const r = tripped(host, r630().withoutModules('uio').build(), 'KMOD-001');
    expect(r.found).toContain('cannot find uio ');
    expect(r.expected).toContain('igb_uio is built on top of it');
  });
  it('KMOD-002 vfio-pci without IOMMU', () => {
    const host = r630Host({ dpdk: { version: '20.11.10', driver: 'vfio-pci' } });
    const r = tripped(host, r630().kernel({ iommuGroups: 0 }).build(), 'KMOD-002');
    expect(r.found).toMatch(/^no IOMMU groups \(kernel cmdline: BOOT_IMAGE=/);
    expect(r.fix).toContain('Virtualization Technology (Intel VT-d / AMD IOMMU): Enabled');
    expect(r.fix).toContain('intel_iommu=on iommu=pt');
    const noiommu = r630Host({ dpdk: { version: '20.11.10', driver: 'vfio-pci', allow_noiommu: true } });
    expect(failing(noiommu, r630().kernel({ iommuGroups: 0 }).build())).not.toContain('KMOD-002');
  });
  it('KMOD-003 DPVS 1.10 KNI without vhost_net', () => {
    const host = r630Host({ dpvs: { version: '1.10.2' }, dpdk: { version: '24.11' } });
    const facts = r630().withoutModules('vhost_net').file('/dev/vhost-net', null).build();
    const r = tripped(host, facts, 'KMOD-003');
    expect(r.found).toBe('no vhost_net module and no /dev/vhost-net on kernel 6.1.0-18-amd64');
    expect(r.fix).toContain('dpvs.kni: false');
    expect(failing(r630Host({ dpvs: { version: '1.10.2', kni: false } }), facts)).not.toContain('KMOD-003');
  });
  it('KMOD-004 lockdown refuses toa on a realserver', () => {
    const r = tripped(
      realserver,
      r630().kernel({ lockdown: 'integrity', secureBoot: true }).build(),
      'KMOD-004',
    );
    expect(r.found).toBe('lockdown integrity, Secure Boot on; unsigned modules to load: toa');
    expect(r.fix).toContain('Secure Boot: Disabled');
  });
  it('KMOD-004 igb_uio and rte_kni on a 1.9 balancer', () => {
    const host = r630Host({ dpdk: { version: '20.11.10', driver: 'igb_uio' } });
    const r = tripped(host, r630().kernel({ lockdown: 'confidentiality' }).build(), 'KMOD-004');
    expect(r.found).toBe('lockdown confidentiality; unsigned modules to load: igb_uio and rte_kni');
  });
  it('KMOD-005 rte_kni loaded with carrier off', () => {
    const r = tripped(r630Host(), r630().loadedModule('rte_kni', { carrier: 'off' }).build(), 'KMOD-005');
    expect(r.severity).toBe('warning');
    expect(r.found).toBe('rte_kni loaded with carrier=off');
    expect(failing(r630Host(), r630().loadedModule('rte_kni', { carrier: 'on' }).build())).not.toContain(
      'KMOD-005',
    );
  });
});

describe('build checks', () => {
  it('BUILD-001 headers missing and packages: false', () => {
    const r = tripped(
      { ...realserver, packages: false },
      r630().kernel({ headersInstalled: false }).build(),
      'BUILD-001',
    );
    expect(r.found).toBe('no /lib/modules/6.1.0-18-amd64/build; modules to build: toa; packages: false');
    expect(r.fix).toContain('linux-headers-6.1.0-18-amd64');
  });
  it('BUILD-002 headers missing, newer kernel installed (reboot pending)', () => {
    const facts = r630()
      .os('rocky9')
      .kernel({ headersInstalled: false })
      .output('kernels-installed', '5.14.0-362.8.1.el9_3.x86_64\n5.14.0-427.13.1.el9_4.x86_64\n')
      .build();
    const r = tripped(realserver, facts, 'BUILD-002');
    expect(r.severity).toBe('warning');
    expect(r.found).toContain('a newer kernel 5.14.0-427.13.1.el9_4.x86_64 is installed (reboot pending)');
    expect(r.expected).toContain('kernel-devel-5.14.0-362.8.1.el9_3.x86_64');
    expect(r.fix).toBe(
      'reboot into 5.14.0-427.13.1.el9_4.x86_64 before applying, so headers of the running kernel are installable',
    );
  });
  it('BUILD-003 pkg-config 0.27.1 with DPDK 20.11', () => {
    const r = tripped(
      r630Host(),
      r630().os('centos7').output('pkg-config-version', '0.27.1\n').build(),
      'BUILD-003',
    );
    expect(r.found).toBe('pkg-config 0.27.1');
    expect(r.expected).toBe('pkg-config ≥ 0.29.2');
    const old = r630Host({ dpvs: { version: '1.8.12' }, dpdk: undefined });
    expect(failing(old, r630().os('centos7').output('pkg-config-version', '0.27.1\n').build())).not.toContain(
      'BUILD-003',
    );
  });
  it('BUILD-003 pkg-config missing on CentOS 7', () => {
    const r = tripped(r630Host(), r630().os('centos7').command('pkg-config', null).build(), 'BUILD-003');
    expect(r.found).toBe('pkg-config not installed; CentOS Linux 7 (Core) packages 0.27.1');
  });
  it('BUILD-004 too little disk for the build', () => {
    const r = tripped(r630Host(), r630().diskFree('/opt', 900).build(), 'BUILD-004');
    expect(r.found).toBe('900 MiB free at /opt');
    expect(r.expected).toBe('at least 2048 MiB free at /opt');
    const custom = r630Host({ dpdk: { version: '20.11.10', build_dir: '/data/build' } });
    expect(tripped(custom, r630().diskFree('/data/build', 100).build(), 'BUILD-004').found).toBe(
      '100 MiB free at /data/build',
    );
  });
  it('BUILD-005 DPVS 1.10 with DPDK 20.11', () => {
    const host = r630Host({ dpvs: { version: '1.10.2' }, dpdk: { version: '20.11.10' } });
    const r = tripped(host, r630().build(), 'BUILD-005');
    expect(r.found).toBe('DPVS 1.10.2 with DPDK 20.11.10');
    expect(r.expected).toBe('DPDK 24.11 or later');
  });
});
