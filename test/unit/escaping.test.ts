/**
 * Hostile values against every inventory field that reaches a generated file or a command: each is
 * either refused by validate with a diagnostic at that field, or accepted and rendered into the file
 * (through the file format's escaping rule, src/escape.ts) so that parsing the file back gives exactly
 * the value. Shell quoting is checked by a real /bin/sh.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { recordResult } from '../integration/reliability-support.js';
import { parseNodes, printNodes } from '../../src/dpvsconf/syntax.js';
import { systemdWord } from '../../src/escape.js';
import { renderDpvsUnit } from '../../src/tasks/dpvs/unit.js';
import { InventoryError } from '../../src/errors.js';
import {
  dpvsConfToken,
  fstabField,
  keepalivedToken,
  parseFstabField,
  UnsafeValueError,
} from '../../src/escape.js';
import { loadInventoryBytes } from '../../src/inventory/load.js';
import { formatPath } from '../../src/inventory/source.js';
import type { LoadedInventory } from '../../src/inventory/types.js';
import { renderKeepalivedConf } from '../../src/lb/keepalived.js';
import { formatFstabEntry } from '../../src/tasks/fstab.js';
import { quote } from '../../src/transport/quote.js';

const HOSTILE = [
  '/opt/a b',
  '/opt/$(reboot)',
  '/opt/`id`',
  '/opt/x;reboot',
  "/opt/it's",
  '/opt/"q"',
  '/var/log/dpvs.log } global_defs {',
  '/opt/x\nExecStart=/bin/evil',
  '/opt/x\r',
  '/opt/100%n',
  '/opt/$HOME',
  '/opt/a\\b',
  '/opt/#c',
  '/opt/!c',
  '/opt/<init>',
  '/opt/a|b',
  '/opt/a&b',
  '/opt/a\tb',
  '/opt/ü',
  '-rf',
  'x}y',
  'pa ss',
  '{',
  '!x',
  '',
];
/** Ordinary values: they must be accepted and round-trip, or the test would pass by refusing everything. */
const BENIGN = ['/opt/dpvs-1.9.10', 'lan0.kni', 'Secr3t_x', '/healthz'];

/** /bin/sh's reading of a quoted word. */
function shellReads(word: string): string {
  return execFileSync('/bin/sh', ['-c', `printf %s ${word}`], { encoding: 'utf8' });
}

/** systemd's reading of one ExecStart= line (systemd.service(5): quotes, C escapes, %% and $$). */
function systemdWords(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    let w = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\') i++;
        w += line[i];
        i++;
      }
      i++;
    } else {
      while (i < line.length && line[i] !== ' ') w += line[i++];
    }
    out.push(w.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return out;
}

function unitExec(confPath: string, binary = '/opt/dpvs/bin/dpvs'): string[] {
  const unit = renderDpvsUnit({
    dpvsBinary: binary,
    confPath,
    pidFile: '/run/dpvs.pid',
    ipcFile: '/run/dpvs.ipc',
    ealArgs: ['-a', '0000:04:00.0'],
    nofile: 65536,
    startTimeoutS: 30,
  });
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart=')) ?? '';
  return systemdWords(line.slice('ExecStart='.length));
}

function dpvsConfReads(key: string, value: string): string | undefined {
  const text = printNodes([{ key: 'global_defs', args: [], children: [{ key, args: [value] }] }]).join('\n');
  return parseNodes(text)[0]?.children?.[0]?.args.join(' ');
}

/** keepalived's tokens after `keyword` in the rendered file. */
function keepalivedReads(text: string, keyword: string): string | undefined {
  const line = text.split('\n').find((l) => l.trim().split(/\s+/)[0] === keyword);
  return line?.trim().split(/\s+/).slice(1).join(' ');
}

const base = () => ({
  version: 1,
  hosts: {
    lb1: {
      address: '10.0.0.11',
      roles: ['balancer'],
      dpvs: {
        version: '1.9.10',
        prefix: '/opt/dpvs',
        config_path: '/etc/dpvs.conf',
        log_file: '/var/log/dpvs.log',
      },
      dpdk: { build_dir: '/opt', march: 'native' },
      hugepages: { per_node: 2048, mount: '/dev/hugepages' },
      nics: [{ name: 'dpdk0', match: { pci: '0000:04:00.0' }, kni_name: 'dpdk0.kni' }],
      keepalived: {
        enabled: true,
        router_id: 'lb1',
        vrrp_instance: 'VI_1',
        virtual_router_id: 51,
        state: 'MASTER',
        priority: 150,
        interface: 'dpdk0',
        kni_address: '192.168.229.11/24',
        auth_pass: 'Secr3t',
      },
    },
  },
  services: [
    {
      name: 'web',
      vip: '10.0.96.204',
      port: 80,
      mode: 'nat',
      balancers: ['lb1'],
      health_check: { type: 'http', path: '/healthz' },
      real_servers: [{ address: '192.168.229.1', port: 80 }],
    },
  ],
});

type Doc = ReturnType<typeof base>;

interface Field {
  path: Array<string | number>;
  /** The file or command the value reaches, and how it is read back from there. */
  reaches: string;
  readBack(v: string, inv: LoadedInventory): string | undefined;
}

const lb1 = (inv: LoadedInventory) => {
  const h = inv.hosts.find((x) => x.name === 'lb1');
  if (!h) throw new Error('no lb1');
  return h;
};
const keepalived = (inv: LoadedInventory, authPass?: string) =>
  renderKeepalivedConf({
    host: { ...lb1(inv), keepalived: { ...lb1(inv).keepalived, owns_services: true } },
    services: inv.services,
    ...(authPass !== undefined && { authPass }),
  });

const FIELDS: Field[] = [
  {
    path: ['hosts', 'lb1', 'hugepages', 'mount'],
    reaches: '/etc/fstab and mount(8)',
    readBack: (v) => {
      const fields = formatFstabEntry({
        spec: 'nodev',
        file: v,
        vfstype: 'hugetlbfs',
        options: 'pagesize=2M',
      })
        .split(/[ \t]+/)
        .map(parseFstabField);
      expect(fields).toHaveLength(6);
      expect(shellReads(quote(v))).toBe(v);
      return fields[1];
    },
  },
  {
    path: ['hosts', 'lb1', 'dpvs', 'log_file'],
    reaches: 'dpvs.conf',
    readBack: (v) => dpvsConfReads('log_file', v),
  },
  {
    path: ['hosts', 'lb1', 'dpvs', 'config_path'],
    reaches: 'dpvs.service ExecStart and shell',
    readBack: (v) => {
      expect(shellReads(quote(v))).toBe(v);
      return unitExec(v)[2];
    },
  },
  {
    path: ['hosts', 'lb1', 'dpvs', 'prefix'],
    reaches: 'dpvs.service ExecStart and shell',
    readBack: (v) => {
      expect(shellReads(quote(`${v}/bin/dpvs`))).toBe(`${v}/bin/dpvs`);
      return unitExec('/etc/dpvs.conf', `${v}/bin/dpvs`)[0]?.replace(/\/bin\/dpvs$/, '');
    },
  },
  {
    path: ['hosts', 'lb1', 'dpdk', 'build_dir'],
    reaches: 'shell',
    readBack: (v) => shellReads(quote(v)),
  },
  {
    path: ['hosts', 'lb1', 'dpdk', 'march'],
    reaches: 'shell (meson -Dc_args)',
    readBack: (v) => shellReads(quote(`-march=${v}`)).replace(/^-march=/, ''),
  },
  {
    path: ['hosts', 'lb1', 'nics', 0, 'kni_name'],
    reaches: 'dpvs.conf',
    readBack: (v) => dpvsConfReads('kni_name', v),
  },
  {
    path: ['hosts', 'lb1', 'keepalived', 'router_id'],
    reaches: 'keepalived.conf',
    readBack: (_v, inv) => keepalivedReads(keepalived(inv), 'router_id'),
  },
  {
    path: ['hosts', 'lb1', 'keepalived', 'vrrp_instance'],
    reaches: 'keepalived.conf',
    readBack: (_v, inv) => keepalivedReads(keepalived(inv), 'vrrp_instance')?.replace(/ \{$/, ''),
  },
  {
    path: ['hosts', 'lb1', 'keepalived', 'auth_pass'],
    reaches: 'keepalived.conf',
    readBack: (v, inv) => keepalivedReads(keepalived(inv, v), 'auth_pass'),
  },
  {
    path: ['services', 0, 'health_check', 'path'],
    reaches: 'keepalived.conf (HTTP_GET)',
    readBack: (_v, inv) => keepalivedReads(keepalived(inv), 'path'),
  },
  {
    path: ['services', 0, 'name'],
    reaches: 'keepalived.conf, run records',
    readBack: (v) => keepalivedToken(v),
  },
  {
    path: ['hosts', 'lb1', 'address'],
    reaches: 'ssh',
    readBack: (v) => shellReads(quote(v)),
  },
];

function setAt(doc: Doc, p: Array<string | number>, v: string): void {
  let cur = doc as unknown as Record<string | number, unknown>;
  for (const seg of p.slice(0, -1)) cur = cur[seg] as Record<string | number, unknown>;
  cur[p[p.length - 1] as string | number] = v;
}

describe('escaping rules', () => {
  it('shell: /bin/sh reads back every quoted value', () => {
    for (const v of [...HOSTILE, ...BENIGN]) expect(shellReads(quote(v))).toBe(v);
  });

  it('systemd: every ExecStart word reads back (quotes, C escapes, %% and $$); line breaks are refused', () => {
    for (const v of [...HOSTILE, ...BENIGN]) {
      if (/[\n\r]/.test(v)) expect(() => systemdWord(v)).toThrow(/line break/);
      else expect(systemdWords(systemdWord(v))).toEqual([v]);
    }
  });

  it('fstab: every field reads back as getmntent decodes it, and the line keeps 6 fields', () => {
    for (const v of [...HOSTILE, ...BENIGN].filter((x) => x !== '')) {
      const f = fstabField(v);
      expect(f).not.toMatch(/[ \t\n]/);
      expect(parseFstabField(f)).toBe(v);
    }
    expect(() => fstabField('')).toThrow(UnsafeValueError);
  });

  it('dpvs.conf and keepalived.conf: a value is a plain token that reads back, or it is refused', () => {
    for (const v of [...HOSTILE, ...BENIGN]) {
      let ok = true;
      try {
        dpvsConfToken(v);
      } catch (e) {
        expect(e).toBeInstanceOf(UnsafeValueError);
        ok = false;
      }
      if (ok) expect(dpvsConfReads('log_file', v)).toBe(v);
      try {
        keepalivedToken(v);
        expect(v.trim().split(/\s+/)).toEqual([v]);
      } catch (e) {
        expect(e).toBeInstanceOf(UnsafeValueError);
      }
    }
    expect(() => dpvsConfReads('log_file', '/var/log/dpvs.log } global_defs {')).toThrow(
      /dpvs.conf syntax|spaces/,
    );
  });
});

describe('hostile values in every field that reaches a file or command', () => {
  let refused = 0;
  let accepted = 0;
  for (const field of FIELDS) {
    it(`${formatPath(field.path)} (${field.reaches}): refused at the field, or read back unchanged`, () => {
      for (const v of [...HOSTILE, ...BENIGN]) {
        const doc = base();
        setAt(doc, field.path, v);
        let inv: LoadedInventory | undefined;
        try {
          inv = loadInventoryBytes(Buffer.from(stringify(doc)), 'hostile.yaml');
        } catch (e) {
          if (!(e instanceof InventoryError)) throw e;
          expect(
            e.diagnostics.map((d) => d.path),
            `${JSON.stringify(v)}: ${e.message}`,
          ).toContain(formatPath(field.path));
          refused++;
          continue;
        }
        expect(field.readBack(v, inv), JSON.stringify(v)).toBe(v);
        accepted++;
      }
    });
  }
  it('refused every hostile value somewhere and accepted the benign ones', () => {
    expect(refused).toBeGreaterThan(FIELDS.length * 10);
    expect(accepted).toBeGreaterThan(0);
    recordResult({
      suite: 'inventory',
      name: 'hostile values: every field that reaches a file or command (fstab, dpvs.conf, keepalived.conf, systemd, shell)',
      cases: FIELDS.length * (HOSTILE.length + BENIGN.length),
      outcome: `${refused} refused by validate at the field, ${accepted} accepted and read back unchanged from the rendered file`,
      passed: true,
    });
  });
});
