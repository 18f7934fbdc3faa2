/**
 * The compiler a host builds with: the first line of `gcc --version` (the probe runs with LC_ALL=C),
 * shared by the DPDK build stamp and the BUILD-006 preflight check (one exec per probe).
 *
 *   { line: 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0', version: '12.2.0' }
 */
import { z } from 'zod';
import { factReader } from '../read.js';

export const COMPILER_KEY = 'dpdk-build-compiler';
const KEY = COMPILER_KEY;
/** The read, as argv. */
export const COMPILER_ARGV: readonly string[] = ['gcc', '--version'];

/**
 * The version in gcc's first --version line: "gcc (Debian 12.2.0-14) 12.2.0", "gcc (GCC) 8.5.0 20210514
 * (Red Hat 8.5.0-18)", "gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0"; null when it is not gcc's.
 */
export function gccVersion(firstLine: string): string | null {
  return /^\S*gcc\S* \([^)]*\) (\d+(?:\.\d+)+)/.exec(firstLine.trim())?.[1] ?? null;
}

export const compilerSchema = z.object({
  /** the first line, '' when gcc is missing or printed nothing */
  line: z.string(),
  version: z.string().nullable(),
});
export type Compiler = z.infer<typeof compilerSchema>;

export const compiler = factReader<Compiler>({
  name: 'compiler (gcc --version)',
  keys: [KEY],
  schema: compilerSchema,
  request: () => ({ execs: { [KEY]: [...COMPILER_ARGV] } }),
  parse: (raw) => {
    const line = (raw(KEY)?.stdout ?? '').split('\n')[0]?.trim() ?? '';
    return { line, version: gccVersion(line) };
  },
});
