/**
 * The lab itself, over real SSH (system OpenSSH client, -F .lab/ssh/ssh_config). Brings the default
 * lab up before, and down after (also when a test fails).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLab, labSsh, stopLab, type LabInfo } from './harness.js';
import { labNamespaces } from './net.js';
import { mountsUnder } from './proc.js';
import { SUBNET_OCTET } from './instance.js';
import { labPaths } from './paths.js';
import { LAB_UPLINK_ADDRESS } from './profiles.js';
import type { LabHostProfile } from './profile-types.js';
import { status, up } from './lab.js';

const REAL_HP = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';
const realHugepages = (): string => readFileSync(REAL_HP, 'utf8').trim();

let lab: LabInfo;
let hpBefore: string;

function host(name: string): LabHostProfile {
  const p = lab.hosts.find((h) => h.name === name);
  if (!p) throw new Error(`no lab host ${name}`);
  return p;
}

async function ok(h: string, cmd: string): Promise<string> {
  const r = await labSsh(h, cmd);
  expect(r.code, `${h}: ${cmd}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** The section of `dpdk-devbind.py --status` a device is listed in. */
function devbindSection(statusText: string, bdf: string): string | undefined {
  let section: string | undefined;
  for (const line of statusText.split('\n')) {
    if (/^Network devices using /.test(line) || /^Other Network devices/.test(line)) section = line.trim();
    if (line.startsWith(bdf + ' ')) return section;
  }
  return undefined;
}

beforeAll(async () => {
  hpBefore = realHugepages();
  lab = await ensureLab();
});

afterAll(async () => {
  await stopLab();
});

describe('lab hosts over real SSH', () => {
  it('up on a running lab reuses it', async () => {
    const before = await status();
    const r = await up();
    expect(r.reused).toBe(true);
    expect((await status()).map((h) => h.sshdPid)).toEqual(before.map((h) => h.sshdPid));
  });

  it('every host reports its own hostname, OS, NUMA nodes, PCI NICs and management MAC', async () => {
    await Promise.all(
      lab.hosts.map(async (p) => {
        const out = await ok(
          p.name,
          'hostname; cat /sys/devices/system/node/online; ls /sys/bus/pci/devices | tr "\\n" " "; echo; cat /sys/class/net/eth0/address; . /etc/os-release; echo $ID; cat /proc/1/comm; ps -o comm= --ppid 1 | sort -u | tr "\\n" " "',
        );
        const [name, nodes, pci, mac, osId, pid1, children] = out.trim().split('\n');
        expect(name).toBe(p.name);
        expect(nodes).toBe(p.numaNodes === 1 ? '0' : `0-${p.numaNodes - 1}`);
        expect((pci ?? '').trim().split(' ').sort()).toEqual(p.nics.map((n) => n.pci).sort());
        expect(mac).toBe(p.nics.find((n) => n.management)?.mac);
        expect(osId).toBe(p.os.replace(/\d+$/, ''));
        // PID 1 is host-init.py (it reaps, and reboots the host on `systemctl reboot`); sshd is its child
        expect(pid1).toBe('python3');
        expect((children ?? '').split(' ')).toContain('sshd');
      }),
    );
  });

  it('ssh by bare address works too, with the same host key checking', async () => {
    const p = host('rs2');
    expect((await ok(`root@${p.address}`, 'hostname')).trim()).toBe('rs2');
  });

  it('writes inside one host never appear in another host or on the real machine', async () => {
    const token = 'lab-probe-' + randomBytes(6).toString('hex');
    const files = [
      `/etc/${token}`,
      `/opt/${token}`,
      `/var/${token}`,
      `/usr/lib/${token}`,
      `/usr/local/${token}`,
      `/root/${token}`,
      `/tmp/${token}`,
      `/dev/${token}`,
    ];
    await ok('lb1', files.map((f) => `echo x > ${f}`).join(' && '));
    expect((await ok('lb1', `cat ${files.join(' ')} | wc -l`)).trim()).toBe(String(files.length));
    const seenOnLb2 = await labSsh('lb2', `ls ${files.join(' ')} 2>/dev/null | wc -l`);
    expect(seenOnLb2.stdout.trim()).toBe('0');
    for (const f of files) expect(existsSync(f), f).toBe(false);
  });

  it('the real hugepage counter and PCI tree are out of reach', async () => {
    const w = await labSsh('lb1', `echo 7 > ${REAL_HP}; echo 7 > /proc/sys/vm/nr_hugepages; cat ${REAL_HP}`);
    // With the fake kernel the write lands in lb1's fake counter; without it /sys is read-only.
    if (lab.fakeKernel) expect(w.stdout.trim()).toBe('7');
    expect(realHugepages()).toBe(hpBefore);
    expect((await ok('lb2', `cat ${REAL_HP}`)).trim()).toBe('0');
    // The host sees exactly its profile's PCI devices, none of the machine's own (host bridge, disks).
    const hostPci = (await ok('lb1', 'ls /sys/bus/pci/devices')).trim().split('\n').sort();
    expect(hostPci).toEqual(
      host('lb1')
        .nics.map((n) => n.pci)
        .sort(),
    );
    // The machine's /dev nodes (kvm, loop devices, fuse, ...) are absent from the host's private /dev.
    const hostDev = (await ok('lb1', 'ls /dev')).trim().split('\n');
    for (const d of ['kvm', 'loop0', 'fuse', 'kmsg', 'mem']) expect(hostDev).not.toContain(d);
    expect(hostDev).toEqual(expect.arrayContaining(['null', 'zero', 'urandom', 'tty', 'ptmx', 'pts']));
  });

  it('deploy can sudo without a password; nosudo cannot', async () => {
    expect((await ok('deploy@lb1', 'id -un; sudo -n id -u')).trim().split('\n')).toEqual(['deploy', '0']);
    const r = await labSsh('nosudo@lb1', 'id -un; sudo -n true');
    expect(r.stdout.trim()).toBe('nosudo');
    expect(r.code).not.toBe(0);
  });

  it('hosts reach each other and the fixtures server, but nothing outside the lab', async () => {
    expect(
      (
        await ok('lb1', `timeout 5 bash -c "exec 3<>/dev/tcp/10.${SUBNET_OCTET}.1.2/22; head -c 7 <&3"`)
      ).trim(),
    ).toBe('SSH-2.0');
    expect(await ok('rs1', `curl -s -o /dev/null -w '%{http_code}' ${lab.fixturesUrl}`)).toBe('200');
    const r = await labSsh('rs1', 'ip route get 192.0.2.1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unreachable/i);
  });

  it('hosts cannot open connections to root-namespace listeners (uplink firewall)', async (ctx) => {
    if (!lab.firewall)
      ctx.skip('nftables is not available: hosts can reach root-namespace listeners (documented gap)');
    const server: Server = createServer((s) => s.end('hello\n'));
    await new Promise<void>((r) => server.listen(0, LAB_UPLINK_ADDRESS, r));
    try {
      const port = (server.address() as { port: number }).port;
      const r = await labSsh(
        'lb1',
        `timeout 3 bash -c 'exec 3<>/dev/tcp/${LAB_UPLINK_ADDRESS}/${port}; head -1 <&3'`,
      );
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toContain('hello');
    } finally {
      server.close();
    }
  });
});

describe('driver binding through the fake kernel (real dpdk-devbind.py)', () => {
  it('dpdk-devbind.py -b vfio-pci moves a NIC to the DPDK section and back', async (ctx) => {
    if (!lab.fakeKernel) ctx.skip('needs test/lab/fakekernel (FUSE sysfs write semantics), not present');
    const nic = host('lb1').nics.find((n) => n.driver === 'ixgbe');
    if (!nic) throw new Error('lb1 has no ixgbe NIC');
    await ok('lb1', 'modprobe vfio-pci');
    await ok('lb1', `dpdk-devbind.py -b vfio-pci ${nic.pci}`);
    let st = await ok('lb1', 'dpdk-devbind.py --status-dev net');
    expect(devbindSection(st, nic.pci)).toMatch(/DPDK-compatible driver/);
    expect(await ok('lb2', 'dpdk-devbind.py --status-dev net')).not.toMatch(/drv=vfio-pci/);
    await ok('lb1', `dpdk-devbind.py -b ixgbe ${nic.pci}`);
    st = await ok('lb1', 'dpdk-devbind.py --status-dev net');
    expect(devbindSection(st, nic.pci)).toMatch(/kernel driver/);
    expect(st).toContain(`if=${nic.ifname}`);
  });

  it('binding the management NIC (up and routed) is refused unless forced', async (ctx) => {
    if (!lab.fakeKernel) ctx.skip('needs test/lab/fakekernel (FUSE sysfs write semantics), not present');
    const mgmt = host('lb2').nics.find((n) => n.management);
    if (!mgmt) throw new Error('lb2 has no management NIC');
    await ok('lb2', 'modprobe vfio-pci');
    const r = await labSsh('lb2', `dpdk-devbind.py -b vfio-pci ${mgmt.pci}`);
    expect(r.stdout + r.stderr).toMatch(/is active\. Not modifying/);
    let st = await ok('lb2', 'dpdk-devbind.py --status-dev net');
    expect(devbindSection(st, mgmt.pci)).toMatch(/kernel driver/);
    await ok('lb2', `dpdk-devbind.py --force -b vfio-pci ${mgmt.pci}`);
    st = await ok('lb2', 'dpdk-devbind.py --status-dev net');
    expect(devbindSection(st, mgmt.pci)).toMatch(/DPDK-compatible driver/);
    // The fake binding does not touch the real veth: the session still works; put it back.
    await ok('lb2', `dpdk-devbind.py -b ${mgmt.driver} ${mgmt.pci}`);
    st = await ok('lb2', 'dpdk-devbind.py --status-dev net');
    expect(devbindSection(st, mgmt.pci)).toMatch(/kernel driver/);
  });
});

describe('lab down', () => {
  it('removes every namespace, mount and state file, and restores nothing it did not change', async () => {
    await stopLab();
    expect(await labNamespaces()).toEqual([]);
    const paths = labPaths();
    expect(await mountsUnder(paths.lab)).toEqual([]);
    expect(existsSync(paths.stateFile)).toBe(false);
    expect(realHugepages()).toBe(hpBefore);
  });
});
