#!/usr/bin/env bash
# Fetches upstream's DPDK release tarballs (and dpdk-kmods, the igb_uio source) from Debian's source
# archive, verifies each against its pinned sha256 and caches it under ~/.cache/dpvs-deploy/dpdk-src
# (outside the checkout, kept across runs). Prints one line per tarball: <path> <top directory inside>.
#
# dpdk-kmods: Debian's dpdk-kmods SOURCE package is not on the reachable archive, so the igb_uio source
# comes from the BINARY package dpdk-kmods-dkms (bookworm, pinned version and .deb sha256), which ships
# upstream's linux/igb_uio tree flat under /usr/src/dpdk-kmods-<version>/ (igb_uio.c, compat.h, Kbuild,
# Makefile, dkms.conf). It is downloaded with `apt-get download` (a private `deb` list and state, as for
# the sources) and repacked as a reproducible tarball (sorted names, fixed mtime and owner, gzip -n),
# dpdk-kmods-dkms_<version>.src.tar.gz, the file an inventory's dpdk.kmods names.
#
#   bash scripts/fetch-dpdk-src.sh [20.11.10] [24.11.8] [kmods]     # none: all three
#
# Debian ships upstream's own release tarball as the source package's .orig.tar.xz. The deb-src
# entries are DERIVED at run time from this machine's configured Debian archive (the deb822 .sources
# or one-line .list entry whose suite is this release's codename; its URI and Signed-By are kept, the
# suite is swapped for the one that carries the version). apt runs with a private source list, state
# and cache directory (-o Dir::...), so the machine's own apt configuration and lists are untouched.
# No mirror is named here.
set -euo pipefail

CACHE=${DPVS_DEPLOY_CACHE:-$HOME/.cache/dpvs-deploy}/dpdk-src
# name | source package | suite | orig tarball | sha256 | top directory inside
PINS=(
  "20.11.10|dpdk|bullseye|dpdk_20.11.10.orig.tar.xz|60d1ccd072102dd032c7915f6664bf4124f50e712045b6a3c55e651cb75cd530|dpdk-stable-20.11.10"
  "24.11.8|dpdk|trixie|dpdk_24.11.8.orig.tar.xz|f3dbfac841b2db8e53a97d68a5e14ebc943327a955f0afb97f8c14f544fbc4aa|dpdk-stable-24.11.8"
)
# the dpdk-kmods-dkms .deb: version | .deb file | sha256 | suite
KMODS_PIN="0~20220829+git-3|dpdk-kmods-dkms_0~20220829+git-3_amd64.deb|aa8f6120a9e4aadb2a3fe0a61d9acc91124300da8f0df3f313dc71f32b430c87|bookworm"

die() { printf 'fetch-dpdk-src: %s\n' "$*" >&2; exit 1; }
want=("$@"); [ ${#want[@]} -gt 0 ] || want=(20.11.10 24.11.8 kmods)

codename=$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release: this needs a Debian machine"
command -v apt-get >/dev/null || die "apt-get is missing: this needs a Debian machine"

# The machine's Debian archive: "URI|Signed-By" of each deb entry whose suite is exactly $codename.
archives() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v cn="$codename" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " cn " ") && comps ~ /(^| )main( |$)/ && uris != "")
                           { n = split(uris, u, " "); for (i = 1; i <= n; i++) print u[i] "|" signed }
                         types = suites = uris = comps = signed = "" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { k = $1; sub(/:$/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v)
        if (k == "Types") types = v; else if (k == "Suites") suites = v; else if (k == "URIs") uris = v
        else if (k == "Components") comps = v; else if (k == "Signed-By") signed = v }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v cn="$codename" '
      $1 != "deb" { next }
      { i = 2; signed = ""
        if ($2 ~ /^\[/) { opts = ""; while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } i++ }
                          if (match(opts, /signed-by=[^ \]]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10) }
        if ($(i + 1) == cn) print $i "|" signed }' "$f"
  done
}

mapfile -t arch < <(archives | awk '!seen[$0]++')
kmods=0; rest=()
for w in "${want[@]}"; do if [ "$w" = kmods ]; then kmods=1; else rest+=("$w"); fi; done
want=("${rest[@]+"${rest[@]}"}")
[ ${#arch[@]} -gt 0 ] || die "no Debian archive entry for '$codename' (main) in /etc/apt/sources.list or /etc/apt/sources.list.d/: cannot derive deb-src entries"

# A private apt under directory $1 (its source list, state and cache; the machine's are untouched): makes
# its directories and sets the array named $2 to the apt-get/apt-cache options that select it.
private_apt() {
  local d=$1
  mkdir -p "$d/etc/sources.list.d" "$d/etc/preferences.d" "$d/state/lists/partial" "$d/cache/archives/partial"
  local -n opts=$2
  opts=(-o "Dir::Etc::SourceList=$d/etc/sources.list" -o "Dir::Etc::SourceParts=$d/etc/sources.list.d"
        -o "Dir::Etc::Preferences=$d/etc/preferences" -o "Dir::Etc::PreferencesParts=$d/etc/preferences.d"
        -o "Dir::State=$d/state" -o "Dir::State::status=/dev/null" -o "Dir::Cache=$d/cache"
        -o "APT::Sandbox::User=root" -o "Acquire::Languages=none" -q)
}

apt_dir=$CACHE/apt
APT=()
private_apt "$apt_dir" APT

sha_of() { sha256sum < "$1" | cut -d' ' -f1; }
topdir_of() { tar -tf "$1" | awk -F/ 'NR == 1 { print $1 }'; }

# Which pins are not cached yet, and the suites their sources need.
todo=(); suites=()
for w in "${want[@]+"${want[@]}"}"; do
  line=""; for p in "${PINS[@]}"; do [ "${p%%|*}" = "$w" ] && line=$p; done
  [ -n "$line" ] || die "unknown source '$w' (known: 20.11.10 24.11.8 kmods)"
  IFS='|' read -r name pkg suite file sha top <<< "$line"
  if [ -n "$file" ] && [ -f "$CACHE/$file" ] && [ "$(sha_of "$CACHE/$file")" = "$sha" ]; then continue; fi
  todo+=("$line"); suites+=("$suite")
done

if [ ${#todo[@]} -gt 0 ]; then
  : > "$apt_dir/etc/sources.list"
  for s in $(printf '%s\n' "${suites[@]}" | sort -u); do
    for a in "${arch[@]}"; do
      uri=${a%%|*}; signed=${a#*|}
      if [ -n "$signed" ]; then printf 'deb-src [signed-by=%s] %s %s main\n' "$signed" "$uri" "$s"
      else printf 'deb-src %s %s main\n' "$uri" "$s"; fi
    done
  done >> "$apt_dir/etc/sources.list"
  echo "fetch-dpdk-src: deb-src entries derived from this machine's '$codename' archive:" >&2
  sed 's/^/  /' "$apt_dir/etc/sources.list" >&2
  apt-get "${APT[@]}" update >&2 || die "apt-get update with the derived deb-src entries failed"
  for line in "${todo[@]}"; do
    IFS='|' read -r name pkg suite file sha top <<< "$line"
    # the source version whose orig tarball is the pinned one (the suite may carry several)
    if [ -n "$file" ]; then
      ver=$(apt-cache "${APT[@]}" showsrc "$pkg" | awk -v f="$file" '
        /^Version: / { v = $2 } /^Files:/ { inf = 1; next } /^[^ ]/ { inf = 0 } inf && $3 == f && !done { print v; done = 1 }')
      [ -n "$ver" ] || die "no $pkg source with $file in $suite (the suite moved on? pin another version)"
    else
      ver=$(apt-cache "${APT[@]}" showsrc "$pkg" | awk '/^Version: / && !done { print $2; done = 1 }')
      [ -n "$ver" ] || die "no $pkg source package in $suite"
    fi
    work=$(mktemp -d "$CACHE/.dl.XXXXXX")
    ( cd "$work" && apt-get "${APT[@]}" source --download-only "$pkg=$ver" >&2 ) ||
      { rm -rf "$work"; die "apt-get source --download-only $pkg=$ver failed"; }
    if [ -n "$file" ]; then
      [ -f "$work/$file" ] || { rm -rf "$work"; die "$pkg=$ver downloaded no $file"; }
      got=$(sha_of "$work/$file")
      [ "$got" = "$sha" ] || { rm -rf "$work"; die "sha256 mismatch for $file: got $got, expected $sha"; }
      mv -f "$work/$file" "$CACHE/$file"
    else
      o=$(ls "$work"/"$pkg"_*.orig.tar.* 2>/dev/null | head -n 1)
      [ -n "$o" ] || { rm -rf "$work"; die "$pkg=$ver downloaded no orig tarball"; }
      mv -f "$o" "$CACHE/"
    fi
    rm -rf "$work"
  done
fi

for w in "${want[@]+"${want[@]}"}"; do
  for p in "${PINS[@]}"; do
    [ "${p%%|*}" = "$w" ] || continue
    IFS='|' read -r name pkg suite file sha top <<< "$p"
    f=$CACHE/$file
    t=$(topdir_of "$f")
    [ -z "$top" ] || [ "$t" = "$top" ] || die "$f unpacks to $t/, expected $top/"
    printf '%s %s\n' "$f" "$t"
  done
done

# dpdk-kmods (igb_uio) from the dpdk-kmods-dkms binary package
if [ "$kmods" = 1 ]; then
  IFS='|' read -r kver kdeb ksha ksuite <<< "$KMODS_PIN"
  out=$CACHE/dpdk-kmods-dkms_${kver}.src.tar.gz
  if ! { [ -f "$CACHE/$kdeb" ] && [ "$(sha_of "$CACHE/$kdeb")" = "$ksha" ]; }; then
    deb_dir=$CACHE/apt-deb
    DEB_APT=()
    private_apt "$deb_dir" DEB_APT
    for a in "${arch[@]}"; do
      uri=${a%%|*}; signed=${a#*|}
      if [ -n "$signed" ]; then printf 'deb [signed-by=%s] %s %s main\n' "$signed" "$uri" "$ksuite"
      else printf 'deb %s %s main\n' "$uri" "$ksuite"; fi
    done > "$deb_dir/etc/sources.list"
    echo "fetch-dpdk-src: deb entries derived from this machine's '$codename' archive:" >&2
    sed 's/^/  /' "$deb_dir/etc/sources.list" >&2
    apt-get "${DEB_APT[@]}" update >&2 || die "apt-get update with the derived deb entries failed"
    work=$(mktemp -d "$CACHE/.dl.XXXXXX")
    ( cd "$work" && apt-get "${DEB_APT[@]}" download "dpdk-kmods-dkms=$kver" >&2 ) ||
      { rm -rf "$work"; die "apt-get download dpdk-kmods-dkms=$kver failed (the suite moved on? pin another version)"; }
    [ -f "$work/$kdeb" ] || { rm -rf "$work"; die "apt-get download dpdk-kmods-dkms=$kver gave no $kdeb"; }
    got=$(sha_of "$work/$kdeb")
    [ "$got" = "$ksha" ] || { rm -rf "$work"; die "sha256 mismatch for $kdeb: got $got, expected $ksha"; }
    mv -f "$work/$kdeb" "$CACHE/$kdeb"
    rm -rf "$work"
    rm -f "$out"
  fi
  if [ ! -f "$out" ]; then
    work=$(mktemp -d "$CACHE/.kmods.XXXXXX")
    dpkg-deb -x "$CACHE/$kdeb" "$work/x" || { rm -rf "$work"; die "dpkg-deb -x $kdeb failed"; }
    top=$(cd "$work/x/usr/src" && ls -d dpdk-kmods-* | head -n 1)
    [ -n "$top" ] && [ -f "$work/x/usr/src/$top/igb_uio.c" ] || { rm -rf "$work"; die "$kdeb has no /usr/src/dpdk-kmods-*/igb_uio.c"; }
    tar -C "$work/x/usr/src" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "$top" |
      gzip -n > "$work/out.tar.gz"
    mv -f "$work/out.tar.gz" "$out"
    rm -rf "$work"
  fi
  printf '%s %s\n' "$out" "$(topdir_of "$out")"
fi
