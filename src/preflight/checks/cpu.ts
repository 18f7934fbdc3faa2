/** CPU checks: hyper-threading, instruction-set flags DPDK and the build's -march need, architecture. */
import { finding, type PreflightCheck, listText } from '../check.js';
import { isBalancer, isRealserver } from '../../desired/settings.js';

export const smtOff: PreflightCheck = {
  id: 'CPU-001',
  title: 'hyper-threading is on',
  severity: 'error',
  howToFix: 'BIOS: Processor Settings → Logical Processor (Hyper-Threading): Disabled, or boot with nosmt.',
  protects:
    'DPVS workers busy-poll one core each; a hyper-thread sibling shares that core and halves its forwarding rate.',
  run({ host, facts }) {
    if (!isBalancer(host) || host.expect?.smt === true) return null;
    const { threadsPerCore, smtActive } = facts.cpu;
    if (!smtActive && threadsPerCore <= 1) return null;
    return finding(
      `${threadsPerCore} threads per core (smt/active=${smtActive ? 1 : 0})`,
      '1 thread per core',
      'BIOS: Processor Settings → Logical Processor (Hyper-Threading): Disabled ' +
        '(or boot with the kernel parameter nosmt); where SMT is intended, waive CPU-001 with a reason ' +
        '(expect.smt: true turns this check off instead)',
    );
  },
};

/** Flags every DPDK x86 build needs at run time (DPDK's baseline is SSE4.2; SSSE3 per the VM notes). */
export const DPDK_BASE_FLAGS = ['ssse3', 'sse4_2'] as const;

export const dpdkBaseFlags: PreflightCheck = {
  id: 'CPU-002',
  title: 'CPU lacks instruction sets DPDK needs',
  severity: 'error',
  howToFix:
    'Use a CPU with SSE4.2/SSSE3; in a VM pass the host CPU model through (libvirt host-passthrough, QEMU -cpu host).',
  protects:
    'DPDK is compiled for SSE4.2 at least; on a CPU (or VM CPU model) without it dpvs dies with an illegal instruction.',
  run({ host, facts }) {
    if (!isBalancer(host)) return null;
    const missing = DPDK_BASE_FLAGS.filter((f) => !facts.cpu.flags.includes(f));
    if (missing.length === 0) return null;
    return finding(
      `CPU flags lack ${listText(missing)} (${facts.cpu.model})`,
      `CPU flags include ${listText([...DPDK_BASE_FLAGS])}`,
      'use a CPU with SSE4.2; in a VM expose the host CPU model (libvirt: <cpu mode="host-passthrough"/>, QEMU: -cpu host)',
    );
  },
};

const AVX2 = ['ssse3', 'sse4_2', 'popcnt', 'aes', 'avx', 'avx2', 'bmi1', 'bmi2', 'fma', 'movbe'];
const AVX512 = [
  'ssse3',
  'sse4_2',
  'avx2',
  'bmi2',
  'fma',
  'avx512f',
  'avx512cd',
  'avx512bw',
  'avx512dq',
  'avx512vl',
];
const AVX = ['ssse3', 'sse4_2', 'popcnt', 'aes', 'pclmulqdq', 'avx'];

/** Instruction-set flags (as /proc/cpuinfo names them) each -march value compiles in. */
export const MARCH_FLAGS: Readonly<Record<string, readonly string[]>> = {
  core2: ['ssse3'],
  nehalem: ['ssse3', 'sse4_2', 'popcnt'],
  corei7: ['ssse3', 'sse4_2', 'popcnt'],
  westmere: ['ssse3', 'sse4_2', 'popcnt', 'aes', 'pclmulqdq'],
  sandybridge: AVX,
  'corei7-avx': AVX,
  ivybridge: [...AVX, 'f16c', 'rdrand'],
  haswell: AVX2,
  'core-avx2': AVX2,
  broadwell: [...AVX2, 'adx'],
  skylake: [...AVX2, 'adx'],
  'skylake-avx512': AVX512,
  'icelake-server': AVX512,
  znver1: AVX2,
  znver2: AVX2,
  znver3: AVX2,
  'x86-64-v2': ['ssse3', 'sse4_2', 'popcnt', 'cx16'],
  'x86-64-v3': ['ssse3', 'sse4_2', 'popcnt', 'avx', 'avx2', 'bmi1', 'bmi2', 'fma', 'movbe', 'f16c'],
  // the same set as skylake-avx512 (listed in that order in a finding)
  'x86-64-v4': AVX512,
};

export const marchFlags: PreflightCheck = {
  id: 'CPU-003',
  title: "CPU lacks instruction sets the build's -march uses",
  severity: 'error',
  howToFix: 'Set dpdk.march to a level the CPU has (e.g. x86-64-v2, or native when building on the target).',
  protects:
    'A DPDK/DPVS built with dpdk.march (e.g. haswell → AVX2) crashes with SIGILL on a CPU without those instructions.',
  run({ host, facts }) {
    const march = host.dpdk?.march;
    if (!isBalancer(host) || march === undefined || march === 'native') return null;
    const required = MARCH_FLAGS[march];
    if (required === undefined) return null;
    const missing = required.filter((f) => !facts.cpu.flags.includes(f));
    if (missing.length === 0) return null;
    return finding(
      `dpdk.march: ${march}, but CPU flags lack ${listText(missing)} (${facts.cpu.model})`,
      `CPU flags include ${listText([...required])}`,
      `set dpdk.march to a level this CPU has (e.g. x86-64-v2, or native when building on the target), or run on a newer CPU`,
    );
  },
};

export const x86Only: PreflightCheck = {
  id: 'CPU-004',
  title: 'host is not x86_64',
  severity: 'error',
  howToFix: 'Use x86_64 hosts (or, on realservers, realserver.toa: false and proxy protocol).',
  protects: 'dpvs-deploy builds DPDK/DPVS and toa/uoa for x86_64 only (toa patches x86 page tables).',
  run({ host, facts }) {
    const needsX86 = isBalancer(host) || (isRealserver(host) && host.realserver?.toa !== false);
    if (!needsX86 || facts.kernel.machine === 'x86_64') return null;
    return finding(
      `machine ${facts.kernel.machine}`,
      'x86_64',
      'use an x86_64 host for balancers and for realservers with toa (or set realserver.toa: false and use proxy protocol)',
    );
  },
};

export const cpuChecks: PreflightCheck[] = [smtOff, dpdkBaseFlags, marchFlags, x86Only];
