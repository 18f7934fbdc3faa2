/**
 * The DPVS ↔ DPDK version matrix, in one place. Validation uses it to refuse unsupported pairings;
 * the build tasks use it to know how DPDK is built, where its tarball unpacks and which DPVS patch
 * directory applies.
 *
 * Sources: reference/dpvs-upstream.md §1–2.
 */

export type DpvsSeries = '1.8' | '1.9' | '1.10';

export interface VersionPairing {
  /** DPVS release series, e.g. '1.9'. */
  dpvsSeries: DpvsSeries;
  /** Lowest DPVS patch release of the series this pairing supports (1.9.0–1.9.6 shipped 20.11.1 patches). */
  minDpvsPatch: number;
  /** The one DPDK version this series is built against. */
  dpdkVersion: string;
  /** How DPDK is built and how DPVS finds it. */
  buildSystem: 'make' | 'meson';
  /** make era: DPVS reads RTE_SDK/RTE_TARGET; meson era: pkg-config (PKG_CONFIG_PATH). */
  dpdkDiscovery: 'rte_sdk' | 'pkg-config';
  /** DPDK release tarball name (https://fast.dpdk.org/rel/<tarball>). */
  tarball: string;
  /** Top directory the tarball unpacks to. */
  tarballTopDir: string;
  /** DPVS's patch directory for this DPDK, relative to the DPVS source tree. */
  patchDir: string;
  /** Where igb_uio.ko comes from when the driver is igb_uio. */
  igbUioSource: 'dpdk' | 'dpdk-kmods';
  /** Exception path: rte_kni.ko (built by DPDK) or virtio-user over /dev/vhost-net. */
  kni: 'rte_kni' | 'virtio-user';
  /** Kernel modules the exception path needs on the balancer. */
  kniModules: string[];
  /** meson options DPDK is configured with (empty for make). */
  mesonOptions: string[];
}

export const VERSION_MATRIX: readonly VersionPairing[] = [
  {
    dpvsSeries: '1.8',
    minDpvsPatch: 0,
    dpdkVersion: '18.11.2',
    buildSystem: 'make',
    dpdkDiscovery: 'rte_sdk',
    tarball: 'dpdk-18.11.2.tar.xz',
    tarballTopDir: 'dpdk-stable-18.11.2',
    patchDir: 'patch/dpdk-stable-18.11.2',
    igbUioSource: 'dpdk',
    kni: 'rte_kni',
    kniModules: ['rte_kni'],
    mesonOptions: [],
  },
  {
    dpvsSeries: '1.9',
    minDpvsPatch: 8,
    dpdkVersion: '20.11.10',
    buildSystem: 'meson',
    dpdkDiscovery: 'pkg-config',
    tarball: 'dpdk-20.11.10.tar.xz',
    tarballTopDir: 'dpdk-stable-20.11.10',
    patchDir: 'patch/dpdk-stable-20.11.10',
    igbUioSource: 'dpdk-kmods',
    kni: 'rte_kni',
    kniModules: ['rte_kni'],
    mesonOptions: ['-Denable_kmods=true'],
  },
  {
    dpvsSeries: '1.10',
    minDpvsPatch: 0,
    dpdkVersion: '24.11',
    buildSystem: 'meson',
    dpdkDiscovery: 'pkg-config',
    tarball: 'dpdk-24.11.tar.xz',
    tarballTopDir: 'dpdk-24.11',
    patchDir: 'patch/dpdk-24.11',
    igbUioSource: 'dpdk-kmods',
    kni: 'virtio-user',
    kniModules: ['vhost', 'vhost_net'],
    mesonOptions: [],
  },
];

/** The DPVS version used when an inventory names none. */
export const DEFAULT_DPVS_VERSION = '1.9.10';

export interface ParsedDpvsVersion {
  major: number;
  minor: number;
  patch: number;
}

/** Parses 1.9.10, 1.10-2 (src/VERSION style) or 1.10.2-1; undefined when it is no DPVS version. */
export function parseDpvsVersion(v: string): ParsedDpvsVersion | undefined {
  const m = /^(\d+)\.(\d+)(?:[.-](\d+))?(?:-\d+)?$/.exec(v.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: m[3] === undefined ? 0 : Number(m[3]) };
}

/** Human list of the supported pairings, for error messages and docs. */
export function supportedPairingsText(): string {
  return VERSION_MATRIX.map(
    (p) =>
      `DPVS ${p.dpvsSeries}.${p.minDpvsPatch > 0 ? `${p.minDpvsPatch}+` : 'x'} with DPDK ${p.dpdkVersion}`,
  ).join(', ');
}

export type PairingResult =
  | { ok: true; pairing: VersionPairing; dpvsVersion: string; dpdkVersion: string }
  | { ok: false; field: 'dpvs' | 'dpdk'; message: string };

/**
 * The pairing for a DPVS version and an optional DPDK version (absent: the series' DPDK).
 * Refuses versions outside the matrix, with the supported list in the message.
 */
export function lookupPairing(
  dpvsVersion: string = DEFAULT_DPVS_VERSION,
  dpdkVersion?: string,
): PairingResult {
  const parsed = parseDpvsVersion(dpvsVersion);
  const series = parsed ? `${parsed.major}.${parsed.minor}` : undefined;
  const pairing = VERSION_MATRIX.find((p) => p.dpvsSeries === series);
  if (!parsed || !pairing) {
    return {
      ok: false,
      field: 'dpvs',
      message: `DPVS ${dpvsVersion} is not supported (supported: ${supportedPairingsText()})`,
    };
  }
  if (parsed.patch < pairing.minDpvsPatch) {
    return {
      ok: false,
      field: 'dpvs',
      message:
        `DPVS ${dpvsVersion} is not supported: DPVS ${pairing.dpvsSeries}.0–${pairing.dpvsSeries}.${pairing.minDpvsPatch - 1} ` +
        `ship no patches for DPDK ${pairing.dpdkVersion}; use ${pairing.dpvsSeries}.${pairing.minDpvsPatch} or later ` +
        `(supported: ${supportedPairingsText()})`,
    };
  }
  if (dpdkVersion !== undefined && dpdkVersion !== pairing.dpdkVersion) {
    return {
      ok: false,
      field: 'dpdk',
      message:
        `DPDK ${dpdkVersion} does not pair with DPVS ${dpvsVersion}: DPVS ${pairing.dpvsSeries}.x is built against ` +
        `DPDK ${pairing.dpdkVersion} (supported: ${supportedPairingsText()})`,
    };
  }
  return { ok: true, pairing, dpvsVersion, dpdkVersion: pairing.dpdkVersion };
}

/**
 * What differs between DPVS releases where the tool depends on it, from the upstream behaviour corpus
 * (test/fixtures/upstream/, each fact cited there; the corpus test checks this table against it).
 */
export interface DpvsBehaviour {
  series: DpvsSeries;
  /** `dpvs -c CONF -p PID -x IPC` (dpvs.yaml dpvs-cli-1.9); 1.8 takes only -v/-h (dpvs-cli-1.8). */
  fileOptions: boolean;
  /** Where dpvs reads its configuration when it takes no -c (1.8: always). */
  defaultConf: string;
  defaultPidFile: string;
  /** The control socket dpvs listens on by default (1.8: always) and the tools connect to. */
  defaultIpcFile: string;
  /** The environment variable the tools read the socket path from; null: the path is fixed. */
  ipcEnv: string | null;
  /** global_defs has `kni on|off` (dpvs-conf-kni-keyword); 1.8 always runs KNI. */
  kniKeyword: boolean;
  /** `ipvsadm --conn-timeout` exists (ipvsadm-ln-conn-timeout: since 1.9.6). */
  connTimeout: boolean;
  /** dpvs gives every port an fe80::/64 EUI-64 address itself (dpip-addr-show-*-link-local: since 1.9.8). */
  autoLinkLocal6: boolean;
}

const atLeast = (v: ParsedDpvsVersion, major: number, minor: number, patch: number): boolean =>
  v.major !== major ? v.major > major : v.minor !== minor ? v.minor > minor : v.patch >= patch;

/** The behaviour of a DPVS release (default: the default version); undefined for no DPVS version. */
export function dpvsBehaviour(version: string = DEFAULT_DPVS_VERSION): DpvsBehaviour | undefined {
  const v = parseDpvsVersion(version);
  if (!v) return undefined;
  const series: DpvsSeries = atLeast(v, 1, 10, 0) ? '1.10' : atLeast(v, 1, 9, 0) ? '1.9' : '1.8';
  const fileOptions = atLeast(v, 1, 9, 4);
  return {
    series,
    fileOptions,
    defaultConf: '/etc/dpvs.conf',
    defaultPidFile: '/var/run/dpvs.pid',
    defaultIpcFile: fileOptions ? '/var/run/dpvs.ipc' : '/var/run/dpvs_ctrl',
    ipcEnv: fileOptions ? 'DPVS_IPC_FILE' : null,
    kniKeyword: atLeast(v, 1, 9, 0),
    connTimeout: atLeast(v, 1, 9, 6),
    autoLinkLocal6: atLeast(v, 1, 9, 8),
  };
}

/** The behaviour of DEFAULT_DPVS_VERSION (what a host without dpvs.version runs). */
export const DEFAULT_BEHAVIOUR: DpvsBehaviour = dpvsBehaviour(DEFAULT_DPVS_VERSION) as DpvsBehaviour;
