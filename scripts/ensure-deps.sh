#!/usr/bin/env bash
# Installs what the local lab and the tests need on a fresh Debian/Ubuntu machine (as root), and the
# npm packages. Idempotent: installs only what is missing. Used by `npm test`, `npm run demo` and CI.
# --vm also installs what the VM tier needs (QEMU, debootstrap): `npm run test:vm` and CI pass it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the lab and the tests use (see test/lab/README.md for why each is needed). The last
# line is what upstream's real DPDK links on the lab (test/integration/dpdk-real.test.ts): its static
# libdpdk.pc pulls -lnuma and -lpcap, libpcap's -ldbus-1 pulls -lsystemd; 24.11 needs pyelftools; ccache
# is the compiler cache that suite gives the lab balancer (meson uses it when it is on PATH).
PKGS=(openssh-server openssh-client iproute2 fuse3 python3-fusepy libfuse2 pciutils dpdk
      meson ninja-build patch xz-utils gzip tar pkg-config gcc make libc6-dev sudo kmod procps
      psmisc util-linux nftables curl systemd zsh
      libnuma-dev libpcap-dev libsystemd-dev python3-pyelftools ccache)
# The VM tier (test/vm): QEMU (software emulation only), qemu-img, debootstrap and mkfs.ext4 -d.
VM_PKGS=(qemu-system-x86 qemu-utils debootstrap e2fsprogs)

missing_of() { # the named packages that are not installed
  local p
  command -v dpkg-query >/dev/null 2>&1 || return 0
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}
updated=""
install_pkgs() { # install the named packages with apt-get; non-zero when that cannot be done
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-deps: missing packages: $* (install them as root with apt-get)" >&2
    return 1
  fi
  echo "ensure-deps: installing $*"
  # never start the system sshd: the lab runs its own, one per host
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  [ -n "$updated" ] || { apt-get update -q >/dev/null && updated=1; }
  apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# (no mapfile: macOS's bash 3.2 runs this too, where dpkg-query is absent and nothing is missing)
missing=(); while IFS= read -r p; do missing+=("$p"); done < <(missing_of "${PKGS[@]}")
if [ ${#missing[@]} -gt 0 ]; then install_pkgs "${missing[@]}" || exit 1; fi
if [ "${1:-}" = --vm ]; then
  missing=(); while IFS= read -r p; do missing+=("$p"); done < <(missing_of "${VM_PKGS[@]}")
  # Not fatal: where QEMU cannot be installed, the VM suite says so loudly and skips (test/vm/global-setup.ts).
  if [ ${#missing[@]} -gt 0 ] && ! install_pkgs "${missing[@]}"; then
    echo "ensure-deps: !! the VM tier's packages could not be installed: the VM tier will be SKIPPED" >&2
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
