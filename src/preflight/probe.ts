/** What the preflight checks read beyond the fixed facts (merged into the host's probe). Pure. */
import { COMPILER_ARGV, COMPILER_OUTPUT } from '../desired/compiler.js';
import { KEYS } from '../desired/bootloader.js';
import type { Listing, ProbeRequest } from '../facts/types.js';

const ACPI_TABLES_KEY = KEYS.acpiTables;
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import { buildDir, OUT_KERNELS, OUT_PKG_CONFIG } from './checks/build.js';
import { driverModule } from './checks/kmod.js';
import { OUT_NR_OPEN } from './checks/sys.js';
import { OUT_TCP_SYN_RECV, TCP_SYN_RECV_COMMAND, OPENSSL_HEADER } from './checks/toolchain.js';
import { dpdkVersion, isBalancer, isRealserver, pidFile } from '../desired/settings.js';

export function preflightProbe(host: ResolvedHost, _inventory: LoadedInventory): ProbeRequest {
  const req: Required<Pick<ProbeRequest, 'commands' | 'modules' | 'diskPaths' | 'processes' | 'files'>> & {
    outputs: Record<string, string>;
    execs: Record<string, string[]>;
    listings: Record<string, Listing>;
    texts: Record<string, string>;
  } = {
    commands: [],
    modules: [],
    diskPaths: [],
    processes: [],
    files: [],
    outputs: {},
    execs: {},
    listings: {},
    texts: {},
  };
  // SYS-002: the kernel's ceiling for LimitNOFILE
  req.texts[OUT_NR_OPEN] = '/proc/sys/fs/nr_open';
  // KERNEL-004: the firmware's IOMMU tables (DMAR, IVRS), when the IOMMU is to be turned on
  if (host.kernel?.iommu || host.kernel?.cmdline?.add?.some((a) => a.startsWith('intel_iommu=')))
    req.listings[ACPI_TABLES_KEY] = { dir: '/sys/firmware/acpi/tables' };
  if (isBalancer(host) || isRealserver(host)) {
    // BUILD-002: installed kernels (reboot pending?); BUILD-004: disk for the builds
    req.listings[OUT_KERNELS] = { dir: '/lib/modules' };
    req.diskPaths.push(buildDir(host));
  }
  if (isRealserver(host) && host.realserver?.toa !== false) {
    // BUILD-007: the kernel's tcp_v4_syn_recv_sock, which toa.ko calls
    req.outputs[OUT_TCP_SYN_RECV] = TCP_SYN_RECV_COMMAND;
  }
  if (isBalancer(host)) {
    // BUILD-003: pkg-config version, read only where the check looks at it (DPDK 20.11+)
    req.commands.push('pkg-config', 'gcc', 'make');
    if (dpdkVersion(host).major >= 20) req.execs[OUT_PKG_CONFIG] = ['pkg-config', '--version'];
    // BUILD-006: the compiler and OpenSSL headers DPVS would build with
    req.execs[COMPILER_OUTPUT] = [...COMPILER_ARGV];
    req.files.push(OPENSSL_HEADER);
    // KMOD-001 binding driver, KMOD-003 vhost_net (1.10 KNI), KMOD-005 rte_kni parameters
    req.modules.push(driverModule(host), 'vhost_net', 'rte_kni');
    req.files.push('/dev/vhost-net', pidFile(host));
    // SYS-001: another dpvs
    req.processes.push('dpvs');
  }
  return { ...req, modules: [...new Set(req.modules)] };
}
