/**
 * BUILD-008: a kernel module of the DPDK build (rte_kni, igb_uio) that does not build on the kernel it is
 * built for, predicted from the sampled limits (test/fixtures/upstream/kmods/modules.yaml).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { KMOD_KERNEL_LIMITS } from '../../../src/preflight/checks/kmod-kernel.js';
import { r630, r630Host } from '../../support/facts-builder.js';
import { failing, tripped } from './helpers.js';

const SAMPLES = parse(
  readFileSync(new URL('../../fixtures/upstream/kmods/modules.yaml', import.meta.url), 'utf8'),
) as { limits: Array<{ module: string; dpdk: string; from_kernel: string }> };

function host(dpdk: Record<string, unknown> = {}, dpvs: Record<string, unknown> = {}): ResolvedHost {
  return r630Host({
    name: 'lb1',
    dpvs: { version: '1.9.10', kni: false, ...dpvs },
    dpdk: { version: '20.11.10', driver: 'igb_uio', march: 'default', ...dpdk },
  } as Partial<ResolvedHost>);
}
const on = (release: string): Facts => r630().kernel({ release }).build();

describe('BUILD-008: a kernel module of the DPDK build that does not build on the kernel', () => {
  it('the check’s table is the sampled one', () => {
    expect(KMOD_KERNEL_LIMITS.map((l) => [l.module, l.dpdkLine, l.fromKernel])).toEqual(
      SAMPLES.limits.map((l) => [l.module, l.dpdk, l.from_kernel]),
    );
  });

  it('rte_kni of DPDK 20.11 on Linux 6.8+: refused, naming the module, the kernel and the ways out', () => {
    const r = tripped(
      host({ driver: 'uio_pci_generic' }, { kni: true }),
      on('6.8.0-31-generic'),
      'BUILD-008',
    );
    expect(r.found).toBe(
      'rte_kni of DPDK 20.11.10 does not build against kernel 6.8.0-31-generic (6.8 or later): its kni_net.c calls strlcpy() (v20.11.10:kernel/linux/kni/kni_net.c:835), which Linux 6.8 removed',
    );
    expect(r.fix).toMatch(/^set dpvs\.kni: false/);
    expect(r.fix).toContain('-Dkernel_dir=/lib/modules/<release>');
    expect(r.fix).toContain('virtio-user');
  });

  it('builds: 6.1 (seen in the VM tier), kni off, a -Dkernel_dir before 6.8, own patches', () => {
    expect(failing(host({ driver: 'uio_pci_generic' }, { kni: true }), on('6.1.0-50-amd64'))).not.toContain(
      'BUILD-008',
    );
    expect(
      failing(host({ driver: 'uio_pci_generic' }, { kni: false }), on('6.8.0-31-generic')),
    ).not.toContain('BUILD-008');
    const kdir = host(
      { driver: 'uio_pci_generic', meson_options: ['-Dkernel_dir=/lib/modules/6.1.0-50-amd64'] },
      { kni: true },
    );
    expect(failing(kdir, on('6.8.0-31-generic'))).not.toContain('BUILD-008');
    // the other way round: a build host on 6.1 building for a 6.8 fleet is refused
    const to68 = host(
      { driver: 'uio_pci_generic', meson_options: ['-Dkernel_dir=/lib/modules/6.8.0-31-generic'] },
      { kni: true },
    );
    expect(tripped(to68, on('6.1.0-50-amd64'), 'BUILD-008').found).toContain('kernel 6.8.0-31-generic');
    const patched = host({ driver: 'uio_pci_generic', patches: ['fix-kni.patch'] }, { kni: true });
    expect(failing(patched, on('6.8.0-31-generic'))).not.toContain('BUILD-008');
  });

  it('a build for -Dkernel_dir does not ask for the running kernel’s headers (BUILD-001)', () => {
    const h = {
      ...host(
        { kmods: { file: 'k.tar.gz' }, meson_options: ['-Dkernel_dir=/lib/modules/6.1.0-50-amd64'] },
        { kni: true },
      ),
      packages: false,
    } as ResolvedHost;
    const f = r630().kernel({ release: '6.18.1-builder', headersInstalled: false }).build();
    expect(failing(h, f)).not.toContain('BUILD-001');
    const running = {
      ...host({ kmods: { file: 'k.tar.gz' } }, { kni: true }),
      packages: false,
    } as ResolvedHost;
    expect(tripped(running, f, 'BUILD-001').found).toContain('igb_uio and rte_kni');
  });
});
