/**
 * Where dpvs-deploy puts things on a host. One place, so the DPDK, DPVS, kernel-module and service
 * tasks agree.
 *
 *   /var/cache/dpvs-deploy/src/<sha256>.<ext>     verified source tarballs, by checksum
 *   /opt/dpvs-deploy/dpdk/<version>/              DPDK (<dpdk.build_dir>/dpvs-deploy/dpdk/<version> when the
 *                                                 inventory sets a build_dir): src/<top dir> (patched tree, RTE_SDK for 18.11),
 *                                                 install/ (meson prefix for 20.11+), kmod/ (built .ko),
 *                                                 build.stamp (inputs of the last good build)
 *   /opt/dpvs/releases/<id>/                      DPVS releases (bin/dpvs, dpip, ipvsadm, keepalived)
 *   /opt/dpvs/current -> releases/<id>            the running release; the previous stays for rollback
 *   /var/lib/dpvs-deploy/state/                   what tasks recorded before their first change
 *   /etc/dpvs-deploy/                             generated scripts (restore.sh, bind-nics.sh)
 */
import { DEFAULT_BEHAVIOUR, type DpvsBehaviour } from '../versions.js';
export const CACHE_DIR = '/var/cache/dpvs-deploy/src';
export const STATE_DIR = '/var/lib/dpvs-deploy/state';
export const ETC_DIR = '/etc/dpvs-deploy';

export interface DpdkLayout {
  root: string;
  /** parent of the unpacked top directory */
  srcParent: string;
  /** RTE_TARGET for make builds */
  rteTarget: string;
  /** meson install prefix */
  prefix: string;
  /** built/collected kernel modules (igb_uio.ko, rte_kni.ko) */
  kmodDir: string;
  stamp: string;
}

/** dpdk.build_dir when the inventory sets none: the DPDK tree lives under /opt/dpvs-deploy/dpdk. */
export const DEFAULT_BUILD_DIR = '/opt';

/** The DPDK of `version` under the host's dpdk.build_dir (where it is unpacked, built and installed). */
export function dpdkLayout(version: string, buildDir: string = DEFAULT_BUILD_DIR): DpdkLayout {
  const root = `${buildDir.replace(/\/+$/, '')}/dpvs-deploy/dpdk/${version}`;
  return {
    root,
    srcParent: `${root}/src`,
    rteTarget: 'build',
    prefix: `${root}/install`,
    kmodDir: `${root}/kmod`,
    stamp: `${root}/build.stamp`,
  };
}

/** PKG_CONFIG_PATH entries for a meson prefix (Debian multiarch and RHEL lib64 layouts). */
export function pkgConfigPath(prefix: string): string {
  return [
    `${prefix}/lib/x86_64-linux-gnu/pkgconfig`,
    `${prefix}/lib64/pkgconfig`,
    `${prefix}/lib/pkgconfig`,
  ].join(':');
}

export interface DpvsLayout {
  prefix: string;
  releases: string;
  current: string;
  bin: string;
  confPath: string;
  pidFile: string;
  ipcFile: string;
  /** dpvs takes `-c/-p/-x` (1.9.4+); without them it uses the fixed paths above (1.8). */
  fileOptions: boolean;
  /** The variable the tools read the socket path from (DPVS_IPC_FILE), null where it is fixed (1.8). */
  ipcEnv: string | null;
}

/** On-host paths of a DPVS install; `behaviour` decides the pid/IPC paths (fixed on 1.8). */
export function dpvsLayout(
  prefix = '/opt/dpvs',
  confPath = '/etc/dpvs.conf',
  behaviour: Pick<
    DpvsBehaviour,
    'fileOptions' | 'defaultPidFile' | 'defaultIpcFile' | 'ipcEnv'
  > = DEFAULT_BEHAVIOUR,
): DpvsLayout {
  return {
    prefix,
    releases: `${prefix}/releases`,
    current: `${prefix}/current`,
    bin: `${prefix}/current/bin`,
    confPath,
    pidFile: behaviour.defaultPidFile,
    ipcFile: behaviour.defaultIpcFile,
    fileOptions: behaviour.fileOptions,
    ipcEnv: behaviour.ipcEnv,
  };
}
