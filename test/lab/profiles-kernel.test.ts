import { describe, expect, it } from 'vitest';
import { labProfiles } from './profiles.js';

describe('lab shape: kernel overrides', () => {
  it('a real server on another kernel gets that release and its installable headers package', () => {
    const ps = labProfiles({
      balancers: 0,
      realservers: 3,
      kernels: { rs3: '5.14.0-427.13.1.el9_4.x86_64' },
    });
    const [rs1, rs2, rs3] = ps.filter((p) => p.roles.includes('realserver'));
    expect(rs1?.kernel).toBe(rs2?.kernel);
    expect(rs3?.kernel).toBe('5.14.0-427.13.1.el9_4.x86_64');
    expect(rs3?.kernel).not.toBe(rs1?.kernel);
    expect(rs3?.kernelHeaders).toBe(false);
    expect(rs3?.installablePackages).toEqual(['kernel-devel-5.14.0-427.13.1.el9_4.x86_64']);
    // without the override rs3 is on rs1's kernel
    expect(labProfiles({ balancers: 0, realservers: 3 })[2]?.kernel).toBe(rs1?.kernel);
  });

  it('a host without headers has none installed and none installable', () => {
    const ps = labProfiles({ balancers: 1, realservers: 1, noHeaders: ['rs1', 'lb1'] });
    for (const p of ps.filter((x) => x.name !== 'client1')) {
      expect(p.kernelHeaders).toBe(false);
      expect(p.installablePackages).toEqual([]);
    }
    expect(ps.find((p) => p.name === 'client1')?.installablePackages.length).toBe(1);
  });

  it('refuses an unknown host name', () => {
    expect(() => labProfiles({ balancers: 0, realservers: 1, kernels: { rs9: '1.2.3' } })).toThrow(
      /--kernel: no host named rs9/,
    );
    expect(() => labProfiles({ balancers: 0, realservers: 1, noHeaders: ['rs9'] })).toThrow(
      /--without-headers/,
    );
  });
});
