/**
 * The kernel's CPU list format (Documentation/admin-guide/kernel-parameters.rst, "cpu lists"; what
 * /sys/devices/system/cpu/isolated, a NUMA node's cpulist and isolcpus= use): "2-5,8,10-11", ranges
 * with an optional stride "0-9:2/5" (use 2 CPUs of every group of 5). One parser and one printer for
 * the facts, the boot arguments, dpvs.conf's EAL lcores and the facts view.
 */

/** CPUs of a CPU list, ascending, each once; parts that are not a CPU or a range are skipped. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+)(?::(\d+)\/(\d+))?)?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    const used = m[3] !== undefined ? Number(m[3]) : 1;
    const group = m[4] !== undefined ? Math.max(1, Number(m[4])) : 1;
    for (let c = a; c <= b; c += group) for (let k = 0; k < used && c + k <= b; k++) out.push(c + k);
  }
  return [...new Set(out)].sort((x, y) => x - y);
}

/** [5,2,3,4,8] -> "2-5,8", as the kernel prints a CPU list (ascending, each CPU once). */
export function formatCpuList(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && (s[j + 1] as number) === (s[j] as number) + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
