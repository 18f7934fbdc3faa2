import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { EXTRA_OUTPUT, kmodsTask, MODPROBE_CONF, MODULES_LOAD_CONF } from '../../../src/tasks/kmods.js';
import { planContext, r630, r630Host } from '../../support/facts-builder.js';

const KO = '/opt/dpvs-deploy/dpdk/20.11.10/kmod/rte_kni.ko';
const SHA = 'c'.repeat(64);

function h(
  driver: 'uio_pci_generic' | 'vfio-pci' | 'igb_uio' = 'uio_pci_generic',
  dpvs = '1.9.10',
): ResolvedHost {
  return r630Host({ dpvs: { version: dpvs }, dpdk: { driver } });
}

function built(): Facts {
  const f = r630().build();
  f.files[KO] = { exists: true, sha256: SHA, mode: '0644', content: null };
  return f;
}

describe('kmods planner', () => {
  it('installs rte_kni.ko into extra/, persists modules and options, loads them (20.11, uio_pci_generic)', () => {
    const { changes } = kmodsTask.plan(planContext(h(), built()));
    expect(changes.map((c) => c.id)).toEqual([
      'kmods/install/rte_kni',
      'kmods/persist',
      'kmods/load/uio_pci_generic',
      'kmods/load/rte_kni',
    ]);
    const install = changes[0]!.steps[0];
    expect(install?.kind === 'exec' && install.command).toContain(
      '/lib/modules/6.1.0-18-amd64/extra/rte_kni.ko',
    );
    expect(install?.kind === 'exec' && install.command).toContain('depmod -a 6.1.0-18-amd64');
    const writes = changes[1]!.steps.flatMap((s) => (s.kind === 'write' ? [[s.path, s.content]] : []));
    expect(Object.fromEntries(writes)).toEqual({
      [MODULES_LOAD_CONF]: '# managed by dpvs-deploy: modules DPVS needs at boot\nuio_pci_generic\nrte_kni\n',
      [MODPROBE_CONF]: '# managed by dpvs-deploy: module options for DPVS\noptions rte_kni carrier=on\n',
    });
    expect(changes.some((c) => c.disruptive)).toBe(false);
  });

  it('plans nothing once converged, and reloads rte_kni loaded without carrier=on (disruptive)', () => {
    const first = kmodsTask.plan(planContext(h(), built()));
    const f = built();
    f.outputs[EXTRA_OUTPUT] = { code: 1, stdout: `${SHA}  /lib/modules/6.1.0-18-amd64/extra/rte_kni.ko\n` };
    for (const c of first.changes)
      for (const s of c.steps)
        if (s.kind === 'write')
          f.files[s.path] = { exists: true, sha256: null, mode: '0644', content: s.content };
    f.modules.push({ name: 'uio_pci_generic', params: {}, refcount: 0 });
    f.modules.push({ name: 'rte_kni', params: { carrier: 'on' }, refcount: 0 });
    expect(kmodsTask.plan(planContext(h(), f)).changes).toEqual([]);
    expect(kmodsTask.verify!(planContext(h(), f))).toEqual([]);
    const off = structuredClone(f);
    off.modules = off.modules.map((m) => (m.name === 'rte_kni' ? { ...m, params: { carrier: 'off' } } : m));
    const re = kmodsTask.plan(planContext(h(), off)).changes;
    expect(re.map((c) => [c.id, c.disruptive])).toEqual([['kmods/reload/rte_kni', true]]);
    expect(kmodsTask.verify!(planContext(h(), off))[0]).toContain('carrier=off');
  });

  it('loads igb_uio from the 18.11 build with uio, and vhost_net for 1.10', () => {
    const f = r630().build();
    const host18 = r630Host({ dpvs: { version: '1.8.12' }, dpdk: { version: '18.11.2' } });
    const ids = kmodsTask.plan(planContext(host18, f)).changes.map((c) => c.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'kmods/install/igb_uio',
        'kmods/load/uio',
        'kmods/load/igb_uio',
        'kmods/load/rte_kni',
      ]),
    );
    const host110 = r630Host({ dpvs: { version: '1.10.2' }, dpdk: { version: '24.11', driver: 'vfio-pci' } });
    const ids110 = kmodsTask.plan(planContext(host110, f)).changes.map((c) => c.id);
    // r630 has vhost_net (vhost built in: /dev/vhost-net exists, no vhost module to load)
    expect(ids110).toEqual(['kmods/persist', 'kmods/load/vfio_pci', 'kmods/load/vhost_net']);
  });

  it('fails clearly for igb_uio on 20.11 when dpdk-kmods is not installed', () => {
    const f = r630().build();
    const c = kmodsTask.plan(planContext(h('igb_uio'), f)).changes.find((x) => x.id === 'kmods/igb_uio');
    const s = c?.steps[0];
    expect(s?.kind === 'exec' && s.command).toContain('dpdk-kmods');
  });

  it('rollback removes the persistence files and the copied .ko', () => {
    const f = built();
    f.files[MODULES_LOAD_CONF] = { exists: true, sha256: null, mode: '0644', content: 'x\n' };
    f.outputs[EXTRA_OUTPUT] = { code: 1, stdout: `${SHA}  /lib/modules/6.1.0-18-amd64/extra/rte_kni.ko\n` };
    const rb = kmodsTask.rollback!(planContext(h(), f)).changes;
    const cmd = rb[0]!.steps[0];
    expect(cmd?.kind === 'exec' && cmd.command).toBe(
      `rm -f ${MODULES_LOAD_CONF} /lib/modules/6.1.0-18-amd64/extra/rte_kni.ko`,
    );
    expect(kmodsTask.rollback!(planContext(h(), r630().build())).changes).toEqual([]);
  });
});
