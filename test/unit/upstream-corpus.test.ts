/**
 * The tool against the upstream behaviour corpus (test/fixtures/upstream/): its parsers read each
 * listing into the state the sample declares, the commands it sends to create that state are the
 * sample's setup commands, reconciling the state against the listing plans nothing and reports nothing
 * unmanaged, and the per-release behaviour table (src/versions.ts) says what the samples say.
 */
import { describe, expect, it } from 'vitest';
import { currentState, OUT } from '../../src/lb/current.js';
import { lbBins } from '../../src/lb/commands.js';
import { isAutoLinkLocal, reconcile } from '../../src/lb/reconcile.js';
import { renderKeepalivedConf } from '../../src/lb/keepalived.js';
import { emptyState, serviceKey, type LbService, type LbState } from '../../src/lb/model.js';
import { parseDpipAddrShow, parseDpipLinkShow, parseDpipRouteShow } from '../../src/lb/parse-dpip.js';
import { parseIpvsadmLaddrs, parseIpvsadmList } from '../../src/lb/parse-ipvsadm.js';
import { renderDpvsUnit } from '../../src/tasks/dpvs/unit.js';
import { dpvsLayout } from '../../src/desired/layout.js';
import { dpvsBehaviour } from '../../src/versions.js';
import {
  SERIES,
  SERIES_RELEASE,
  fillLine,
  holdsFor,
  ipvsVersionOf,
  loadCorpus,
  type CorpusEntry,
  type Fill,
} from '../support/upstream-corpus.js';
import { tutorialHost, tutorialService } from './lb/support.js';

const corpus = loadCorpus();
const byId = (id: string): CorpusEntry => {
  const e = corpus.find((x) => x.id === id);
  if (!e) throw new Error(`no corpus entry ${id}`);
  return e;
};
const MACS = { dpdk0: 'A0:36:9F:12:34:56', dpdk1: 'A0:36:9F:12:34:57' };
const fillFor = (release: string): Fill => ({ macs: MACS, ipvsVersion: ipvsVersionOf(release) });
const BINS = lbBins('/opt/dpvs');

/** The sample's state in the tool's model (service keys derived as the tool derives them). */
function stateOf(e: CorpusEntry): LbState {
  const s = emptyState();
  const st = (e.state ?? {}) as unknown as Partial<LbState>;
  s.addresses = st.addresses ?? [];
  s.routes = st.routes ?? [];
  s.services = (st.services ?? []).map((x) => ({ ...x, key: serviceKey(x) }) as LbService);
  s.realServers = st.realServers ?? [];
  s.laddrs = st.laddrs ?? [];
  return s;
}

/** The shell words of a command the tool built (single quotes as `quote` writes them). */
function words(cmd: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (const m of cmd.matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : (m[2] ?? ''));
  return out;
}
const argvOf = (cmd: string): string[] => {
  const w = words(cmd);
  return [(w[0] ?? '').replace(/^.*\//, ''), ...w.slice(1)];
};

/** What the tool reads from the listing of this sample (the other sections as desired). */
function parsed(e: CorpusEntry, release: string, desired: LbState): LbState {
  const text = (e.stdout ?? []).map((l) => fillLine(l, fillFor(release))).join('\n') + '\n';
  const run = (e.run ?? []).join(' ');
  const cur: LbState = { ...desired };
  if (/^dpip( -6)?( -s)? addr show/.test(run)) {
    const fam = run.includes('-6') ? 'inet6' : null;
    cur.addresses = parseDpipAddrShow(text).filter((a) => fam === null || a.family === fam);
  } else if (/^dpip( -6)? route show/.test(run)) {
    cur.routes = parseDpipRouteShow(text);
  } else if (run === 'ipvsadm -ln') {
    const l = parseIpvsadmList(text);
    cur.services = l.services;
    cur.realServers = l.realServers;
  } else if (run === 'ipvsadm -G') {
    cur.laddrs = parseIpvsadmLaddrs(text, desired.services);
    for (const l of cur.laddrs) l.dev = desired.laddrs.find((d) => d.ip === l.ip)?.dev;
  } else throw new Error(`no parser for ${run}`);
  return cur;
}

/** A command that creates an object (dpip … add, ipvsadm -A/-a/--add-laddr). */
const isCreate = (argv: readonly string[]): boolean =>
  argv.includes('add') || ['-A', '-a', '--add-laddr'].includes(argv[1] ?? '');

describe('upstream corpus: the entries', () => {
  it('has samples for every series, each entry cited, ids unique', () => {
    const ids = corpus.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of SERIES) expect(corpus.filter((e) => e.series.includes(s)).length).toBeGreaterThan(10);
    for (const e of corpus) expect(e.cite.length, e.id).toBeGreaterThan(0);
  });
});

describe('upstream corpus: the tool reads each listing as exactly its state', () => {
  const withState = corpus.filter((e) => e.state !== undefined && e.stdout !== undefined);
  for (const e of withState)
    for (const series of e.series) {
      const release = SERIES_RELEASE[series];
      if (!holdsFor(e, release)) continue;
      it(`${e.id} on ${release}: the listing of the desired state plans nothing`, () => {
        const desired = stateOf(e);
        const current = parsed(e, release, desired);
        const r = reconcile(desired, current, emptyState(), { bins: BINS, scope: 'all' });
        expect(r.ops.map((o) => o.summary)).toEqual([]);
        expect(r.unmanaged).toEqual([]);
      });
      // a sample whose setup also edits or deletes is about the listing after it, not about creating it
      if ((e.setup ?? []).length > 0 && (e.setup ?? []).every(isCreate))
        it(`${e.id} on ${release}: the tool creates that state with the sample's commands`, () => {
          const desired = stateOf(e);
          const r = reconcile(desired, emptyState(), emptyState(), { bins: BINS, scope: 'all' });
          const sent = r.ops.flatMap((o) => o.commands).map(argvOf);
          expect(sent).toEqual(e.setup);
        });
    }
});

describe('upstream corpus: the tool edits and deletes with the sample commands', () => {
  const cases: Array<[string, string, number]> = [
    ['ipvsadm-edit-and-delete', 'ipvsadm-G-fullnat', 4],
    ['dpip-route-del', 'dpip-route-del', 2],
  ];
  for (const [id, fromId, creates] of cases)
    it(id, () => {
      const e = byId(id);
      // the state the sample's creating commands made, recorded as the tool's own
      const before = emptyState();
      if (fromId === id)
        before.routes = [
          { family: 'inet', prefix: '10.0.0.0/24', dev: 'dpdk1' },
          { family: 'inet', prefix: '0.0.0.0/0', dev: 'dpdk1', via: '10.0.0.254' },
        ];
      else Object.assign(before, stateOf(byId(fromId)));
      const r = reconcile(stateOf(e), before, before, { bins: BINS, scope: 'all' });
      const sent = r.ops.flatMap((o) => o.commands).map(argvOf);
      expect(sent.map((c) => c.join(' ')).sort()).toEqual(
        (e.setup ?? [])
          .slice(creates)
          .map((c) => c.join(' '))
          .sort(),
      );
    });
});

describe('upstream corpus: what the tool must not take for drift', () => {
  it('the link-local addresses dpvs 1.9.8+ makes are neither drift nor pruned', () => {
    const e = byId('dpip-addr-show-v4-link-local');
    const current = parsed(e, '1.9.10', stateOf(e));
    const ll = current.addresses.filter(isAutoLinkLocal);
    expect(ll.map((a) => `${a.ip}/${a.plen} ${a.dev}`)).toEqual([
      'fe80::a236:9fff:fe12:3456/64 dpdk0',
      'fe80::a236:9fff:fe12:3457/64 dpdk1',
    ]);
    const pruned = reconcile(stateOf(e), current, emptyState(), {
      bins: BINS,
      scope: 'all',
      pruneUnmanaged: true,
    });
    expect(pruned.ops).toEqual([]);
  });

  it('an IPv6 route with a metric is sent without it and matches the listing (dpip -6 drops metrics)', () => {
    const e = byId('dpip-route6-metric-dropped');
    const desired = emptyState();
    desired.routes = [
      { family: 'inet6', prefix: '2001:db8:7::/64', dev: 'dpdk0', via: '2001:db8::fe', metric: 100 },
    ];
    const create = reconcile(desired, emptyState(), emptyState(), { bins: BINS, scope: 'network' });
    expect(create.ops.flatMap((o) => o.commands).map(argvOf)).toEqual([
      ['dpip', '-6', 'route', 'add', '2001:db8:7::/64', 'via', '2001:db8::fe', 'dev', 'dpdk0'],
    ]);
    const current = parsed(e, '1.9.10', emptyState());
    expect(reconcile(desired, current, emptyState(), { bins: BINS, scope: 'network' }).ops).toEqual([]);
  });

  it('ipvsadm -E sends the connection timeout again (it resets it otherwise)', () => {
    const e = byId('ipvsadm-E-resets-conn-timeout');
    expect(e.setup?.[1]).not.toContain('--conn-timeout');
    const desired = stateOf(byId('ipvsadm-ln-conn-timeout'));
    const svc = desired.services[0];
    if (!svc) throw new Error('no service');
    const current = { ...emptyState(), services: [{ ...svc, scheduler: 'wrr' }] };
    const r = reconcile(desired, current, emptyState(), { bins: BINS, scope: 'services' });
    expect(r.ops.flatMap((o) => o.commands).map(argvOf)).toEqual([
      ['ipvsadm', '-E', '-t', '10.0.0.12:80', '-s', 'rr', '--conn-timeout', '120'],
    ]);
    // and a service whose timeout -E reset is seen as changed
    const reset = parsed(e, '1.9.10', desired);
    const again = reconcile({ ...desired, services: [{ ...svc, scheduler: 'wrr' }] }, reset, emptyState(), {
      bins: BINS,
      scope: 'services',
    });
    expect(again.ops.map((o) => o.action)).toEqual(['update']);
  });

  it('dpip link show is read port by port with its state, speed and MAC', () => {
    const e = byId('dpip-link-show');
    const text = (e.stdout ?? []).map((l) => fillLine(l, fillFor('1.9.10'))).join('\n');
    expect(parseDpipLinkShow(text)).toMatchObject([
      { index: 1, name: 'dpdk0', state: 'UP', mac: 'a0:36:9f:12:34:56', rxQueues: 1 },
      { index: 2, name: 'dpdk1', state: 'UP', mac: 'a0:36:9f:12:34:57', rxQueues: 1 },
    ]);
  });

  it('a dpvs that does not answer is "not running" for every listing the tool reads', () => {
    for (const id of ['dpip-addr-show-dpvs-down', 'ipvsadm-ln-dpvs-down']) {
      const e = byId(id);
      const out = { code: e.exit ?? 0, stdout: '', stderr: (e.stderr ?? []).join('\n') };
      const ok = { code: 0, stdout: '', stderr: '' };
      const key = id.startsWith('dpip') ? OUT.addr : OUT.ipvsList;
      const outputs = { [OUT.addr]: ok, [OUT.route]: ok, [OUT.ipvsList]: ok, [OUT.laddrs]: ok, [key]: out };
      expect(currentState({ outputs }).running, id).toBe(false);
    }
  });
});

describe('upstream corpus: per-release behaviour', () => {
  for (const series of SERIES) {
    const release = SERIES_RELEASE[series];
    const b = dpvsBehaviour(release);
    const cli = corpus.find((e) => e.id.startsWith('dpvs-cli-') && holdsFor(e, release));
    it(`DPVS ${release}: command line, files and control socket as upstream's`, () => {
      if (!b || !cli?.facts) throw new Error('missing');
      const f = cli.facts as {
        options: string[];
        conf: string;
        pid: string;
        ipc: string;
        ipc_env: string | null;
      };
      expect(b.fileOptions).toBe(f.options.includes('-c'));
      expect([b.defaultConf, b.defaultPidFile, b.defaultIpcFile, b.ipcEnv]).toEqual([
        f.conf,
        f.pid,
        f.ipc,
        f.ipc_env,
      ]);
      const l = dpvsLayout('/opt/dpvs', b.defaultConf, b);
      const unit = renderDpvsUnit({
        dpvsBinary: `${l.bin}/dpvs`,
        confPath: l.confPath,
        pidFile: l.pidFile,
        ipcFile: l.ipcFile,
        fileOptions: l.fileOptions,
        ipcEnv: l.ipcEnv,
        ealArgs: ['-l', '0-1', '--main-lcore', '0'],
        nofile: 1024,
        startTimeoutS: 90,
      });
      const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
      const before = exec.split(' -- ')[0]?.split(' ').slice(1) ?? [];
      for (const w of before.filter((x) => x.startsWith('-'))) expect(f.options, exec).toContain(w);
      expect(unit.includes('DPVS_IPC_FILE'), unit).toBe(f.ipc_env !== null);
    });
    it(`DPVS ${release}: the kni switch, --conn-timeout and link-local addresses as upstream's`, () => {
      const kni = byId('dpvs-conf-kni-keyword').facts as { kni_keyword: Record<string, boolean> };
      expect(b?.kniKeyword).toBe(kni.kni_keyword[series]);
      expect(b?.connTimeout).toBe(holdsFor(byId('ipvsadm-ln-conn-timeout'), release));
      expect(b?.autoLinkLocal6).toBe(holdsFor(byId('dpip-addr-show-v4-link-local'), release));
    });
  }
});

describe('upstream corpus: keepalived', () => {
  const host = tutorialHost({
    keepalived: { enabled: true, state: 'MASTER', interface: 'dpdk0', virtual_router_id: 60 },
  });
  const v4 = tutorialService({ vip_dev: 'dpdk2' });
  const v6 = tutorialService({ name: 'web6', vip: '2001:db8::204', vip_dev: 'dpdk2' });
  const other = tutorialService({ name: 'dns', vip: '10.0.96.53', port: 53, vip_dev: 'dpdk1' });
  const blocks = (conf: string): Map<string, string[]> => {
    const m = new Map<string, string[]>();
    let cur: string | null = null;
    for (const raw of conf.split('\n')) {
      const l = raw.trim();
      const head = /^vrrp_instance (\S+) \{$/.exec(l);
      if (head) m.set((cur = head[1] ?? ''), []);
      else if (cur && raw === '}') cur = null;
      else if (cur) m.get(cur)?.push(l);
    }
    return m;
  };

  it('VIPs carry no dev and go on an instance whose dpdk_interface is their port (keepalived-vip-dev-not-a-netdev)', () => {
    expect(byId('keepalived-vip-dev-not-a-netdev').facts).toMatchObject({ vip_dev: 'kernel-netdev-only' });
    const conf = renderKeepalivedConf({ host, services: [v4, other] });
    const inst = blocks(conf);
    expect([...inst.keys()]).toEqual(['VI_1', 'VI_1_dpdk1']);
    expect(inst.get('VI_1')).toEqual(
      expect.arrayContaining(['interface dpdk0.kni', 'dpdk_interface dpdk2', '10.0.96.204/32']),
    );
    expect(inst.get('VI_1_dpdk1')).toEqual(
      expect.arrayContaining([
        'interface dpdk0.kni',
        'dpdk_interface dpdk1',
        'virtual_router_id 61',
        '10.0.96.53/32',
      ]),
    );
    expect(conf).not.toMatch(/\/(32|128) dev /);
    expect(conf).toContain('vrrp_sync_group VI_1_group {');
  });

  it('a VIP of the other family goes to virtual_ipaddress_excluded (keepalived-vip-family)', () => {
    expect(byId('keepalived-vip-family').facts).toMatchObject({ other_family: 'virtual_ipaddress_excluded' });
    const conf = renderKeepalivedConf({ host, services: [v4, v6] });
    expect(conf).toMatch(
      /virtual_ipaddress \{\n\s+10\.0\.96\.204\/32\n\s+\}\n\s+virtual_ipaddress_excluded \{\n\s+2001:db8::204\/128\n/,
    );
    expect([...blocks(conf).keys()]).toEqual(['VI_1']);
  });
});
