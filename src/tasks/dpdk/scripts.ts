/**
 * Shell scripts of the DPDK build (pure text; every value quoted). Each runs as one exec step.
 */
import path from 'node:path';
import { quote, raw, sh } from '../../transport/quote.js';
import { CAUSE_PREFIX, loggedBuild } from '../cause.js';
import { kernelDirRelease, kmodKernelDir, type DpdkSpec } from './spec.js';
import { SERIES_SCRIPT } from './series.js';
import { buildOptions, COMPILER_COMMAND, makeTarget, marchOptions, SERIES_KEY } from './stamp.js';

/** The staging root: a fresh directory next to layout.root, renamed into place on success. */
export function stagingDir(spec: DpdkSpec): string {
  return `${spec.layout.root}.staging`;
}

/**
 * Runs `script` in a subshell; when it fails, removes `dirs` (a staging tree, half-built) and exits with
 * its status (`alsoOnFailure`, our own shell text, runs first), so a failed build leaves nothing behind and the previous install untouched. Says so on
 * stdout: stderr's last line stays the failure's cause.
 */
export function removeOnFailure(script: string, dirs: string[], alsoOnFailure = ''): string {
  const also = alsoOnFailure ? `${alsoOnFailure}; ` : '';
  return `(\n${script}\n) || { rc=$?; ${also}${sh`rm -rf ${dirs}`}; ${sh`printf '%s\n' ${`failed: removed ${dirs.join(' ')}`}`}; exit $rc; }`;
}

/** Where the dpdk-kmods tarball is unpacked in the staging directory. */
export function kmodsSrcDir(spec: DpdkSpec): string {
  return `${stagingDir(spec)}/kmods-src`;
}

/** Shell: d=<the directory of dpdk-kmods' igb_uio.c> (upstream's linux/igb_uio/, or Debian's flat tree). */
function findIgbUio(spec: DpdkSpec): string {
  return sh`d=$(find ${kmodsSrcDir(spec)} -name igb_uio.c -type f 2>/dev/null | head -n 1); d=\${d%/igb_uio.c}`;
}

/**
 * Unpack the DPDK tarball and DPVS's patch series (and the dpdk-kmods tarball, when igb_uio comes from
 * it) into a fresh staging directory.
 */
export function unpackScript(
  spec: DpdkSpec,
  dpdkTarball: string,
  dpvsTarball: string,
  kmodsTarball: string | null = null,
): string {
  const s = stagingDir(spec);
  const top = spec.pairing.tarballTopDir;
  const kmods = kmodsTarball
    ? [
        sh`mkdir -p ${kmodsSrcDir(spec)} && tar -xf ${kmodsTarball} -C ${kmodsSrcDir(spec)}`,
        `${findIgbUio(spec)}; ` +
          sh`[ -n "$d" ] && [ -f "$d/Kbuild" -o -f "$d/Makefile" ] || { printf '%s\n' ${`the dpdk-kmods source (dpdk.kmods) has no igb_uio.c with its Kbuild: is it dpdk-kmods?`} >&2; exit 1; }`,
      ]
    : [];
  return [
    sh`rm -rf ${s} && mkdir -p ${`${s}/src`} ${`${s}/dpvs`} ${`${s}/kmod`}`,
    sh`tar -xf ${dpdkTarball} -C ${`${s}/src`}`,
    sh`[ -d ${`${s}/src/${top}`} ] || { printf '%s\n' ${`${spec.pairing.tarball} did not unpack to ${top}/`} >&2; exit 1; }`,
    sh`tar -xf ${dpvsTarball} -C ${`${s}/dpvs`} --wildcards ${`*/${spec.pairing.patchDir}/*`} || { printf '%s\n' ${`the DPVS ${spec.dpvsVersion} source has no ${spec.pairing.patchDir}/ (is it DPVS ${spec.pairing.dpvsSeries}?)`} >&2; exit 1; }`,
    ...kmods,
  ].join(' && ');
}

/**
 * Apply DPVS's series (ls order) then the user's patches (inventory order) with patch -p1. A patch
 * that is already applied (its reverse applies) is skipped; one that does not apply stops the build
 * naming the patch and each failed hunk ("file: Hunk #N FAILED at L").
 */
export function patchScript(spec: DpdkSpec): string {
  const s = stagingDir(spec);
  const tree = `${s}/src/${spec.pairing.tarballTopDir}`;
  const awk =
    '/^(patching|checking) file /{f=$0; sub(/^(patching|checking) file /,"",f)} ' +
    '/^Hunk #[0-9]+ FAILED at [0-9]+/{h=$0; sub(/\\.$/,"",h); printf "%s%s: %s", sep, f, h; sep="; "} ' +
    '/^can.t find file to patch/{printf "%s%s", sep, "a file it patches does not exist"; sep="; "}';
  const user = spec.patches
    .filter((p) => p.hostPath)
    .map((p) => sh`apply_patch ${p.hostPath as string} ${p.rel}`);
  return [
    'set -u',
    sh`cd ${tree} || exit 1`,
    'apply_patch() {',
    '  f=$1; label=$2',
    '  if patch -p1 -R -f -s --dry-run -i "$f" </dev/null >/dev/null 2>&1; then echo "already applied: $label"; return 0; fi',
    '  if ! out=$(patch -p1 -N --dry-run -i "$f" </dev/null 2>&1); then',
    '    printf \'%s\\n\' "$out"',
    `    hunks=$(printf '%s\\n' "$out" | awk ${quote(awk)})`,
    `    printf 'patch %s does not apply to DPDK %s: %s\\n' "$label" ${quote(spec.version)} "\${hunks:-$(printf '%s\\n' "$out" | tail -n 3 | tr '\\n' ' ')}" >&2`,
    '    exit 1',
    '  fi',
    '  patch -p1 -N -s -i "$f" </dev/null || { echo "patch $label failed" >&2; exit 1; }',
    '  echo "applied: $label"',
    '}',
    sh`series=$(ls -d ${s}/dpvs/*/${spec.pairing.patchDir} 2>/dev/null | head -n 1)`,
    sh`[ -n "$series" ] || { printf '%s\n' ${`no ${spec.pairing.patchDir}/ in the DPVS source`} >&2; exit 1; }`,
    'for p in $(ls "$series"); do [ -f "$series/$p" ] && apply_patch "$series/$p" "$p"; done',
    ...user,
    'true',
  ].join('\n');
}

/**
 * A failed build on a full filesystem often cannot even write its log: say so, with the space left, when
 * less than 1 MiB is free where it builds (dpdk.build_dir).
 */
function diskFullNote(dir: string): string {
  return sh`f=$(df -Pk ${dir} 2>/dev/null | awk 'NR==2 {print $4}'); if [ -n "$f" ] && [ "$f" -lt 1024 ]; then printf '%s\n' "No space left on device: $f KiB free at "${dir}" (dpdk.build_dir)"; fi;`;
}

/**
 * The tool's own diagnosis of a failed DPDK build (cause.ts buildCauseCommand runs it first): meson's
 * kernel-module check. Else the cause is the build's first error line.
 */
function kmodDiagnosis(spec: DpdkSpec, log: string): string {
  const kmods = `${CAUSE_PREFIX}DPDK ${spec.version} could not build its kernel modules (rte_kni, -Denable_kmods=true): /lib/modules/`;
  return sh`if grep -q 'Cannot compile kernel modules as requested' ${log} 2>/dev/null; then printf '%s\n' ${kmods}"$(uname -r)/build is not a usable kernel build tree; install the running kernel's headers or set dpvs.kni: false"; k=1; fi; `;
}

/** Run a build command with its output in <staging>/build.log, printed; on failure, the last lines to stderr. */
function logged(spec: DpdkSpec, body: string): string {
  const log = `${stagingDir(spec)}/build.log`;
  return loggedBuild(`DPDK ${spec.version} build`, body, log, {
    notes: diskFullNote(stagingDir(spec)),
    diagnosis: kmodDiagnosis(spec, log),
  });
}

export function compileScript(spec: DpdkSpec): string {
  const s = stagingDir(spec);
  const tree = `${s}/src/${spec.pairing.tarballTopDir}`;
  const lines: string[] = [];
  if (spec.pairing.buildSystem === 'make') {
    const target = makeTarget(spec.march) as string;
    lines.push(
      logged(
        spec,
        sh`cd ${tree} && export RTE_SDK=${tree} RTE_TARGET=${spec.layout.rteTarget} && make config T=${target} && make -j"$(nproc)" ${buildOptions(spec)}`,
      ),
    );
    for (const m of ['igb_uio', 'rte_kni'].filter((m) =>
      m === 'igb_uio' ? spec.igbUioFromBuild : spec.rteKni,
    ))
      lines.push(kmodCopy(spec, `${tree}/${spec.layout.rteTarget}/kmod/${m}.ko`, m));
  } else {
    const b = `${s}/build`;
    const dest = `${s}/destdir`;
    lines.push(
      logged(
        spec,
        sh`meson setup ${buildOptions(spec)} ${marchOptions(spec)} -Dprefix=${spec.layout.prefix} ${tree} ${b} && ninja -C ${b} && DESTDIR=${dest} ninja -C ${b} install`,
      ),
    );
    lines.push(
      sh`rm -rf ${`${s}/install`} && mv ${dest + spec.layout.prefix} ${`${s}/install`} && rm -rf ${dest}`,
    );
    if (spec.rteKni) lines.push(kmodCopy(spec, `${b}/kernel/linux/kni/rte_kni.ko`, 'rte_kni'));
    lines.push(sh`rm -rf ${b}`);
    if (spec.igbUioFromKmods) lines.push(igbUioScript(spec));
  }
  return lines.join('\n');
}

/**
 * igb_uio from dpdk-kmods (DPDK 20.11+): kbuild against the tree the kernel modules are built for
 * (<-Dkernel_dir>/build, else the running kernel's), its output in <staging>/kmods.log, the .ko copied
 * to <staging>/kmod/ beside rte_kni.ko.
 */
export function igbUioScript(spec: DpdkSpec): string {
  const dir = kmodKernelDir(spec);
  const kdir = dir === null ? sh`k=/lib/modules/$(uname -r)/build` : sh`k=${`${dir}/build`}`;
  const to = `${stagingDir(spec)}/kmod/igb_uio.ko`;
  return [
    `${findIgbUio(spec)}; ${kdir}`,
    loggedBuild(
      `igb_uio (dpdk-kmods) build for kernel ${dir === null ? 'the running kernel' : (kernelDirRelease(dir) ?? dir)}`,
      'make -C "$k" M="$d" modules',
      `${stagingDir(spec)}/kmods.log`,
    ),
    sh`[ -f "$d/igb_uio.ko" ] || { printf '%s\n' ${`dpdk-kmods built no igb_uio.ko`}" (make -C $k M=$d modules)" >&2; exit 1; }; cp -f "$d/igb_uio.ko" ${to}`,
  ].join('\n');
}

function kmodCopy(spec: DpdkSpec, from: string, name: string): string {
  const to = `${stagingDir(spec)}/kmod/${name}.ko`;
  return sh`[ -f ${from} ] || { printf '%s\n' ${`DPDK ${spec.version} built no ${name}.ko: are the kernel headers for`}" $(uname -r) installed (/lib/modules/$(uname -r)/build)?" >&2; exit 1; }; cp -f ${from} ${to}`;
}

/**
 * Record the stamp in the staging directory: the planned head, then the two lines the host computes
 * itself, the DPVS patch series of the tarball it applied (series.ts; the DPVS tarball's checksum when
 * it has none) and the compiler (the probe's command).
 */
export function stampScript(spec: DpdkSpec, head: string[], dpvsTarball: string, dpvsSha: string): string {
  const f = `${stagingDir(spec)}/build.stamp`;
  const dir = spec.pairing.patchDir;
  // SERIES_SCRIPT and COMPILER_COMMAND are our own constant shell fragments, the texts the probes run
  return [
    sh`s=$(sh -c ${SERIES_SCRIPT} sh ${dpvsTarball} ${dir}); [ -n "$s" ] || s=${`tarball:${dpvsSha}`}`,
    sh`{ printf '%s\n' ${head}; printf '%s=%s %s\n' ${SERIES_KEY} "$s" ${dir}; printf 'compiler=%s\n' "$(${raw(COMPILER_COMMAND)})"; } > ${f}`,
  ].join('\n');
}

/**
 * Switch the staging directory into place; the previous build stays until the rename succeeded, and is
 * put back when it fails.
 */
export function switchScript(spec: DpdkSpec): string {
  const r = spec.layout.root;
  const s = stagingDir(spec);
  return putInPlace(s, r, [`${s}/dpvs`]);
}

/** mv `from` to `to` keeping `to`'s previous content as <to>.old until the rename succeeded. */
function putInPlace(from: string, to: string, alsoRemove: string[] = []): string {
  const old = `${to}.old`;
  return (
    sh`rm -rf ${alsoRemove} ${old} && if [ -e ${to} ]; then mv ${to} ${old}; fi && ` +
    sh`{ mv ${from} ${to} || { rc=$?; if [ -e ${old} ] && [ ! -e ${to} ]; then mv ${old} ${to}; fi; exit $rc; }; } && rm -rf ${old}`
  );
}

/** Pack the installed build for the hosts that receive it, with a .sha256 beside it. */
export function packScript(spec: DpdkSpec, artifact: string): string {
  const r = spec.layout.root;
  const dir = path.posix.dirname(artifact);
  const name = path.posix.basename(artifact);
  return (
    sh`mkdir -p ${dir} && tar -C ${path.posix.dirname(r)} -czf ${`${artifact}.part`} ${path.posix.basename(r)} && mv -f ${`${artifact}.part`} ${artifact} && ` +
    sh`cd ${dir} && sha256sum ${name} > ${`${name}.sha256`}`
  );
}

/** Verify a received pack against its .sha256 and switch it into place. */
export function unpackReceivedScript(spec: DpdkSpec, artifact: string, builder: string): string {
  const r = spec.layout.root;
  const s = stagingDir(spec);
  const dir = path.posix.dirname(artifact);
  const name = path.posix.basename(artifact);
  return [
    sh`cd ${dir} && sha256sum -c --quiet ${`${name}.sha256`} || { printf '%s\n' ${`the DPDK build copied from ${builder} (${artifact}) does not match its sha256`} >&2; exit 1; }`,
    sh`rm -rf ${s} && mkdir -p ${s} && tar -xzf ${artifact} -C ${s}`,
    sh`[ -f ${`${s}/${path.posix.basename(r)}/build.stamp`} ] || { printf '%s\n' ${`the DPDK build copied from ${builder} has no build.stamp`} >&2; exit 1; }`,
    `${putInPlace(`${s}/${path.posix.basename(r)}`, r)} && ${sh`rm -rf ${s}`}`,
  ].join('\n');
}
