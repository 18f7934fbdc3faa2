#!/usr/bin/env bash
# The VM tier's native-speed BUILD host: the guest image's own root filesystem (same Debian release, same
# compiler, same packages), run on this machine as a second inventory host with its own sshd, so that the
# tool builds real DPDK there and the guest receives the build through the tool's build-once/copy path
# (src/tasks/dpdk/build-role.ts, src/tasks/dpvs/release.ts). Real DPDK never builds under TCG.
#
#   builder.sh prepare IMAGE_DIR OUT_DIR PKG...   the root filesystem, extracted from IMAGE_DIR/base.raw
#                                                 without mounting it (debugfs rdump), plus the build
#                                                 packages PKG... installed natively from the machine's
#                                                 own configured mirror (never a name written here), and
#                                                 the .debs of $GUEST_RUNTIME (+ dependencies) the image
#                                                 lacks, in /var/cache/dpvs-deploy-builder/guest-debs
#   builder.sh serve LOWER RUN_DIR                sshd of the root filesystem LOWER, in a private mount
#                                                 and PID namespace (run it under `unshare -m -p -f
#                                                 --propagation private --kill-child`): an overlay (upper
#                                                 layer in RUN_DIR, so LOWER stays clean), its own /proc,
#                                                 a READ-ONLY /sys, a /dev with the basic nodes only, a
#                                                 /run and /tmp of its own. RUN_DIR holds sshd_config,
#                                                 the host key and authorized_keys. Everything mounted
#                                                 vanishes with the namespace.
# The build host shares this machine's network namespace (sshd listens on 127.0.0.1 only) and kernel;
# the tool is only ever run on it with the build tasks (--tasks dpdk-source,dpdk-build,dpvs-build).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "builder.sh: must run as root" >&2; exit 1; }

# /dev, /proc, /sys, /run, /tmp of a root filesystem R, in the current (private) mount namespace.
mount_basics() {
  local R=$1
  mount -t proc proc "$R/proc"
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
  mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
  mknod -m 666 "$R/dev/null" c 1 3; mknod -m 666 "$R/dev/zero" c 1 5; mknod -m 666 "$R/dev/full" c 1 7
  mknod -m 666 "$R/dev/random" c 1 8; mknod -m 666 "$R/dev/urandom" c 1 9; mknod -m 666 "$R/dev/tty" c 5 0
  mkdir -p "$R/dev/pts" "$R/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
  ln -s pts/ptmx "$R/dev/ptmx"
  ln -s /proc/self/fd "$R/dev/fd"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
  mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
  mkdir -p "$R/run/sshd" "$R/run/lock"
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
}

# The machine's own configured Debian mirror (as test/vm/build.sh reads it; never hard-coded).
mirror() {
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || { echo "builder.sh: no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2; exit 1; }
  echo "$m"
}

case "${1:-}" in
prepare)
  IMAGE=$(realpath "${2:?usage: builder.sh prepare IMAGE_DIR OUT_DIR PKG...}")
  OUT=$(realpath -m "${3:?usage: builder.sh prepare IMAGE_DIR OUT_DIR PKG...}")
  shift 3
  command -v debugfs >/dev/null || { echo "builder.sh: debugfs is missing (apt-get install e2fsprogs)" >&2; exit 1; }
  t0=$(date +%s)
  W="$OUT.tmp"
  rm -rf "$W"; mkdir -p "$W/rootfs"
  debugfs -R "rdump / $W/rootfs" "$IMAGE/base.raw" >"$W/debugfs.log" 2>&1 || { tail -20 "$W/debugfs.log" >&2; exit 1; }
  R="$W/rootfs"
  rm -rf "$R/lost+found"
  mkdir -p "$R/proc" "$R/sys" "$R/dev" "$R/run" "$R/tmp"
  chmod 1777 "$R/tmp"
  echo "builder: root filesystem extracted from $IMAGE/base.raw ($(( $(date +%s) - t0 )) s)"
  echo "deb $(mirror) bookworm main" > "$R/etc/apt/sources.list"
  if [ $# -gt 0 ]; then
    printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
    # In the chroot: install the build set; then download (not install) the .debs of the runtime
    # libraries what it builds links dynamically (GUEST_RUNTIME, with their dependencies) that the guest
    # image lacks, for the guest, which has no mirror: guest-debs/.
    awk '{print $1}' "$IMAGE/packages.lock" > "$R/root/image-packages"
    cat > "$R/root/prepare.sh" <<'SH'
set -e
apt-get update -q
apt-get install -y -q --no-install-recommends "$@"
mkdir -p /var/cache/dpvs-deploy-builder/guest-debs && cd /var/cache/dpvs-deploy-builder/guest-debs
want=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
  --no-enhances $GUEST_RUNTIME | grep -E '^[a-z0-9]' | sort -u | grep -vxF -f /root/image-packages || true)
# only what apt chose here (an alternative such as libelogind0 for libsystemd0 is not installed)
dpkg-query -W -f '${Package}\n' | sort -u > /root/installed
want=$(printf '%s\n' $want | grep -xF -f /root/installed || true)
for p in $want; do apt-cache show --no-all-versions "$p" >/dev/null 2>&1 && apt-get download -q "$p"; done
apt-get clean
SH
    unshare -m --propagation private /bin/bash -c "
      set -e
      $(declare -f mount_basics)
      mount_basics \"\$1\"; shift
      R=\$1; shift
      chroot \"\$R\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C \
        GUEST_RUNTIME=\"${GUEST_RUNTIME:-}\" sh /root/prepare.sh \"\$@\"
    " builder-prepare "$R" "$R" "$@" >"$W/apt.log" 2>&1 || { tail -30 "$W/apt.log" >&2; exit 1; }
    rm -f "$R/root/prepare.sh" "$R/root/image-packages" "$R/root/installed"
    echo "builder: .debs for the guest: $(cd "$R/var/cache/dpvs-deploy-builder/guest-debs" && ls | tr '\n' ' ')"
    rm -f "$R/usr/sbin/policy-rc.d"
    rm -rf "$R"/var/lib/apt/lists/*_Packages "$R"/var/lib/apt/lists/*_InRelease
    echo "builder: installed $* ($(( $(date +%s) - t0 )) s)"
  fi
  echo "LABEL=vm-builder prepared $(date -u +%FT%TZ) from $IMAGE" > "$R/etc/dpvs-deploy-builder"
  rm -rf "$OUT"; mv "$W" "$OUT"
  echo "builder: ready in $OUT ($(( $(date +%s) - t0 )) s)"
  ;;
serve)
  LOWER=$(realpath "${2:?usage: builder.sh serve LOWER RUN_DIR}")
  RUN=$(realpath "${3:?usage: builder.sh serve LOWER RUN_DIR}")
  [ "$$" = 1 ] || { echo "builder.sh serve: run me as PID 1 of a new PID namespace (unshare -m -p -f)" >&2; exit 1; }
  M="$RUN/merged"
  mkdir -p "$RUN/upper" "$RUN/work" "$M"
  mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$RUN/upper,workdir=$RUN/work" "$M"
  mount_basics "$M"
  mkdir -p "$M/etc/dpvs-deploy-builder.d"
  # CCACHE_BIND: a directory of this machine's, the build host's compiler cache (meson puts the ccache of
  # the build set in front of the compiler): real meson and ninja run each time, compiling once a machine
  if [ -n "${CCACHE_BIND:-}" ]; then
    mkdir -p "$M/var/cache/ccache"
    mount --bind "$CCACHE_BIND" "$M/var/cache/ccache"
    printf 'cache_dir = /var/cache/ccache\nmax_size = 4G\n' > "$M/etc/ccache.conf"
  fi
  install -m 600 "$RUN/sshd_config" "$RUN/host_ed25519" "$RUN/authorized_keys" "$M/etc/dpvs-deploy-builder.d/"
  exec chroot "$M" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    /usr/sbin/sshd -D -e -f /etc/dpvs-deploy-builder.d/sshd_config
  ;;
*)
  echo "usage: builder.sh prepare IMAGE_DIR OUT_DIR PKG... | builder.sh serve LOWER RUN_DIR" >&2
  exit 2
  ;;
esac
