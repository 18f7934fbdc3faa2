/**
 * Shell for the real-server module steps. Every value is quoted with `sh`; messages that reach the
 * operator go to stderr and name the host, so a failed step reads as the reason.
 */
import { verifyCachedCommand } from '../../plan/ops/fetch-source.js';
import type { Facts } from '../../facts/types.js';
import { raw, sh } from '../../transport/quote.js';
import { STATE_DIR } from '../../desired/layout.js';
import { kmodPaths, type KmodName } from './spec.js';

export interface HeadersPackage {
  pm: 'apt' | 'dnf' | 'yum';
  name: string;
}

/** The package that holds /lib/modules/<release>/build, null when the host's package manager is unknown. */
export function headersPackage(facts: Facts): HeadersPackage | null {
  const r = facts.kernel.release;
  const pm = facts.os.packageManager;
  if (pm === 'apt') return { pm, name: `linux-headers-${r}` };
  if (pm === 'dnf' || pm === 'yum') return { pm, name: `kernel-devel-${r}` };
  return null;
}

/** What each package manager prints when the repositories have no such package. */
const NOT_FOUND: Record<HeadersPackage['pm'], string> = {
  apt: "Unable to locate package|has no installation candidate|Couldn't find any package",
  dnf: 'No match for argument|Unable to find a match|No package .* available',
  yum: 'No match for argument|Unable to find a match|No package .* available',
};

export function noHeadersMessage(host: string, kernel: string, p: HeadersPackage): string {
  return (
    `${host}: no headers package for kernel ${kernel}: ${p.pm} could not find ${p.name} ` +
    `(install the matching headers or boot a kernel that has them)`
  );
}

export function installHeadersScript(host: string, facts: Facts, p: HeadersPackage): string {
  const kernel = facts.kernel.release;
  const build = `/lib/modules/${kernel}/build`;
  const install =
    p.pm === 'apt'
      ? sh`apt-get update -qq >/dev/null 2>&1 || true; out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y ${p.name} 2>&1)`
      : sh`out=$(${p.pm} install -y ${p.name} 2>&1)`;
  return (
    `${install}; rc=$?; printf '%s\\n' "$out"; ` +
    sh`if [ $rc -ne 0 ]; then if printf '%s\n' "$out" | grep -Eq ${NOT_FOUND[p.pm]}; then printf '%s\n' ${noHeadersMessage(host, kernel, p)} >&2; ` +
    sh`else printf '%s\n' "$out" | tail -n 5 >&2; printf '%s\n' ${`${host}: installing ${p.name} failed`}" ($rc)" >&2; fi; exit 1; fi; ` +
    sh`[ -e ${build} ] || { printf '%s\n' ${`${host}: ${p.name} is installed but ${build} is missing`} >&2; exit 1; }`
  );
}

export type SourceFetch =
  { kind: 'tarball'; cachePath: string; sha256: string } | { kind: 'git'; url: string; ref: string };

/** Unpack (or clone) the DPVS source on the builder and build each module against the kernel's build dir. */
export function buildScript(
  host: string,
  kernel: string,
  source: SourceFetch,
  modules: ReadonlyArray<{ name: KmodName; stamp: string }>,
): string {
  const first = kmodPaths(kernel, modules[0]?.name ?? 'toa');
  const { root, src } = first;
  const kbuild = `/lib/modules/${kernel}/build`;
  const get =
    source.kind === 'tarball'
      ? `${verifyCachedCommand(source.cachePath, source.sha256, 'DPVS source')} && ` +
        sh`tar -xf ${source.cachePath} -C ${src} --strip-components=1`
      : sh`rm -rf ${src} && git clone -q --depth 1 --branch ${source.ref} -- ${source.url} ${src}`;
  const parts = [
    'set -e',
    sh`[ -d ${kbuild} ] || { printf '%s\n' ${`${host}: ${kbuild} is missing: kernel headers for ${kernel} are not installed`} >&2; exit 1; }`,
    sh`mkdir -p ${root} && rm -rf ${src} && mkdir -p ${src}`,
    get,
  ];
  for (const { name: m, stamp } of modules) {
    const p = kmodPaths(kernel, m);
    const dir = `${src}/kmod/${m}`;
    parts.push(
      sh`[ -f ${dir}/Makefile ] || { printf '%s\n' ${`${host}: the DPVS source has no kmod/${m}/Makefile`} >&2; exit 1; }`,
      // uoa includes ../../include (DPVS's include/ next to kmod/): build inside the tree
      sh`( cd ${dir} && make KERNDIR=${kbuild} )`,
      sh`[ -f ${dir}/${m}.ko ] || { printf '%s\n' ${`${host}: make in kmod/${m} produced no ${m}.ko`} >&2; exit 1; }`,
      sh`cp -f ${dir}/${m}.ko ${p.built}.new && mv -f ${p.built}.new ${p.built}`,
      sh`( cd ${root} && sha256sum ${`${m}.ko`} > ${`${m}.ko.sha256`} )`,
      sh`printf '%s' ${stamp} > ${p.stamp}`,
    );
  }
  return parts.join('\n');
}

/** After the copies: check the received module against the builder's checksum, then put it in place. */
export function acceptReceivedScript(kernel: string, m: KmodName, builder: string, stamp: string): string {
  const p = kmodPaths(kernel, m);
  return (
    sh`want=$(cut -d' ' -f1 < ${p.builtSha}.recv); got=$(sha256sum < ${p.built}.recv | cut -d' ' -f1); ` +
    sh`if [ -z "$want" ] || [ "$got" != "$want" ]; then rm -f ${p.built}.recv ${p.builtSha}.recv; ` +
    sh`printf '%s\n' ${`${m}.ko copied from ${builder} has sha256 `}"$got"${', the builder recorded '}"$want" >&2; exit 1; fi; ` +
    sh`mv -f ${p.built}.recv ${p.built} && mv -f ${p.builtSha}.recv ${p.builtSha} && printf '%s' ${stamp} > ${p.stamp}`
  );
}

export function installScript(kernel: string, m: KmodName): string {
  const p = kmodPaths(kernel, m);
  const extra = p.installed.slice(0, p.installed.lastIndexOf('/'));
  return (
    sh`mkdir -p ${extra} && cp -f ${p.built} ${p.installed}.new && chmod 0644 ${p.installed}.new && ` +
    sh`mv -f ${p.installed}.new ${p.installed} && depmod -a ${kernel}`
  );
}

/** The module is live: /sys/module/<m>/initstate (or /proc/modules), and its /proc/net stats file. */
function liveCheck(host: string, m: KmodName): string {
  return (
    sh`{ [ "$(cat /sys/module/${m}/initstate 2>/dev/null)" = live ] || grep -q ${`^${m} `} /proc/modules 2>/dev/null; } || ` +
    sh`{ printf '%s\n' ${`${host}: modprobe ${m} returned but ${m} is not in /proc/modules`} >&2; exit 1; }; ` +
    sh`[ -e ${`/proc/net/${m}_stats`} ] || { printf '%s\n' ${`${host}: ${m} is loaded but /proc/net/${m}_stats is missing`} >&2; exit 1; }`
  );
}

/** modprobe (parameters from /etc/modprobe.d), check it is live, record the sha256 of the loaded file. */
export function loadScript(host: string, kernel: string, m: KmodName): string {
  const p = kmodPaths(kernel, m);
  return (
    sh`modprobe ${m} && ${raw(liveCheck(host, m))} && mkdir -p ${STATE_DIR} && ` +
    sh`printf '%s %s\n' "$(sha256sum < ${p.installed} | cut -d' ' -f1)" ${kernel} > ${p.loadedState}.tmp && ` +
    sh`mv -f ${p.loadedState}.tmp ${p.loadedState}`
  );
}

/** The refcount the kernel reports for a loaded module (sysfs, else /proc/modules). */
export function refcountCommand(m: KmodName): string {
  return sh`rc=$(cat /sys/module/${m}/refcnt 2>/dev/null || awk -v m=${m} '$1==m {print $3}' /proc/modules 2>/dev/null)`;
}

/**
 * Unload the loaded module and load the installed build. Unless `force`, refuses when the kernel
 * counts users of the module (checked again here: the plan may be old).
 */
export function replaceScript(host: string, kernel: string, m: KmodName, force: boolean): string {
  const guard = force
    ? ''
    : `${refcountCommand(m)}; ` +
      sh`if [ "\${rc:-0}" -gt 0 ]; then printf '%s\n' ${`${host}: ${m} is in use (refcount `}"$rc"${`): not replaced; set realserver.replace_loaded: true to replace it anyway`} >&2; exit 1; fi; `;
  const unload = force ? sh`{ modprobe -r ${m} || rmmod -f ${m}; }` : sh`modprobe -r ${m}`;
  return (
    guard +
    `${unload} || ` +
    sh`{ printf '%s\n' ${`${host}: could not unload ${m} (see above)`} >&2; exit 1; }; ` +
    loadScript(host, kernel, m)
  );
}
