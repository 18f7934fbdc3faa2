/**
 * Facts: what one probe learns about a host, in one round trip. Each fact module (src/facts/*.ts)
 * contributes a shell snippet to the probe script and a parser for its section of the output.
 * The parsed document is this shape; `plan` and `preflight` read only this.
 */

export interface OsFacts {
  /** /etc/os-release ID: debian, ubuntu, centos, rocky, almalinux, rhel, ... */
  id: string;
  versionId: string;
  prettyName: string;
  family: 'debian' | 'rhel' | 'unknown';
  packageManager: 'apt' | 'dnf' | 'yum' | 'unknown';
}

export interface KernelFacts {
  /** uname -r */
  release: string;
  /** uname -m */
  machine: string;
  /** /lib/modules/<release>/build exists (headers for module builds) */
  headersInstalled: boolean;
  cmdline: string;
  /** /sys/kernel/security/lockdown shows [integrity] or [confidentiality] */
  lockdown: 'none' | 'integrity' | 'confidentiality' | 'unknown';
  secureBoot: boolean | null;
  ipv6: boolean;
  iommuGroups: number;
}

export interface CpuFacts {
  model: string;
  /** logical CPUs online */
  online: number[];
  flags: string[];
  threadsPerCore: number;
  /** /sys/devices/system/cpu/smt/active (or threadsPerCore > 1) */
  smtActive: boolean;
  sockets: number;
}

export interface HugepageCounter {
  /** page size in kB: 2048 or 1048576 */
  sizeKb: number;
  total: number;
  free: number;
}

export interface NumaNodeFacts {
  id: number;
  cpus: number[];
  memTotalKb: number;
  memFreeKb: number;
  hugepages: HugepageCounter[];
}

export interface MountFacts {
  source: string;
  target: string;
  fstype: string;
  options: string;
}

export interface NicFacts {
  pci: string;
  vendorId: string; // "8086"
  deviceId: string; // "10fb"
  /** current kernel driver, null when unbound */
  driver: string | null;
  driverOverride: string | null;
  numaNode: number; // -1 when the platform does not say
  /** kernel interface while bound to a kernel driver */
  ifname: string | null;
  mac: string | null;
  operstate: string | null;
  /** the NIC carries this SSH session */
  carriesSsh: boolean;
  /** the NIC carries the default route */
  defaultRoute: boolean;
  /** the interface has an IPv4/IPv6 address or a route (dpdk-devbind's "Active") */
  active: boolean;
  maxRxQueues: number | null;
  maxTxQueues: number | null;
}

export interface ModuleFacts {
  /** as /proc/modules spells it: underscores (vfio_pci, uio_pci_generic) */
  name: string;
  /** compiled into the kernel: present in /sys/module, absent from /proc/modules */
  builtin?: boolean;
  params: Record<string, string>;
  refcount: number;
}

export interface FileFacts {
  exists: boolean;
  sha256: string | null;
  mode: string | null; // octal, e.g. "0644"
  /** content, for small text files the tasks asked for (≤ 64 KiB) */
  content: string | null;
}

export interface Facts {
  hostname: string;
  os: OsFacts;
  kernel: KernelFacts;
  cpu: CpuFacts;
  memory: {
    totalKb: number;
    freeKb: number;
    hugepagesTotal: number;
    hugepagesFree: number;
    hugepageSizeKb: number;
  };
  numa: NumaNodeFacts[];
  /** global counters per size, /sys/kernel/mm/hugepages */
  hugepages: HugepageCounter[];
  mounts: MountFacts[];
  nics: NicFacts[];
  modules: ModuleFacts[];
  /** modules that modprobe can find (modinfo succeeds), among those the tasks asked about */
  modulesAvailable: string[];
  limits: { nofile: number };
  /** commands on PATH among those the tasks asked about, e.g. dpdk-devbind.py, pkg-config, gcc */
  commands: Record<string, string | null>;
  /** installed packages among those the tasks asked about: name -> version */
  packages: Record<string, string | null>;
  /** files the tasks asked about */
  files: Record<string, FileFacts>;
  /** free disk space in MiB for the paths the tasks asked about */
  diskFreeMb: Record<string, number>;
  /** services (units) the tasks asked about */
  services: Record<string, { active: boolean; enabled: boolean; unitExists: boolean }>;
  /**
   * The raw readings of the typed readers (src/facts/read.ts): a command's output, a listing, a small
   * text, by the reader's key. Only src/facts reads them: everything else asks the reader.
   */
  outputs: Record<string, RawOutput>;
  /** pids of running processes by name, among those asked about */
  processes: Record<string, number[]>;
  /** seconds the probe took on the host */
  probeMs: number;
}

/** One raw reading: a command's exit status and output, a listing, a text (see ProbeRequest). */
export interface RawOutput {
  code: number;
  stdout: string;
}

/**
 * In a path or argv word of a request (`execs`, `listings`, `texts`, `files`): the running kernel's
 * release, as `uname -r` prints it, filled in by the probe on the host (the paths under
 * /lib/modules/<release> a request cannot know in advance). Use `kernelPath`.
 */
export const RUNNING_KERNEL = '\0running-kernel\0';

/** `/lib/modules/` + the running kernel + `/extra`, a path the probe expands on the host. */
export function kernelPath(before: string, after = ''): string {
  return `${before}${RUNNING_KERNEL}${after}`;
}

/** A request word with the running kernel filled in (how the parser finds what the shell expanded). */
export function onKernel(word: string, release: string): string {
  return word.split(RUNNING_KERNEL).join(release);
}

/** An argv read with conditions: run only when `onlyIf` exists, its stderr dropped when `stderr` is false. */
export interface Exec {
  argv: string[];
  /** a path that must exist (or be a symlink) for the command to run; else `otherwise` */
  onlyIf?: string;
  /** a path whose existence makes the command unneeded (a memo of its answer): then `otherwise` too */
  unless?: string;
  /** the output when it does not run (default { code: 1, stdout: '' }) */
  otherwise?: { code: number; stdout: string };
  /** false: stderr is dropped instead of merged into stdout */
  stderr?: boolean;
}

export interface Listing {
  dir: string;
  exclude?: string[];
}

/** What a task wants the probe to read, beyond the fixed facts. Merged across tasks. */
export interface ProbeRequest {
  /** files whose mode, sha256 and (up to 64 KiB) content land in facts.files */
  files?: string[];
  /**
   * large files whose content is never used (cached source tarballs, kernel modules): their mode and
   * sha256 land in facts.files as for `files`, content null; head reads none of their bytes (a path also
   * named in `files` is read as a file)
   */
  digests?: string[];
  /**
   * key -> files whose sha256 lands in facts.outputs[key] as `sha256sum -- PATH...` prints it (one
   * "HASH  PATH" line per readable file, in the order given; code 1 when one is missing, as sha256sum
   * exits). Hashed by the probe's one sha256sum with the files and digests (they are digests too): no
   * process of their own. Paths may hold RUNNING_KERNEL; the lines name them as the host expanded them.
   */
  hashes?: Record<string, string[]>;
  /**
   * files whose existence and mode only are read (one `stat`, no byte of them): entries of a
   * content-addressed cache, named by their sha256 and verified when they entered it and by every step
   * that reads them (src/plan/ops/fetch-source.ts)
   */
  present?: string[];
  commands?: string[];
  packages?: string[];
  modules?: string[];
  diskPaths?: string[];
  services?: string[];
  processes?: string[];
  /**
   * key -> a read-only command as argv (no shell text: every word is quoted); its output (stdout and
   * stderr) and exit status land in facts.outputs[key]. A command that is not on PATH (or an absolute
   * path that is not executable) is not run: { code: 127, stdout: '' }.
   */
  execs?: Record<string, string[] | Exec>;
  /**
   * key -> a directory whose entries (`ls -1` order, no dot-files, names ending in one of `exclude`
   * left out) land in facts.outputs[key] as `ls -1` would print them: { code: 0, stdout: names one a
   * line }, or { code: 2, stdout: '' } when it is not a directory. Read by the shell's own glob: no
   * process.
   */
  listings?: Record<string, Listing>;
  /**
   * key -> a small text file (a /proc or /sys value) read with the probe's shared read, no process:
   * facts.outputs[key] = { code: 0, stdout: its text without the final newline } as `cat` printed it,
   * or { code: 1, stdout: '' } when it could not be read.
   */
  texts?: Record<string, string>;
}
