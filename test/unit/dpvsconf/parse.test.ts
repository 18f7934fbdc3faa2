import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildDpvsConf, workersOfConf, portsOfConf } from '../../../src/dpvsconf/build.js';
import { solveLayout } from '../../../src/dpvsconf/layout.js';
import type { DpvsConf } from '../../../src/dpvsconf/model.js';
import { DpvsConfSyntaxError, parseDpvsConf } from '../../../src/dpvsconf/parse.js';
import { renderDpvsConf } from '../../../src/dpvsconf/render.js';
import { validateLayout } from '../../../src/dpvsconf/validate.js';

const fixture = (name: string): string => readFileSync(`test/fixtures/dpvsconf/${name}.conf`, 'utf8');
const SAMPLES = ['single-nic', 'two-arm-fullnat', 'bonding', 'v18-fdir'];

function syntaxError(text: string): DpvsConfSyntaxError {
  try {
    parseDpvsConf(text);
  } catch (e) {
    if (e instanceof DpvsConfSyntaxError) return e;
    throw e;
  }
  throw new Error('expected a syntax error');
}

describe('parseDpvsConf on samples in upstream grammar', () => {
  it.each(SAMPLES)('%s: render(parse(sample)) re-parses to the same model', (name) => {
    const model = parseDpvsConf(fixture(name));
    const again = parseDpvsConf(renderDpvsConf(model));
    expect(again).toEqual(model);
    // and rendering is a fixed point after one pass
    expect(renderDpvsConf(again)).toBe(renderDpvsConf(model));
  });

  it.each(SAMPLES)('%s: the layout in the sample passes upstream checks', (name) => {
    const model = parseDpvsConf(fixture(name));
    expect(validateLayout(workersOfConf(model), portsOfConf(model))).toEqual([]);
  });

  it('single NIC: comments, <range> tokens and trailing comments are dropped', () => {
    const c = parseDpvsConf(fixture('single-nic'));
    expect(c.global_defs).toEqual({ log_level: 'INFO', log_file: '/var/log/dpvs.log', kni: true });
    expect(c.netif_defs.pktpool_size).toBe(65535);
    expect(c.netif_defs.devices.map((d) => d.name)).toEqual(['dpdk0']);
    expect(c.netif_defs.devices[0]?.rx).toEqual({ queue_number: 2, descriptor_number: 1024, rss: 'all' });
    const slave = c.worker_defs.workers.find((w) => w.name === 'cpu3');
    expect(slave?.ports).toEqual([{ dev: 'dpdk0', rx_queue_ids: [1], tx_queue_ids: [1] }]); // '# isol…' ignored
    expect(c.ipvs_defs?.conn?.redirect).toBe(true);
    expect(c.ipvs_defs?.udp?.timeout).toEqual({ oneway: 60, normal: 300, last: 3 });
    expect(c.dpvsVersion).toBe('1.9');
  });

  it('two-arm FullNAT: four devices in file order, flags and glued braces', () => {
    const c = parseDpvsConf(fixture('two-arm-fullnat'));
    expect(c.netif_defs.devices.map((d) => d.name)).toEqual(['dpdk0', 'dpdk1', 'dpdk2', 'dpdk3']);
    expect(c.netif_defs.fdir_mode).toBe('perfect');
    expect(c.netif_defs.devices[2]?.rx).toEqual({ queue_number: 2 }); // `rx { queue_number 2 }` on one line
    expect(c.netif_defs.devices[2]?.promisc_mode).toBe(true);
    expect(c.netif_defs.devices[3]?.allmulticast).toBe(true);
    expect(c.netif_defs.devices[1]?.tx.mbuf_fast_free).toBe(false);
    const w16 = c.worker_defs.workers.find((w) => w.cpu_id === 16);
    expect(w16?.icmp_redirect_core).toBe(true);
    expect(w16?.ports.map((p) => p.dev)).toEqual(['dpdk0', 'dpdk1', 'dpdk2', 'dpdk3']);
    expect(c.ipvs_defs?.tcp?.synproxy?.conn_reuse_state).toEqual({ close: true, time_wait: true });
  });

  it('bonding: bond block, kni worker, unknown keyword kept, include recorded', () => {
    const c = parseDpvsConf(fixture('bonding'));
    expect(c.netif_defs.bondings).toEqual([
      {
        name: 'bond0',
        mode: 4,
        slaves: ['dpdk0', 'dpdk1'],
        primary: 'dpdk0',
        numa_node: 0,
        kni_name: 'bond0.kni',
        options: 'dedicated_queues=off',
      },
    ]);
    expect(c.global_defs.extra).toEqual([{ key: 'some_future_keyword', args: ['42'] }]);
    expect(c.includes).toEqual(['/etc/dpvs.d/*.conf']);
    const kni = c.worker_defs.workers.find((w) => w.type === 'kni');
    expect(kni?.ports).toEqual([{ dev: 'bond0', rx_queue_ids: [], tx_queue_ids: [2] }]);
    const rendered = renderDpvsConf(c);
    expect(rendered).toMatch(/^\s+some_future_keyword\s+42$/m);
    expect(rendered).toMatch(/^include\s+\/etc\/dpvs\.d\/\*\.conf$/m);
  });

  it('1.8 sample: per-device fdir block, version inferred as 1.8', () => {
    const c = parseDpvsConf(fixture('v18-fdir'));
    expect(c.dpvsVersion).toBe('1.8');
    expect(c.netif_defs.devices[0]?.fdir).toEqual({ mode: 'perfect', pballoc: '64k', status: 'matched' });
    expect(parseDpvsConf(fixture('v18-fdir'), { dpvsVersion: '1.8.12' }).dpvsVersion).toBe('1.8.12');
  });
});

describe('parse(render(x)) equals x', () => {
  const nics = [
    { name: 'dpdk0', pci: '0000:04:00.0', numaNode: 0 },
    { name: 'dpdk1', pci: '0000:04:00.1', numaNode: 1, mtu: 9000, promisc: true },
  ];
  const numa = [
    { id: 0, cpus: [0, 1, 2, 3] },
    { id: 1, cpus: [4, 5, 6, 7] },
  ];
  const cases: [string, DpvsConf][] = [];
  for (const dpvsVersion of ['1.8.12', '1.9.10', '1.10.2']) {
    for (const n of [1, 2]) {
      const ports = nics
        .slice(0, n)
        .map((p) => ({ name: p.name, rxQueues: 0, txQueues: 0, numaNode: p.numaNode }));
      const workers = solveLayout({ ports, numa, reservedCpus: [] });
      cases.push([
        `${dpvsVersion}, ${n} NIC(s)`,
        buildDpvsConf({
          dpvsVersion,
          nics: nics.slice(0, n),
          workers,
          settings: { log_level: 'DEBUG', log_file: '/var/log/dpvs.log', kni: false, conn_redirect: true },
        }),
      ]);
    }
  }
  it.each(cases)('%s', (_name, conf) => {
    expect(parseDpvsConf(renderDpvsConf(conf))).toEqual(conf);
  });

  it('keeps unknown blocks and values that do not fit their keyword', () => {
    const text = [
      'global_defs {',
      '    log_level  LOUD',
      '}',
      'netif_defs {',
      '    <init> pktpool_size lots',
      '}',
      'worker_defs {',
      '}',
      'future_defs {',
      '    knob 1 2',
      '    nested { a b }',
      '}',
    ].join('\n');
    const c = parseDpvsConf(text);
    expect(c.global_defs.log_level).toBeUndefined();
    expect(c.global_defs.extra).toEqual([{ key: 'log_level', args: ['LOUD'] }]);
    expect(c.netif_defs.extra).toEqual([{ key: 'pktpool_size', args: ['lots'] }]);
    expect(c.extra).toEqual([
      {
        key: 'future_defs',
        args: [],
        children: [
          { key: 'knob', args: ['1', '2'] },
          { key: 'nested', args: [], children: [{ key: 'a', args: ['b'] }] },
        ],
      },
    ]);
    expect(parseDpvsConf(renderDpvsConf(c))).toEqual(c);
  });
});

describe('syntax errors carry line numbers', () => {
  it('a block that is never closed points at its opening line', () => {
    const e = syntaxError(
      'global_defs {\n    log_level INFO\n}\nnetif_defs {\n    <init> device dpdk0 {\n    }\n',
    );
    expect(e.line).toBe(4);
    expect(e.message).toContain("'netif_defs'");
  });
  it('a stray closing brace points at itself', () => {
    const e = syntaxError('global_defs {\n    log_level INFO\n}\n}\n');
    expect(e.line).toBe(4);
    expect(e.message).toContain("unexpected '}'");
  });
  it("'{' without a name", () => {
    expect(syntaxError('! comment\n  {\n}\n').line).toBe(2);
  });
  it('braces inside comments do not count', () => {
    expect(() => parseDpvsConf('global_defs {  ! }\n  # }\n}\n')).not.toThrow();
  });
});
