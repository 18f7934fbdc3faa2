/** What the preflight checks read beyond the fixed facts (merged into the host's probe). Pure. */
import type { ProbeRequest } from '../facts/types.js';
import { joinRequests, type ReaderRequest } from '../facts/read.js';
import { acpiTables } from '../facts/reads/boot-firmware.js';
import { compiler } from '../facts/reads/compiler.js';
import { installedKernels } from '../facts/reads/installed-kernels.js';
import { nrOpen } from '../facts/reads/nr-open.js';
import { pkgConfigVersion } from '../facts/reads/pkg-config.js';
import { tcpSynRecv } from '../facts/reads/tcp-syn-recv.js';
import type { LoadedInventory, ResolvedHost } from '../inventory/types.js';
import { buildDir } from './checks/build.js';
import { driverModule } from './checks/kmod.js';
import { OPENSSL_HEADER } from './checks/toolchain.js';
import { dpdkVersion, isBalancer, isRealserver, pidFile } from '../desired/settings.js';

export function preflightProbe(host: ResolvedHost, _inventory: LoadedInventory): ProbeRequest {
  const req: Required<Pick<ProbeRequest, 'commands' | 'modules' | 'diskPaths' | 'processes' | 'files'>> = {
    commands: [],
    modules: [],
    diskPaths: [],
    processes: [],
    files: [],
  };
  // SYS-002: the kernel's ceiling for LimitNOFILE
  const reads: ReaderRequest[] = [nrOpen.request()];
  // KERNEL-004: the firmware's IOMMU tables (DMAR, IVRS), when the IOMMU is to be turned on
  if (host.kernel?.iommu || host.kernel?.cmdline?.add?.some((a) => a.startsWith('intel_iommu=')))
    reads.push(acpiTables.request());
  if (isBalancer(host) || isRealserver(host)) {
    // BUILD-002: installed kernels (reboot pending?); BUILD-004: disk for the builds
    reads.push(installedKernels.request());
    req.diskPaths.push(buildDir(host));
  }
  if (isRealserver(host) && host.realserver?.toa !== false) {
    // BUILD-007: the kernel's tcp_v4_syn_recv_sock, which toa.ko calls
    reads.push(tcpSynRecv.request());
  }
  if (isBalancer(host)) {
    // BUILD-003: pkg-config version, read only where the check looks at it (DPDK 20.11+)
    req.commands.push('pkg-config', 'gcc', 'make');
    if (dpdkVersion(host).major >= 20) reads.push(pkgConfigVersion.request());
    // BUILD-006: the compiler and OpenSSL headers DPVS would build with
    reads.push(compiler.request());
    req.files.push(OPENSSL_HEADER);
    // KMOD-001 binding driver, KMOD-003 vhost_net (1.10 KNI), KMOD-005 rte_kni parameters
    req.modules.push(driverModule(host), 'vhost_net', 'rte_kni');
    req.files.push('/dev/vhost-net', pidFile(host));
    // SYS-001: another dpvs
    req.processes.push('dpvs');
  }
  const r = joinRequests(...reads);
  return { ...r, ...req, files: [...(r.files ?? []), ...req.files], modules: [...new Set(req.modules)] };
}
