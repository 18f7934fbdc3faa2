/** The facts view: what `dpvs-deploy facts` prints per host. */
import type { Facts } from '../../facts/types.js';
import type { ResolvedHost } from '../../inventory/types.js';
import type { Style } from './style.js';
import { formatCpuList } from '../../cpu-list.js';

function kb(n: number): string {
  return n >= 1048576 ? `${(n / 1048576).toFixed(1)} GiB` : `${Math.round(n / 1024)} MiB`;
}

export function renderFacts(host: ResolvedHost, f: Facts, st: Style): string {
  const o: string[] = [];
  o.push(
    `${st.bold(host.name)} ${st.dim(`(${host.address})`)} hostname=${f.hostname} os=${f.os.prettyName} kernel=${f.kernel.release} (${f.kernel.machine}) headers=${f.kernel.headersInstalled ? 'yes' : 'no'}`,
  );
  o.push(
    `  cpu: ${f.cpu.model || '?'}; ${f.cpu.online.length} online, ${f.cpu.sockets} socket(s), ${f.cpu.threadsPerCore} thread(s)/core, SMT ${f.cpu.smtActive ? st.yellow('active') : 'off'}; sse4_2 ${f.cpu.flags.includes('sse4_2') ? 'yes' : st.red('no')}`,
  );
  o.push(
    `  memory: ${kb(f.memory.totalKb)} total, ${kb(f.memory.freeKb)} free; iommu groups ${f.kernel.iommuGroups}; lockdown ${f.kernel.lockdown}`,
  );
  o.push('  NUMA  CPUs                    memory (free)            hugepages (total/free per size)');
  for (const n of f.numa) {
    const hp = n.hugepages.map((h) => `${h.sizeKb >= 1048576 ? '1G' : '2M'} ${h.total}/${h.free}`).join(', ');
    o.push(
      `  ${String(n.id).padEnd(5)} ${formatCpuList(n.cpus).padEnd(23)} ${`${kb(n.memTotalKb)} (${kb(n.memFreeKb)})`.padEnd(24)} ${hp}`,
    );
  }
  const mounts = f.mounts.map(
    (m) => `${m.target} (${m.options.split(',').find((x) => x.startsWith('pagesize')) ?? 'default'})`,
  );
  o.push(`  hugetlbfs: ${mounts.length ? mounts.join(', ') : 'none mounted'}`);
  o.push(
    '  NICs  PCI           id         driver            node  if          MAC                link   notes',
  );
  for (const n of f.nics) {
    const notes = [
      n.carriesSsh ? st.yellow('carries SSH') : '',
      n.defaultRoute ? 'default route' : '',
      n.driverOverride ? `override=${n.driverOverride}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    o.push(
      `        ${n.pci}  ${`${n.vendorId}:${n.deviceId}`.padEnd(10)} ${(n.driver ?? '(none)').padEnd(17)} ${String(n.numaNode).padEnd(5)} ${(n.ifname ?? '-').padEnd(11)} ${(n.mac ?? '-').padEnd(18)} ${(n.operstate ?? '-').padEnd(6)} ${notes}`,
    );
  }
  return o.join('\n');
}
