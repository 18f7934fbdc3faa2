#!/usr/bin/env bash
# Builds the VM tier's Debian bookworm image from Debian's packages only. Called by `npm run vm -- build`
# (test/vm/image.ts), which caches the result by a hash of this script and packages.txt.
#   build.sh OUT_DIR
# Writes into OUT_DIR: base.raw (ext4, no partition table, sparse), vmlinuz, initrd.img, kver,
# id_vm/id_vm.pub (root's login key), host_ed25519.pub (the guest's pinned host key), packages.lock.
# Needs root (debootstrap, chroot, ownership kept by mkfs.ext4 -d). No loop mounts. Must not leave
# mounts behind: the chroot's /proc is mounted in a private mount namespace only.
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build.sh OUT_DIR}")
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root" >&2; exit 1; }
for t in debootstrap mkfs.ext4 ssh-keygen dpkg-deb; do
  command -v "$t" >/dev/null || { echo "build.sh: $t is missing (apt-get install debootstrap e2fsprogs openssh-client)" >&2; exit 1; }
done

# The machine's own configured Debian mirror (never hard-coded).
mirror() {
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || { echo "build.sh: no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2; exit 1; }
  echo "$m"
}
MIRROR=$(mirror)
pkgs() { awk -v k="$1" '$1==k {for(i=2;i<=NF;i++) print $i}' "$HERE/packages.txt"; }
BASE=$(pkgs base | paste -sd, -)

W="$OUT.tmp"
R="$W/rootfs"
t0=$(date +%s)
# A build that failed after debootstrap resumes from its rootfs when mirror and base list are the same
# (debootstrap is the slow part on a loaded machine); anything else starts over.
STAMP="bookworm $MIRROR $BASE"
if [ -d "$R" ] && [ "$(cat "$W/debootstrap.done" 2>/dev/null)" = "$STAMP" ]; then
  echo "build: reusing the debootstrapped rootfs in $W"
else
  rm -rf "$W"; mkdir -p "$W"
  echo "build: debootstrap bookworm from $MIRROR"
  debootstrap --variant=minbase --include="$BASE" bookworm "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 \
    || { tail -30 "$W/debootstrap.log" >&2; exit 1; }
  echo "$STAMP" > "$W/debootstrap.done"
fi
KVER=$(ls "$R/lib/modules" | sort -V | tail -1)
echo "build: kernel $KVER ($(( $(date +%s) - t0 )) s)"

# Chroot commands run in a private mount namespace: its /proc and /dev/pts mounts vanish with it.
in_chroot() {
  unshare -m --propagation private /bin/sh -c '
    R=$1; shift
    mkdir -p "$R/dev/pts" && mount -t proc proc "$R/proc" && mount --bind /dev/pts "$R/dev/pts" || exit 99
    exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
  ' in-chroot "$R" "$@"
}

EXTRA=$(pkgs extra | sed "s/@KVER@/$KVER/g" | paste -sd' ' -)
echo "build: installing $EXTRA"
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
in_chroot apt-get update -q >"$W/apt.log" 2>&1 || { tail -20 "$W/apt.log" >&2; exit 1; }
# shellcheck disable=SC2086
in_chroot apt-get install -y -q --no-install-recommends $EXTRA >>"$W/apt.log" 2>&1 \
  || { tail -30 "$W/apt.log" >&2; exit 1; }
mkdir -p "$R/usr/src/vm-sources"
for p in $(pkgs source); do
  in_chroot sh -c "cd /tmp && apt-get download -q $p" >>"$W/apt.log" 2>&1 \
    || { tail -20 "$W/apt.log" >&2; exit 1; }
  deb=$(ls "$R/tmp/${p}"_*.deb | head -1)
  mkdir -p "$R/usr/src/vm-sources/$p"
  dpkg-deb -x "$deb" "$R/usr/src/vm-sources/$p"
  rm -f "$deb"
done
rm -f "$R/usr/sbin/policy-rc.d"
in_chroot dpkg-query -W -f '${Package} ${Version}\n' > "$W/packages.lock"
in_chroot apt-get clean
rm -rf "$R"/var/lib/apt/lists/*_Packages "$R"/var/lib/apt/lists/*_InRelease
echo "build: packages installed ($(( $(date +%s) - t0 )) s)"

# Guest configuration.
echo vm1 > "$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vm1\n' > "$R/etc/hosts"
printf '/dev/vda / ext4 defaults,noatime 0 1\n' > "$R/etc/fstab"
ssh-keygen -q -t ed25519 -N '' -C dpvs-deploy-vm -f "$W/id_vm"
install -d -m700 "$R/root/.ssh"; install -m600 "$W/id_vm.pub" "$R/root/.ssh/authorized_keys"
rm -f "$R"/etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C vm1 -f "$R/etc/ssh/ssh_host_ed25519_key"
cp "$R/etc/ssh/ssh_host_ed25519_key.pub" "$W/host_ed25519.pub"
cat > "$R/etc/ssh/sshd_config.d/vm.conf" <<'CONF'
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
PermitRootLogin prohibit-password
PasswordAuthentication no
MaxSessions 32
MaxStartups 32:30:64
CONF
# Only the management NIC (matched by MAC) is configured; the test NICs stay down and unaddressed so
# dpdk-devbind.py does not see them as active.
cat > "$R/etc/systemd/network/10-mgmt.network" <<'CONF'
[Match]
MACAddress=52:54:00:12:34:56
[Network]
DHCP=ipv4
CONF
ln -sf /lib/systemd/system/systemd-networkd.service "$R/etc/systemd/system/multi-user.target.wants/"
mkdir -p "$R/etc/systemd/system/sockets.target.wants"
ln -sf /lib/systemd/system/systemd-networkd.socket "$R/etc/systemd/system/sockets.target.wants/"
ln -sf /dev/null "$R/etc/systemd/system/systemd-networkd-wait-online.service"
rm -f "$R"/etc/systemd/system/timers.target.wants/{apt-daily-upgrade,apt-daily,dpkg-db-backup,e2scrub_all,fstrim}.timer
# -cpu max exposes SVM/VMX: keep the guest from loading its own (emulated) kvm.
printf 'blacklist kvm_amd\nblacklist kvm_intel\nblacklist kvm\ninstall kvm_amd /bin/false\ninstall kvm_intel /bin/false\n' \
  > "$R/etc/modprobe.d/no-kvm.conf"
# The guest has no route out (restrict=on): no apt sources to try.
: > "$R/etc/apt/sources.list"
echo "LABEL=vm1 built $(date -u +%FT%TZ) from $MIRROR kernel $KVER" > "$R/etc/dpvs-deploy-vm"

cp "$R/boot/vmlinuz-$KVER" "$W/vmlinuz"
cp "$R/boot/initrd.img-$KVER" "$W/initrd.img"
echo "$KVER" > "$W/kver"
mkfs.ext4 -q -F -L vmroot -d "$R" "$W/base.raw" 4G
rm -rf "$R"
rm -rf "$OUT"; mv "$W" "$OUT"
echo "build: image ready in $OUT ($(( $(date +%s) - t0 )) s)"
