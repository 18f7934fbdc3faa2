#!/usr/bin/env bash
# Installs what the local lab and the tests need on a fresh Debian/Ubuntu machine (as root), and the
# npm packages. Idempotent: installs only what is missing. Used by `npm test`, `npm run demo` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the lab and the tests use (see test/lab/README.md for why each is needed).
PKGS=(openssh-server openssh-client iproute2 fuse3 python3-fusepy libfuse2 pciutils dpdk
      meson ninja-build patch xz-utils gzip tar pkg-config gcc make libc6-dev sudo kmod procps
      psmisc util-linux nftables curl)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-deps: missing packages: ${missing[*]} (install them as root with apt-get)" >&2
    exit 1
  fi
  echo "ensure-deps: installing ${missing[*]}"
  # never start the system sshd: the lab runs its own, one per host
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
