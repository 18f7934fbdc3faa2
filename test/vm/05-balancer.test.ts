/**
 * The balancer role on a real kernel and a real systemd: kernel modules loaded with their parameters and
 * persisted, the e1000 and virtio NICs bound with the REAL dpdk-devbind.py, dpvs (the lab's simulator
 * built from the fixture sources) run by the guest's systemd, keepalived ordered after it — and
 * `dpvs-deploy rollback` putting the NICs back. The management NIC is refused by preflight (NIC-003).
 */
import { describe, expect, it } from 'vitest';
import type { HostEntry } from '../../src/inventory/schema.js';
import { dpvsDeploy, inventoryVariant, missingTasks, unavailable, vm } from './harness.js';
import { vmSources } from './fixtures.js';
import { MGMT_MAC } from './qemu.js';
import { pciByMac } from './vm.js';

const off = unavailable();

async function balancer(name: string, edit: (h: HostEntry) => void = () => {}): Promise<string> {
  const src = await vmSources();
  return inventoryVariant(name, (h) => {
    h.roles = ['balancer'];
    h.dpdk = { version: src.dpdk.version, source: { file: src.dpdk.file }, driver: 'uio_pci_generic' };
    // 128 MiB of hugepages per node: upstream's default mbuf pool (1048575) does not fit, and dpvs would
    // exit with 'Cannot init mbuf pool on socket 0' (HP-004 warns of it); 16383 mbufs do.
    h.dpvs = {
      version: src.dpvs.version,
      source: { file: src.dpvs.file },
      pktpool_size: 16383,
      conn_pool_size: 16384,
    };
    edit(h);
  });
}

describe.skipIf(off !== null)(`balancer role on a real kernel${off ? ` (SKIPPED: ${off})` : ''}`, () => {
  it('preflight refuses the management NIC in the bind list (NIC-003) and nothing changes', async () => {
    const g = await vm();
    const mgmt = await pciByMac(g.target, MGMT_MAC);
    const inv = await balancer('mgmt-nic', (h) => {
      h.nics = [{ name: 'dpdk0', match: { pci: mgmt } }];
      h.workers = { master: 0, slaves: [{ cpu: 1, ports: { dpdk0: { rx: [0], tx: [0] } } }] };
    });
    const plan = await dpvsDeploy(['plan', inv]);
    expect(plan.code, plan.all).toBe(1);
    expect(plan.all).toContain('NIC-003');
    const apply = await dpvsDeploy(['apply', inv, '--yes']);
    expect(apply.code, apply.all).toBe(1);
    expect((await g.must(`basename "$(readlink /sys/bus/pci/devices/${mgmt}/driver)"`)).trim()).toBe(
      'virtio-pci',
    );
    expect((await g.ssh('true')).code).toBe(0);
  });

  it('apply binds the test NICs, loads and persists the modules, and systemd runs dpvs; rollback restores the NICs', async (ctx) => {
    const missing = await missingTasks('kmods', 'nic-binding', 'dpvs-service');
    if (missing) return ctx.skip(missing);
    const g = await vm();
    const { e1000, virtio } = g.state.nics;
    const drv = async (bdf: string): Promise<string> =>
      (await g.must(`basename "$(readlink /sys/bus/pci/devices/${bdf}/driver)"`)).trim();
    const inv = await balancer('balancer');

    const apply = await dpvsDeploy(['apply', inv, '--yes'], 1_200_000);
    expect(apply.code, apply.all).toBe(0);
    const plan = await dpvsDeploy(['plan', inv]);
    expect(plan.code, plan.all).toBe(0);
    const verify = await dpvsDeploy(['verify', inv]);
    expect(verify.code, verify.all).toBe(0);

    expect(await g.must('cat /proc/modules')).toMatch(/^uio_pci_generic /m);
    expect(await g.must('cat /etc/modules-load.d/*.conf')).toMatch(/^uio_pci_generic$/m);
    expect(await drv(e1000)).toBe('uio_pci_generic');
    expect(await drv(virtio)).toBe('uio_pci_generic');
    expect(await g.must('dpdk-devbind.py --status-dev net')).toMatch(
      new RegExp(`${e1000.replace(/\./g, '\\.')} .*drv=uio_pci_generic`),
    );
    expect((await g.must('systemctl is-active dpvs.service')).trim()).toBe('active');
    expect(await g.must('systemctl show -p MainPID --value dpvs.service')).toMatch(/^[1-9]\d*$/m);
    const ka = await g.ssh('systemctl show -p After --value keepalived.service');
    if (ka.code === 0 && (await g.ssh('systemctl cat keepalived.service')).code === 0)
      expect(ka.stdout).toContain('dpvs.service');

    const rollback = await dpvsDeploy(['rollback', inv, '--yes'], 900_000);
    expect(rollback.code, rollback.all).toBe(0);
    expect(await drv(e1000)).toBe('e1000');
    expect(await drv(virtio)).toBe('virtio-pci');
  });
});
