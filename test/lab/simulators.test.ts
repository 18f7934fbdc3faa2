/**
 * The built dpvs / dpip / ipvsadm / keepalived simulators, run directly (outside the lab) against a
 * sysfs-shaped temp tree (DPVS_SIM_SYSFS_ROOT) with temp pid/IPC files. The FullNAT commands of the
 * seed tutorial (section 3) are replayed and compared field for field with the output it printed;
 * each upstream start-up failure is shown with upstream's message.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtures } from './fixtures/build.js';
import {
  Procs,
  applySeries,
  artifact,
  buildDpdk,
  buildDpvs,
  extract,
  killPid,
  run,
  waitFor,
  writeSysfs,
  type RunResult,
  type SysfsSpec,
} from './fixtures/testkit.js';
import {
  SERIES_RELEASE,
  compareOutput,
  holdsFor,
  ipvsVersionOf,
  loadCorpus,
  type Series,
} from '../support/upstream-corpus.js';

let tmp: string;
let bin18: string;
let bin19: string;
let bin110: string;
const procs = new Procs();
let seq = 0;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'simulators-test-'));
  const m = await buildFixtures(join(tmp, 'out'));
  // DPVS 1.8.12 on DPDK 18.11.2 (the tutorial's pairing)
  const d18 = await extract(artifact(m, 'dpdk-18.11.2.tar.xz'), join(tmp, 'b18'));
  const v18 = await extract(artifact(m, 'dpvs-1.8.12.tar.gz'), join(tmp, 'b18'));
  await applySeries(v18, 'dpdk-stable-18.11.2', d18);
  const r18 = await buildDpdk(d18, 'make');
  if (r18.result.code !== 0) throw new Error(r18.build.log);
  const b18 = await buildDpvs(v18, { RTE_SDK: d18 });
  if (b18.code !== 0) throw new Error(b18.stderr);
  bin18 = join(v18, 'bin');
  // DPVS 1.9.10 on DPDK 20.11.10
  const d20 = await extract(artifact(m, 'dpdk-20.11.10.tar.xz'), join(tmp, 'b20'));
  const v19 = await extract(artifact(m, 'dpvs-1.9.10.tar.gz'), join(tmp, 'b20'));
  await applySeries(v19, 'dpdk-stable-20.11.10', d20);
  const r20 = await buildDpdk(d20, 'meson');
  if (r20.result.code !== 0) throw new Error(r20.build.log);
  const b19 = await buildDpvs(v19, { PKG_CONFIG_PATH: r20.build.pkgConfigPath });
  if (b19.code !== 0) throw new Error(b19.stderr);
  bin19 = join(v19, 'bin');
  // DPVS 1.10.2 on DPDK 24.11
  const d24 = await extract(artifact(m, 'dpdk-24.11.tar.xz'), join(tmp, 'b24'));
  const v110 = await extract(artifact(m, 'dpvs-1.10.2.tar.gz'), join(tmp, 'b24'));
  await applySeries(v110, 'dpdk-24.11', d24);
  const r24 = await buildDpdk(d24, 'meson');
  if (r24.result.code !== 0) throw new Error(r24.build.log);
  const b110 = await buildDpvs(v110, { PKG_CONFIG_PATH: r24.build.pkgConfigPath });
  if (b110.code !== 0) throw new Error(b110.stderr);
  bin110 = join(v110, 'bin');
}, 900_000);

afterAll(async () => {
  await procs.stopAll();
  await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// helpers

interface Instance {
  dir: string;
  env: Record<string, string>;
  pidFile: string;
  ipc: string;
  conf: string;
}

function deviceBlock(name: string, queues: number): string {
  return `    <init> device ${name} {
        rx {
            queue_number        ${queues}
            descriptor_number   1024
            rss                 all
        }
        tx {
            queue_number        ${queues}
            descriptor_number   1024
        }
        kni_name                ${name}.kni
    }`;
}

interface WorkerSpec {
  type: 'master' | 'slave';
  cpu: number;
  ports?: Record<string, { rx: number[]; tx: number[] }>;
}

function workerBlock(w: WorkerSpec): string {
  const ports = Object.entries(w.ports ?? {})
    .map(
      ([p, q]) => `        port    ${p} {
            rx_queue_ids     ${q.rx.join(' ')}
            tx_queue_ids     ${q.tx.join(' ')}
        }`,
    )
    .join('\n');
  return `    <init> worker cpu${w.cpu} {
        type    ${w.type}
        cpu_id  ${w.cpu}
${ports}
    }`;
}

function dpvsConf(opts: {
  devices: string[];
  workers: WorkerSpec[];
  global?: string;
  /** rx/tx queues of every device, or per device */
  queues?: number | Record<string, number>;
}): string {
  const q = (d: string): number => (typeof opts.queues === 'number' ? opts.queues : (opts.queues?.[d] ?? 1));
  return `! dpvs.conf written by simulators.test.ts
global_defs {
    log_level   WARNING
${opts.global ?? ''}
}

netif_defs {
    <init> pktpool_size     65535
    <init> pktpool_cache    256
${opts.devices.map((d) => deviceBlock(d, q(d))).join('\n')}
}

worker_defs {
${opts.workers.map(workerBlock).join('\n')}
}
`;
}

/** one master on cpu0 + one slave on cpu1 serving queue 0 of every device */
function simpleWorkers(devices: string[]): WorkerSpec[] {
  return [
    { type: 'master', cpu: 0 },
    { type: 'slave', cpu: 1, ports: Object.fromEntries(devices.map((d) => [d, { rx: [0], tx: [0] }])) },
  ];
}

const TWO_NODES: SysfsSpec['nodes'] = [
  { cpus: '0-3', free2m: 1024 },
  { cpus: '4-7', free2m: 1024 },
];

/**
 * A dpvs instance's files under its own directory, laid out as on a host (etc/dpvs.conf,
 * var/run/dpvs.pid, var/run/dpvs.ipc): 1.8 takes no -c/-p/-x and uses its fixed paths
 * (test/fixtures/upstream/dpvs.yaml dpvs-cli-1.8), which DPVS_SIM_FIXED_ROOT puts under the directory.
 */
async function instance(spec: SysfsSpec, conf: string): Promise<Instance> {
  const dir = join(tmp, `i${++seq}`);
  await writeSysfs(join(dir, 'sys'), spec);
  await mkdir(join(dir, 'etc'), { recursive: true });
  await mkdir(join(dir, 'var', 'run'), { recursive: true });
  const ipc = join(dir, 'var', 'run', 'dpvs.ipc');
  const pidFile = join(dir, 'var', 'run', 'dpvs.pid');
  const confPath = join(dir, 'etc', 'dpvs.conf');
  await writeFile(confPath, conf);
  return {
    dir,
    ipc,
    pidFile,
    conf: confPath,
    env: {
      DPVS_SIM_SYSFS_ROOT: join(dir, 'sys'),
      DPVS_SIM_START_DELAY: '0',
      DPVS_IPC_FILE: ipc,
      DPVS_SIM_FIXED_ROOT: dir,
    },
  };
}

function startDpvs(bin: string, inst: Instance, eal: string[]): ReturnType<Procs['start']> {
  const files = bin === bin18 ? [] : ['-c', inst.conf, '-p', inst.pidFile, '-x', inst.ipc];
  return procs.start(join(bin, 'dpvs'), [...files, '--', ...eal], inst.env);
}

/** starts dpvs and waits until dpip answers */
async function startUp(bin: string, inst: Instance, eal: string[]): Promise<void> {
  const p = startDpvs(bin, inst, eal);
  const up = await waitFor(async () => (await tool(bin, inst, 'dpip', ['link', 'show'])).code === 0, 15_000);
  if (!up) {
    killPid(p.pid ?? -1, 'SIGKILL');
    const r = await p;
    throw new Error(`dpvs did not come up: ${String(r.stderr)}`);
  }
}

/** runs dpvs expecting it to exit on its own (a start-up failure) */
async function failingStart(bin: string, inst: Instance, eal: string[]): Promise<RunResult> {
  const r = await startDpvs(bin, inst, eal);
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function tool(bin: string, inst: Instance, name: string, args: string[]): Promise<RunResult> {
  return run(join(bin, name), args, { env: inst.env, timeout: 20_000 });
}

const fields = (text: string): string[][] =>
  text
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 0 && f[0] !== '');

// ---------------------------------------------------------------------------------------------
// the tutorial's section 3 (DPVS 1.8 on DPDK 18.11.2, four 82599 ports, dpdk2 = WAN, dpdk0 = LAN)

// The tutorial shows no `onlink` on the link routes; 1.8.12's source prints it (v1.8.12:src/route.c:584,
// tools/dpip/route.c:117; test/fixtures/upstream/dpip.yaml dpip-route-show-v4): the source wins.
const TUTORIAL_ROUTE_SHOW = `
inet 192.168.229.204/32 via 0.0.0.0 src 0.0.0.0 dev dpdk0 mtu 1500 tos 0 scope host metric 0 proto auto
inet 10.0.96.204/32 via 0.0.0.0 src 0.0.0.0 dev dpdk2 mtu 1500 tos 0 scope host metric 0 proto auto
inet 10.0.96.0/24 via 0.0.0.0 src 0.0.0.0 dev dpdk2 mtu 1500 tos 0 scope link metric 0 proto auto onlink
inet 192.168.229.0/24 via 0.0.0.0 src 0.0.0.0 dev dpdk0 mtu 1500 tos 0 scope link metric 0 proto auto onlink
inet 0.0.0.0/0 via 10.0.96.254 src 0.0.0.0 dev dpdk2 mtu 1500 tos 0 scope global metric 0 proto auto
`;
const TUTORIAL_ADDR_SHOW = `
inet 10.0.96.204/32 scope global dpdk2
     valid_lft forever preferred_lft forever
inet 192.168.229.204/32 scope global dpdk0
     valid_lft forever preferred_lft forever
`;
const TUTORIAL_IPVSADM_LN = `
IP Virtual Server version 0.0.0 (size=0)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.96.204:80 rr
  -> 192.168.229.1:80              FullNat 1      0          0
`;
const TUTORIAL_IPVSADM_G = `
VIP:VPORT            TOTAL    SNAT_IP              CONFLICTS  CONNS
10.0.96.204:80    1
                              192.168.229.204       0          0
`;
const TUTORIAL_LINK_SHOW = `
1: dpdk0: socket 0 mtu 1500 rx-queue 16 tx-queue 16
    UP 10000 Mbps full-duplex auto-nego
    addr AA:BB:CC:23:33:33 OF_RX_IP_CSUM OF_TX_IP_CSUM OF_TX_TCP_CSUM OF_TX_UDP_CSUM
`;

const TUTORIAL_NICS: SysfsSpec['nics'] = [
  { bdf: '0000:04:00.0', numa: 0, driver: 'igb_uio' },
  { bdf: '0000:04:00.1', numa: 0, driver: 'igb_uio' },
  { bdf: '0000:82:00.0', numa: 1, driver: 'igb_uio' },
  { bdf: '0000:82:00.1', numa: 1, driver: 'igb_uio' },
];
const TUTORIAL_EAL = ['-w', '0000:04:00.0', '-w', '0000:04:00.1', '-w', '0000:82:00.0', '-w', '0000:82:00.1'];
const DEVS4 = ['dpdk0', 'dpdk1', 'dpdk2', 'dpdk3'];

describe('tutorial section 3: two-arm FullNAT on DPVS 1.8', () => {
  let inst: Instance;
  beforeAll(async () => {
    const workers: WorkerSpec[] = [{ type: 'master', cpu: 0 }];
    for (let q = 0; q < 16; q++) {
      workers.push({
        type: 'slave',
        cpu: q + 1,
        ports: Object.fromEntries(DEVS4.map((d) => [d, { rx: [q], tx: [q] }])),
      });
    }
    inst = await instance(
      {
        nodes: [
          { cpus: '0,2,4,6,8,10,12,14,16,18', free2m: 28672 },
          { cpus: '1,3,5,7,9,11,13,15,17,19', free2m: 28672 },
        ],
        nics: TUTORIAL_NICS,
        rteKni: 'on',
      },
      dpvsConf({ devices: DEVS4, workers, queues: 16 }).replace('65535', '1048575'),
    );
    await startUp(bin18, inst, [...TUTORIAL_EAL, '-l', '0-16', '--master-lcore', '0']);
  });

  it('accepts the tutorial commands with exit status 0', async () => {
    const cmds: Array<[string, string[]]> = [
      ['dpip', ['addr', 'add', '10.0.96.204/32', 'dev', 'dpdk2']],
      ['dpip', ['route', 'add', '10.0.96.0/24', 'dev', 'dpdk2']],
      ['dpip', ['route', 'add', '192.168.229.0/24', 'dev', 'dpdk0']],
      ['dpip', ['route', 'add', 'default', 'via', '10.0.96.254', 'dev', 'dpdk2']],
      ['ipvsadm', ['-A', '-t', '10.0.96.204:80', '-s', 'rr']],
      ['ipvsadm', ['-a', '-t', '10.0.96.204:80', '-r', '192.168.229.1', '-b']],
      ['ipvsadm', ['--add-laddr', '-z', '192.168.229.204', '-t', '10.0.96.204:80', '-F', 'dpdk0']],
    ];
    for (const [t, args] of cmds) {
      const r = await tool(bin18, inst, t, args);
      expect(r.stderr, `${t} ${args.join(' ')}`).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('prints dpip route show like the tutorial (host routes dpvs added for each address included)', async () => {
    const r = await tool(bin18, inst, 'dpip', ['route', 'show']);
    expect(r.code).toBe(0);
    expect(fields(r.stdout)).toEqual(fields(TUTORIAL_ROUTE_SHOW));
  });

  it('prints dpip addr show like the tutorial', async () => {
    const r = await tool(bin18, inst, 'dpip', ['addr', 'show']);
    expect(fields(r.stdout)).toEqual(fields(TUTORIAL_ADDR_SHOW));
  });

  it('prints ipvsadm -ln like the tutorial, in upstream column widths', async () => {
    const r = await tool(bin18, inst, 'ipvsadm', ['-ln']);
    expect(r.code).toBe(0);
    expect(fields(r.stdout)).toEqual(fields(TUTORIAL_IPVSADM_LN));
    expect(r.stdout).toContain('  -> 192.168.229.1:80             FullNat 1      0          0');
  });

  it('prints ipvsadm -G like the tutorial', async () => {
    const r = await tool(bin18, inst, 'ipvsadm', ['-G']);
    expect(r.code).toBe(0);
    expect(fields(r.stdout)).toEqual(fields(TUTORIAL_IPVSADM_G));
    expect(r.stdout.split('\n')[2]).toMatch(/^ {30}192\.168\.229\.204 {6}0 {10}0/);
  });

  it('prints dpip link show in the tutorial format, one entry per device block', async () => {
    const r = await tool(bin18, inst, 'dpip', ['link', 'show']);
    const got = fields(r.stdout);
    expect(got).toHaveLength(12);
    const want = fields(TUTORIAL_LINK_SHOW);
    // same words except the MAC (desensitised in the tutorial)
    expect(
      got.slice(0, 3).map((l) => l.map((w) => (/^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/.test(w) ? 'MAC' : w))),
    ).toEqual(want.map((l) => l.map((w) => (/^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/.test(w) ? 'MAC' : w))));
    expect(got[9]?.slice(0, 4)).toEqual(['4:', 'dpdk3:', 'socket', '1']);
    const s = await tool(bin18, inst, 'dpip', ['-s', 'link', 'show', 'dpdk0']);
    expect(s.stdout).toMatch(/ipackets\s+opackets\s+ibytes\s+obytes/);
    expect(s.stdout).toMatch(/ierrors\s+oerrors\s+imissed\s+rx_nombuf/);
  });

  it('keeps the state until dpvs stops; a restart loses it; tools fail like upstream while it is down', async () => {
    const pid = Number((await readFile(inst.pidFile, 'utf8')).trim());
    const again = await failingStart(bin18, inst, TUTORIAL_EAL);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('dpvs is already running');
    killPid(pid, 'SIGKILL');
    await waitFor(async () => (await tool(bin18, inst, 'dpip', ['link', 'show'])).code !== 0, 5000);
    const dpip = await tool(bin18, inst, 'dpip', ['addr', 'show']);
    expect(dpip.code).toBe(1);
    // the killed dpvs left its socket file: connecting is refused (dpip-addr-show-dpvs-down's format)
    expect(dpip.stderr).toBe(
      '[dpvs_getsockopt] scoket msg connection error: Connection refused\ndpip: <unknow>\n',
    );
    const ipvs = await tool(bin18, inst, 'ipvsadm', ['-ln']);
    expect(ipvs.code).toBe(2);
    expect(ipvs.stderr).toBe(
      '[dpvs_getsockopt] scoket msg connection error: Connection refused\n' +
        "Can't initialize ipvs: Connection refused\nAre you sure that dpvs is running?\n",
    );
    // stale pid file of a dead process is not "already running"
    await startUp(bin18, inst, [...TUTORIAL_EAL, '-l', '0-16', '--master-lcore', '0']);
    expect((await tool(bin18, inst, 'dpip', ['addr', 'show'])).stdout).toBe('');
    expect(fields((await tool(bin18, inst, 'ipvsadm', ['-ln'])).stdout)).toHaveLength(3);
  });
});

// ---------------------------------------------------------------------------------------------

describe('dpvs start-up failures (upstream messages)', () => {
  const nics2: SysfsSpec['nics'] = [
    { bdf: '0000:00:10.0', numa: 0, driver: 'uio_pci_generic' },
    { bdf: '0000:00:11.0', numa: 1, driver: 'vfio-pci' },
  ];
  const eal2 = ['-a', '0000:00:10.0', '-a', '0000:00:11.0', '-l', '0-1', '--main-lcore', '0'];
  const two = ['dpdk0', 'dpdk1'];

  it('starts with a consistent two-port config (baseline for the failures below)', async () => {
    const inst = await instance(
      { nodes: TWO_NODES, nics: nics2, rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    await startUp(bin19, inst, eal2);
    const links = await tool(bin19, inst, 'dpip', ['link', 'show']);
    expect(links.stdout).toMatch(/^1: dpdk0: socket 0 .*\n[\s\S]*^2: dpdk1: socket 1 /m);
    killPid(Number((await readFile(inst.pidFile, 'utf8')).trim()), 'SIGKILL');
  });

  it('ports in DPDK != device blocks', async () => {
    const inst = await instance(
      { nodes: TWO_NODES, nics: nics2, rteKni: 'on' },
      dpvsConf({ devices: ['dpdk0'], workers: simpleWorkers(['dpdk0']) }),
    );
    const r = await failingStart(bin19, inst, eal2);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Cause: ports in DPDK RTE (2) != ports in dpvs.conf(1)');
  });

  it('no port bound to a DPDK driver', async () => {
    const inst = await instance(
      { nodes: TWO_NODES, nics: nics2.map((n) => ({ ...n, driver: 'ixgbe' })), rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    const r = await failingStart(bin19, inst, eal2);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Cause: No dpdk ports found!\nPossibly nic or driver is not dpdk-compatible.');
  });

  it('too few free hugepages on a NUMA node with a port', async () => {
    const inst = await instance(
      {
        nodes: [
          { cpus: '0-3', free2m: 1024 },
          { cpus: '4-7', free2m: 16 },
        ],
        nics: nics2,
        rteKni: 'on',
      },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    const r = await failingStart(bin19, inst, eal2);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Cause: Cannot init mbuf pool on socket 1');
  });

  it('more NUMA nodes than CONFIG_DPVS_MAX_SOCKET', async () => {
    const inst = await instance(
      { nodes: [...TWO_NODES, { cpus: '8-11', free2m: 1024 }], nics: nics2, rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    const r = await failingStart(bin19, inst, eal2);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('DPVS_MAX_SOCKET is smaller than system numa nodes!');
  });

  it('KNI without rte_kni loaded (1.9), and with carrier off; kni off needs neither', async () => {
    const conf = dpvsConf({ devices: two, workers: simpleWorkers(two) });
    const none = await failingStart(bin19, await instance({ nodes: TWO_NODES, nics: nics2 }, conf), eal2);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('add KNI port fail');
    const off = await failingStart(
      bin19,
      await instance({ nodes: TWO_NODES, nics: nics2, rteKni: 'off' }, conf),
      eal2,
    );
    expect(off.code).not.toBe(0);
    expect(off.stderr).toContain('add KNI port fail');
    const noKni = await instance(
      { nodes: TWO_NODES, nics: nics2 },
      dpvsConf({ devices: two, workers: simpleWorkers(two), global: '    <init> kni off' }),
    );
    await startUp(bin19, noKni, eal2);
    killPid(Number((await readFile(noKni.pidFile, 'utf8')).trim()), 'SIGKILL');
  });

  const lcoreCases: Array<[number, string, WorkerSpec[], number | Record<string, number>]> = [
    [
      -2,
      'duplicate rx queue id',
      [
        { type: 'master', cpu: 0 },
        { type: 'slave', cpu: 1, ports: { dpdk0: { rx: [0, 0], tx: [0] }, dpdk1: { rx: [0], tx: [0] } } },
      ],
      1,
    ],
    [
      -3,
      'duplicate tx queue id',
      [
        { type: 'master', cpu: 0 },
        { type: 'slave', cpu: 1, ports: { dpdk0: { rx: [0], tx: [0, 0] }, dpdk1: { rx: [0], tx: [0] } } },
      ],
      1,
    ],
    [-4, 'a configured queue served by no worker', simpleWorkers(two), 2],
    [
      -6,
      'slaves with different port lists',
      [
        { type: 'master', cpu: 0 },
        { type: 'slave', cpu: 1, ports: { dpdk0: { rx: [0], tx: [0] }, dpdk1: { rx: [0], tx: [0] } } },
        { type: 'slave', cpu: 2, ports: { dpdk0: { rx: [1], tx: [1] } } },
      ],
      { dpdk0: 2, dpdk1: 1 },
    ],
    [-7, 'no slave worker', [{ type: 'master', cpu: 0 }], 1],
  ];
  for (const [code, what, workers, queues] of lcoreCases) {
    it(`bad worker layout ${code}: ${what}`, async () => {
      const conf = dpvsConf({ devices: two, workers, queues });
      const inst = await instance({ nodes: TWO_NODES, nics: nics2, rteKni: 'on' }, conf);
      const r = await failingStart(bin19, inst, [...eal2.slice(0, 4), '-l', '0-2', '--main-lcore', '0']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`netif_lcore_init: bad lcore configuration (error code: ${code})`);
    });
  }

  it('bad worker layout -5: a worker references more ports than DPDK has', async () => {
    const three = ['dpdk0', 'dpdk1', 'dpdk2'];
    const inst = await instance(
      { nodes: TWO_NODES, nics: nics2, rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(three) }),
    );
    const r = await failingStart(bin19, inst, eal2);
    expect(r.stderr).toContain('netif_lcore_init: bad lcore configuration (error code: -5)');
  });

  it('rejects the 20.11+ EAL option -a on an 18.11 build (18.11 uses -w)', async () => {
    const inst = await instance(
      { nodes: TWO_NODES, nics: nics2, rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    const r = await failingStart(bin18, inst, eal2);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("invalid option -- 'a'");
  });

  it('comes up only after DPVS_SIM_START_DELAY; tools fail with upstream exit codes until then', async () => {
    const inst = await instance(
      { nodes: TWO_NODES, nics: nics2, rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    inst.env.DPVS_SIM_START_DELAY = '8';
    const p = startDpvs(bin19, inst, eal2);
    await waitFor(async () => existsSync(inst.pidFile), 5000);
    const early = await tool(bin19, inst, 'ipvsadm', ['-ln']);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('Are you sure that dpvs is running?');
    const dpip = await tool(bin19, inst, 'dpip', ['link', 'show']);
    expect(dpip.code).toBe(1);
    expect(await waitFor(async () => (await tool(bin19, inst, 'ipvsadm', ['-ln'])).code === 0, 20_000)).toBe(
      true,
    );
    killPid(p.pid ?? -1, 'SIGKILL');
  });
});

// ---------------------------------------------------------------------------------------------

describe('keepalived (DPVS fork) master/backup over unicast on 127.0.0.x', () => {
  const keepalivedConf = (state: string, prio: number, self: string, peer: string, lip: string): string => `
global_defs {
    router_id ${state}
}
local_address_group laddr_g1 {
    ${lip} dpdk0
}
vrrp_instance VI_1 {
    state ${state}
    priority ${prio}
    virtual_router_id 51
    advert_int 1
    interface dpdk1.kni
    dpdk_interface dpdk1
    unicast_src_ip ${self}
    unicast_peer {
        ${peer}
    }
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        10.0.96.204
    }
}
virtual_server 10.0.96.204 80 {
    delay_loop 3
    lb_algo rr
    lb_kind FNAT
    protocol TCP
    laddr_group_name laddr_g1
    real_server 192.168.229.1 80 {
        weight 1
    }
}
`;
  const nics: SysfsSpec['nics'] = [
    { bdf: '0000:00:10.0', numa: 0, driver: 'uio_pci_generic' },
    { bdf: '0000:00:11.0', numa: 0, driver: 'uio_pci_generic' },
  ];
  const eal = ['-a', '0000:00:10.0', '-a', '0000:00:11.0', '-l', '0-1'];
  const two = ['dpdk0', 'dpdk1'];

  it('fails with "IPVS: Can\'t initialize ipvs: Connection refused" when dpvs is not running', async () => {
    const inst = await instance(
      { nodes: TWO_NODES, nics, rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    // a stale IPC socket left by a dead dpvs (bound, nobody listening): connecting is refused
    const bound = await run('/usr/bin/python3', [
      '-c',
      'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])',
      inst.ipc,
    ]);
    expect(bound.code).toBe(0);
    const kconf = join(inst.dir, 'keepalived.conf');
    await writeFile(kconf, keepalivedConf('MASTER', 150, '127.0.0.2', '127.0.0.3', '192.168.229.204'));
    const r = await run(join(bin19, 'keepalived'), ['-f', kconf, '--dont-fork', '-D'], {
      env: inst.env,
      timeout: 15_000,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("IPVS: Can't initialize ipvs: Connection refused");
  });

  it('MASTER pushes services and the VIP, BACKUP does not, BACKUP takes over when MASTER stops', async () => {
    const a = await instance(
      { nodes: TWO_NODES, nics, rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    const b = await instance(
      { nodes: TWO_NODES, nics, rteKni: 'on' },
      dpvsConf({ devices: two, workers: simpleWorkers(two) }),
    );
    await startUp(bin19, a, eal);
    await startUp(bin19, b, eal);
    const port = String(20000 + (process.pid % 20000));
    await writeFile(
      join(a.dir, 'k.conf'),
      keepalivedConf('MASTER', 150, '127.0.0.2', '127.0.0.3', '192.168.229.204'),
    );
    await writeFile(
      join(b.dir, 'k.conf'),
      keepalivedConf('BACKUP', 100, '127.0.0.3', '127.0.0.2', '192.168.229.205'),
    );
    const ka = procs.start(
      join(bin19, 'keepalived'),
      ['-f', join(a.dir, 'k.conf'), '--dont-fork', '-p', join(a.dir, 'k.pid')],
      {
        ...a.env,
        KEEPALIVED_SIM_VRRP_PORT: port,
      },
    );
    procs.start(
      join(bin19, 'keepalived'),
      ['-f', join(b.dir, 'k.conf'), '--dont-fork', '-p', join(b.dir, 'k.pid')],
      {
        ...b.env,
        KEEPALIVED_SIM_VRRP_PORT: port,
      },
    );
    const hasVip = async (i: Instance): Promise<boolean> =>
      (await tool(bin19, i, 'dpip', ['addr', 'show'])).stdout.includes(
        'inet 10.0.96.204/32 scope global dpdk1',
      );
    expect(await waitFor(() => hasVip(a), 10_000)).toBe(true);
    // both push the virtual server and their own local address group
    for (const [i, lip] of [
      [a, '192.168.229.204'],
      [b, '192.168.229.205'],
    ] as const) {
      expect(
        await waitFor(
          async () => (await tool(bin19, i, 'ipvsadm', ['-ln'])).stdout.includes('FullNat'),
          10_000,
        ),
      ).toBe(true);
      const ln = await tool(bin19, i, 'ipvsadm', ['-ln']);
      expect(ln.stdout).toContain('IP Virtual Server version 1.9.10 (size=0)');
      expect(ln.stdout).toContain(
        'TCP  10.0.96.204:80 rr\n  -> 192.168.229.1:80             FullNat 1      0          0',
      );
      expect((await tool(bin19, i, 'ipvsadm', ['-G'])).stdout).toContain(lip);
    }
    // the backup holds back while the master advertises
    await new Promise((r) => setTimeout(r, 4500));
    expect(await hasVip(b)).toBe(false);
    expect(await hasVip(a)).toBe(true);
    // master stops (SIGKILL: no goodbye advert) -> backup takes over within ~3 x advert_int
    killPid(ka.pid ?? -1, 'SIGKILL');
    expect(await waitFor(() => hasVip(b), 8000)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// the upstream behaviour corpus (test/fixtures/upstream/): for every sample and every series it holds
// for, the built tools of that series print the same bytes (or refuse with the same message and status)

describe('upstream corpus: the simulators print what upstream prints', () => {
  const corpus = loadCorpus().filter((e) => e.run !== undefined);
  const builds: Array<[Series, () => string]> = [
    ['1.8', () => bin18],
    ['1.9', () => bin19],
    ['1.10', () => bin110],
  ];
  for (const [series, binOf] of builds) {
    const release = SERIES_RELEASE[series];
    for (const e of corpus.filter((x) => holdsFor(x, release))) {
      it(`${release}: ${e.id}`, async () => {
        const bin = binOf();
        const ports = e.ports ?? ['dpdk0', 'dpdk1'];
        const nics: SysfsSpec['nics'] = ports.map((_, i) => ({
          bdf: `0000:00:1${i}.0`,
          numa: 0,
          driver: 'uio_pci_generic',
        }));
        const inst = await instance(
          { nodes: [{ cpus: '0-3', free2m: 1024 }], nics, rteKni: 'on' },
          dpvsConf({ devices: ports, workers: simpleWorkers(ports) }),
        );
        const old = series === '1.8';
        const eal = [
          ...nics.flatMap((n) => [old ? '-w' : '-a', n.bdf]),
          '-l',
          '0-1',
          old ? '--master-lcore' : '--main-lcore',
          '0',
        ];
        const macs: Record<string, string> = {};
        const [tool0, ...args] = e.run ?? [];
        if (e.dpvs !== 'down' && tool0 !== 'dpvs') {
          await startUp(bin, inst, eal);
          const links = await tool(bin, inst, 'dpip', ['link', 'show']);
          for (const m of links.stdout.matchAll(/^\d+: (\S+): [\s\S]*?^ {4}addr (\S+)/gm))
            macs[m[1] ?? ''] = m[2] ?? '';
        }
        try {
          for (const [t, ...a] of e.setup ?? []) {
            const r = await tool(bin, inst, t ?? '', a);
            expect({ cmd: [t, ...a].join(' '), ...r }).toEqual({
              cmd: [t, ...a].join(' '),
              code: 0,
              stdout: '',
              stderr: '',
            });
          }
          const r = await tool(bin, inst, tool0 ?? '', args);
          const versionText = (await tool(bin, inst, 'dpvs', ['-v'])).stderr;
          const fill = {
            macs,
            ipvsVersion: ipvsVersionOf(release),
            argv0: join(bin, tool0 ?? ''),
            dpvsVersion: /dpvs version: (\S+),/.exec(versionText)?.[1] ?? '?',
          };
          expect(
            compareOutput(r.stdout, e.stdout ?? [], e.order, fill),
            `stdout of ${e.run?.join(' ')}:\n${r.stdout}`,
          ).toBeNull();
          expect(
            compareOutput(r.stderr, e.stderr ?? [], 'exact', fill),
            `stderr of ${e.run?.join(' ')}:\n${r.stderr}`,
          ).toBeNull();
          expect(r.code).toBe(e.exit ?? 0);
        } finally {
          const pid = existsSync(inst.pidFile) ? Number((await readFile(inst.pidFile, 'utf8')).trim()) : 0;
          if (pid > 0) killPid(pid, 'SIGKILL');
        }
      });
    }
  }
});
