/**
 * The compiler a host builds with, read once by the probe and shared by the DPDK build stamp and the
 * BUILD-006 preflight check (one `gcc --version` exec per probe).
 */

/** Probe key of the compiler's --version output. */
export const COMPILER_OUTPUT = 'dpdk-build-compiler';
/** The read, as argv (the probe runs with LC_ALL=C; the first line is used). */
export const COMPILER_ARGV: readonly string[] = ['gcc', '--version'];

/**
 * The version in gcc's first --version line: "gcc (Debian 12.2.0-14) 12.2.0", "gcc (GCC) 8.5.0 20210514
 * (Red Hat 8.5.0-18)", "gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0"; null when it is not gcc's.
 */
export function gccVersion(firstLine: string): string | null {
  return /^\S*gcc\S* \([^)]*\) (\d+(?:\.\d+)+)/.exec(firstLine.trim())?.[1] ?? null;
}
