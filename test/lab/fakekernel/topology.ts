/**
 * CPU numbering of a lab host, as Linux enumerates a multi-socket box: first every physical core of
 * every node, then (with SMT) their second threads. Node n owns cores n*c .. n*c+c-1 and their siblings.
 */
import type { LabHostProfile } from '../profile-types.js';

export interface LabCpu {
  id: number;
  node: number;
  /** CPU package (physical id): the node, unless the profile has its own socket count */
  socket: number;
  coreId: number;
  /** logical CPUs sharing this core (this one included), ascending */
  siblings: number[];
}

export function labCpus(p: LabHostProfile): LabCpu[] {
  const cores = p.numaNodes * p.cpusPerNode;
  const threads = p.smt ? 2 : 1;
  const perSocket = cores / (p.sockets ?? p.numaNodes);
  const out: LabCpu[] = [];
  for (let t = 0; t < threads; t++) {
    for (let node = 0; node < p.numaNodes; node++) {
      for (let c = 0; c < p.cpusPerNode; c++) {
        const base = node * p.cpusPerNode + c;
        const siblings = Array.from({ length: threads }, (_, i) => base + i * cores);
        const socket = p.sockets === undefined ? node : Math.floor(base / perSocket);
        const coreId = p.sockets === undefined ? c : base % perSocket;
        out.push({ id: base + t * cores, node, socket, coreId, siblings });
      }
    }
  }
  return out.sort((a, b) => a.id - b.id);
}

/** The logical CPUs of one CPU package. */
export function socketCpus(p: LabHostProfile, socket: number): number[] {
  return labCpus(p)
    .filter((c) => c.socket === socket)
    .map((c) => c.id);
}

export function nodeCpus(p: LabHostProfile, node: number): number[] {
  return labCpus(p)
    .filter((c) => c.node === node)
    .map((c) => c.id);
}

/** "0-3,8-11" from [0,1,2,3,8,9,10,11] (the kernel's cpulist format). */
export function cpuList(ids: number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The kernel's cpumask format: 32-bit hex groups, most significant first, comma-separated. */
export function cpuMask(ids: number[], totalCpus: number): string {
  const groups = Math.max(1, Math.ceil(totalCpus / 32));
  const words = new Array<number>(groups).fill(0);
  for (const id of ids) {
    const w = Math.floor(id / 32);
    words[w] = ((words[w] as number) | (1 << (id % 32))) >>> 0;
  }
  return words
    .reverse()
    .map((w) => w.toString(16).padStart(8, '0'))
    .join(',');
}
