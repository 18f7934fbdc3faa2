import { describe, expect, it } from 'vitest';
import { allChecks, blocking, formatCheck, runPreflight } from '../../../src/preflight/index.js';
import { planContext, r630, r630Host } from '../../support/facts-builder.js';

describe('preflight on a healthy host', () => {
  it('the tutorial R630 balancer passes every check', () => {
    const results = runPreflight(planContext(r630Host(), r630().build()));
    expect(results.map((r) => formatCheck(r, 'lb1'))).toEqual([]);
  });
});

describe('preflight on other healthy hosts', () => {
  it('a Rocky 9 realserver with toa passes', () => {
    const host = r630Host({
      name: 'rs1',
      roles: ['realserver'],
      nics: [],
      hugepages: undefined,
      workers: undefined,
    });
    const facts = r630().hostname('rs1').os('rocky9').smt(true).hugepages({ perNode: 0 }).build();
    expect(runPreflight(planContext(host, facts))).toEqual([]);
  });
  it('a DPVS 1.10 balancer on Ubuntu 22.04 with vfio-pci passes', () => {
    const host = r630Host({
      dpvs: { version: '1.10.2', build_env: { CFLAGS: '-Wno-error=deprecated-declarations' } },
      dpdk: { version: '24.11', driver: 'vfio-pci' },
    });
    expect(runPreflight(planContext(host, r630().os('ubuntu22').build()))).toEqual([]);
    // without it, OpenSSL 3 (Ubuntu 22.04's libssl-dev) stops upstream's 1.10.2: MD5 in its synproxy
    const plain = r630Host({ dpvs: { version: '1.10.2' }, dpdk: { version: '24.11', driver: 'vfio-pci' } });
    expect(runPreflight(planContext(plain, r630().os('ubuntu22').build())).map((r) => r.id)).toEqual([
      'BUILD-006',
    ]);
  });
  it('every check is registered and none fails on the R630', () => {
    expect(allChecks.length).toBeGreaterThanOrEqual(40);
    expect(blocking(runPreflight(planContext(r630Host(), r630().build())))).toEqual([]);
  });
});
