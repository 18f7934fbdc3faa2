import { describe, expect, it } from 'vitest';
import { mergeRequests, overlayFacts } from '../../../src/facts/probe.js';
import { factsBuilder } from '../../support/facts-builder.js';

describe('overlayFacts (a re-probe of one task request over the facts from before)', () => {
  const before = factsBuilder()
    .nofile(1024)
    .file('/etc/dpvs.conf', 'old conf\n')
    .file('/etc/security/limits.d/dpvs.conf', null)
    .pkg('gcc', '12.2')
    .pkg('make', null)
    .service('dpvs', { active: true, enabled: true })
    .output('dpip-link', 'dpdk0 up\n')
    .process('dpvs', [100])
    .command('dpdk-devbind.py', null)
    .loadedModule('rte_kni', { carrier: 'on' })
    .loadedModule('uio', {})
    .modulesAvailable('igb_uio', 'rte_kni')
    .build();

  it('fresh for what the request named, earlier values for the rest, fixed sections all fresh', () => {
    const req = mergeRequests([{ files: ['/etc/security/limits.d/dpvs.conf'], packages: ['make'] }]);
    const fresh = factsBuilder()
      .nofile(65536)
      .file('/etc/security/limits.d/dpvs.conf', 'dpvs - nofile 65536\n')
      .pkg('make', '4.3')
      .loadedModule('rte_kni', {})
      .loadedModule('uio', {})
      .build();
    fresh.hugepages = [{ sizeKb: 2048, total: 512, free: 512 }];
    const out = overlayFacts(before, fresh, req);

    expect(out.limits.nofile).toBe(65536);
    expect(out.hugepages).toEqual(fresh.hugepages);
    expect(out.files['/etc/security/limits.d/dpvs.conf']?.content).toBe('dpvs - nofile 65536\n');
    expect(out.files['/etc/dpvs.conf']?.content).toBe('old conf\n');
    expect(out.packages).toEqual({ gcc: '12.2', make: '4.3' });
    expect(out.services['dpvs']).toEqual(before.services['dpvs']);
    expect(out.outputs['dpip-link']?.stdout).toBe('dpdk0 up\n');
    expect(out.processes['dpvs']).toEqual([100]);
    expect(out.commands['dpdk-devbind.py']).toBeNull();
    // a module this request did not ask about keeps the parameters read before; it is still loaded
    expect(out.modules.find((m) => m.name === 'rte_kni')?.params).toEqual({ carrier: 'on' });
    expect(out.modulesAvailable).toEqual(['igb_uio', 'rte_kni']);
    // the earlier facts are not modified
    expect(before.limits.nofile).toBe(1024);
    expect(before.packages['make']).toBeNull();
  });

  it('a module the request named takes its fresh state; an unloaded one is gone', () => {
    const req = mergeRequests([{ modules: ['rte_kni', 'igb_uio'] }]);
    const fresh = factsBuilder().loadedModule('uio', {}).modulesAvailable('rte_kni').build();
    const out = overlayFacts(before, fresh, req);
    expect(out.modules.map((m) => m.name).sort()).toEqual(['uio']);
    expect(out.modulesAvailable).toEqual(['rte_kni']);
  });

  it('a module unloaded behind the request is gone too: /proc/modules is a fixed section', () => {
    const req = mergeRequests([{ files: ['/etc/dpvs.conf'] }]);
    const fresh = factsBuilder().build();
    expect(overlayFacts(before, fresh, req).modules).toEqual([]);
  });
});
