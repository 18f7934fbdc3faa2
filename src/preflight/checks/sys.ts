/** System checks: a foreign dpvs, open-file limits, supported OS, IPv6 for toa. */
import { finding, type PreflightCheck } from '../check.js';
import { NR_OPEN_KEY, nrOpen } from '../../facts/reads/nr-open.js';
import {
  dpvsLine,
  dpvsVersion,
  formatVersion,
  isBalancer,
  isRealserver,
  pidFile,
} from '../../desired/settings.js';

export const OUT_NR_OPEN = NR_OPEN_KEY;

export const noForeignDpvs: PreflightCheck = {
  id: 'SYS-001',
  title: 'another dpvs is already running',
  severity: 'error',
  howToFix: 'Stop the other dpvs instance.',
  protects:
    'A second DPVS instance holds the ports, hugepages and /var/run/dpvs.ipc: ours would fail or the tools would talk to the wrong one.',
  run({ host, facts }) {
    if (!isBalancer(host)) return null;
    const pids = facts.processes['dpvs'] ?? [];
    if (pids.length === 0) return null;
    const file = pidFile(host);
    const pf = facts.files[file];
    const ours = pf?.exists && pf.content ? Number.parseInt(pf.content.trim(), 10) : null;
    const foreign = pids.filter((p) => p !== ours);
    if (foreign.length === 0) return null;
    return finding(
      `dpvs running as pid ${foreign.join(', ')}, ` +
        (ours === null ? `and no pid file ${file}` : `but ${file} names pid ${ours}`),
      `no dpvs other than the one ${file} names`,
      `stop the other instance (kill ${foreign.join(' ')}) — dpvs-deploy manages one instance per host`,
    );
  },
};

export const nofileLimit: PreflightCheck = {
  id: 'SYS-002',
  title: 'nofile above the kernel limit fs.nr_open',
  severity: 'error',
  howToFix: 'Lower nofile to fs.nr_open, or raise fs.nr_open with sysctl.',
  protects: 'systemd refuses LimitNOFILE above fs.nr_open: the dpvs unit would not start.',
  run({ host, facts }) {
    if (host.nofile === undefined) return null;
    const limit = nrOpen.read(facts);
    if (limit === null || host.nofile <= limit) return null;
    return finding(
      `nofile: ${host.nofile}, fs.nr_open ${limit}`,
      `nofile ≤ ${limit}`,
      `lower nofile to at most ${limit}, or raise fs.nr_open (sysctl -w fs.nr_open=${host.nofile}, persisted in /etc/sysctl.d)`,
    );
  },
};

export const nofileForHugepages: PreflightCheck = {
  id: 'SYS-003',
  title: 'open-file limit below the hugepage count',
  severity: 'warning',
  howToFix: 'Set nofile above the 2 MiB hugepage count (e.g. 65536), or use 1 GiB pages.',
  protects:
    'DPDK keeps one file descriptor per 2 MiB hugepage segment; with thousands of pages the default limit of 1024 ends in "Too many open files" at init.',
  run({ host, facts }) {
    if (!isBalancer(host) || host.hugepages?.size === '1G') return null;
    const perNode = host.hugepages?.per_node;
    const nodes = facts.numa.length ? facts.numa.map((n) => n.id) : [0];
    const pages =
      perNode === undefined
        ? (facts.hugepages.find((h) => h.sizeKb === 2048)?.total ?? 0)
        : nodes.reduce(
            (s, id) => s + (typeof perNode === 'number' ? perNode : (perNode[String(id)] ?? 0)),
            0,
          );
    const limit = host.nofile ?? facts.limits.nofile;
    const need = pages + 1024;
    if (limit === 0 || limit >= need) return null;
    return finding(
      `open-file limit ${limit}${host.nofile === undefined ? ' (the login shell’s ulimit -n)' : ''} for ${pages} × 2 MiB hugepages`,
      `nofile ≥ ${need}`,
      `set nofile: ${Math.max(65536, need)} in the inventory (the dpvs unit gets LimitNOFILE), or use hugepages.size: 1G`,
    );
  },
};

export const SUPPORTED_OS = ['debian', 'ubuntu', 'centos', 'rocky', 'almalinux', 'rhel'] as const;

export const supportedOs: PreflightCheck = {
  id: 'SYS-004',
  title: 'operating system not supported',
  severity: 'error',
  howToFix: 'Use Debian, Ubuntu, CentOS 7, Rocky, Alma or RHEL.',
  protects:
    'dpvs-deploy knows package names, paths and kernel-header packages of Debian, Ubuntu, CentOS 7, Rocky, Alma and RHEL only.',
  run({ facts }) {
    const { id, versionId, prettyName } = facts.os;
    const known = (SUPPORTED_OS as readonly string[]).includes(id);
    if (known && (id !== 'centos' || versionId.startsWith('7'))) return null;
    return finding(
      `${prettyName || id} (ID=${id} VERSION_ID=${versionId})`,
      'Debian, Ubuntu, CentOS 7, Rocky Linux, AlmaLinux or RHEL',
      'install a supported distribution (CentOS Stream → Rocky or AlmaLinux)',
    );
  },
};

export const centos7Gcc: PreflightCheck = {
  id: 'SYS-005',
  title: 'DPVS 1.10 on CentOS 7',
  severity: 'error',
  howToFix: 'Use DPVS 1.9.x on CentOS 7, or a newer OS for 1.10.',
  protects:
    'DPVS 1.10 / DPDK 24.11 need a newer compiler than CentOS 7’s GCC 4.8 (upstream verifies CentOS 7 only for < 1.10).',
  run({ host, facts }) {
    if (!isBalancer(host) || dpvsLine(host) !== '1.10') return null;
    if (facts.os.id !== 'centos' || !facts.os.versionId.startsWith('7')) return null;
    return finding(
      `DPVS ${formatVersion(dpvsVersion(host))} on ${facts.os.prettyName || 'CentOS 7'} (GCC 4.8)`,
      'DPVS 1.9.x on CentOS 7, or a newer OS for 1.10',
      'set dpvs.version: 1.9.10 for this host, or move it to Rocky/Alma 8+',
    );
  },
};

export const ipv6ForToa: PreflightCheck = {
  id: 'SYS-006',
  title: 'IPv6 stack missing for toa',
  severity: 'error',
  howToFix: 'Remove ipv6.disable=1 from the kernel cmdline, or realserver.toa: false with proxy protocol.',
  protects:
    'toa.ko hooks the IPv6 stack too; without it the load fails ("get ipv6 struct from kernel fail").',
  run({ host, facts }) {
    if (!isRealserver(host) || host.realserver?.toa === false || facts.kernel.ipv6) return null;
    const disabled = /\bipv6\.disable=1\b/.test(facts.kernel.cmdline);
    return finding(
      `no IPv6 stack${disabled ? ' (kernel cmdline has ipv6.disable=1)' : ''}`,
      'IPv6 stack present (net.ipv6 sysctls may still disable addresses)',
      'remove ipv6.disable=1 from the kernel cmdline (net.ipv6.conf.all.disable_ipv6=1 keeps IPv6 unused), ' +
        'or set realserver.toa: false and use proxy protocol',
    );
  },
};

export const sysChecks: PreflightCheck[] = [
  noForeignDpvs,
  nofileLimit,
  nofileForHugepages,
  supportedOs,
  centos7Gcc,
  ipv6ForToa,
];
