#!/bin/bash
# PID 1 of one lab host. Started by test/lab/lab.ts as
#   setsid ip netns exec dd-<host> unshare --mount --uts --pid --fork --kill-child --mount-proc \
#          --propagation private -- bash host-init.sh <host-dir>
# <host-dir>/init.env (written by lab.ts) sets HOST, ADDRESS, PREFIXLEN, FAKE_ROOT, REAL_HUGEPAGES, IPV6;
# <host-dir>/mounts lists the fake kernel's binds as "kind source target" (source relative to FAKE_ROOT).
# Order matters: binds from absolute paths first, while nothing is overmounted yet; then cwd-relative
# sources with `mount -c`, so a state directory under /root or /tmp still resolves (cwd keeps it).
set -eu
# LAB_TRACE (from the environment of `up`) writes every command of this script to init.log with its time.
if [ -n "${LAB_TRACE:-}" ]; then
  PS4='+ $EPOCHREALTIME '
  set -x
fi
cd "$1"
# shellcheck disable=SC1091
. ./init.env

hostname "$HOST"
ip link set lo up
ip addr add "$ADDRESS/$PREFIXLEN" dev eth0
ip link set eth0 up

# Global kernel knobs are not namespaced: make them read-only (per-netns /proc/sys/net stays writable).
for d in /proc/sys/vm /proc/sys/kernel /proc/sys/fs /proc/sysrq-trigger; do
  [ -e "$d" ] || continue
  mount --bind "$d" "$d"
  mount -o remount,bind,ro "$d"
done

# A host without an IPv6 stack (profile ipv6: false) has no /proc/sys/net/ipv6, as on a kernel booted
# with ipv6.disable=1 (its /proc/net lacks if_inet6 & co.: the fake kernel's procnet leaves them out).
# procfs cannot drop a directory, so /proc/sys/net becomes a directory holding binds of the real
# entries but ipv6: the per-netns sysctls under core, ipv4, ... stay the live, writable ones.
if [ "${IPV6:-1}" = 0 ]; then
  rm -rf sysnet && mkdir sysnet
  for e in /proc/sys/net/*; do
    n=${e##*/}
    [ "$n" = ipv6 ] && continue
    if [ -d "$e" ]; then mkdir "sysnet/$n"; else : >"sysnet/$n"; fi
    mount -c --bind "$e" "sysnet/$n"
  done
  mount -c --rbind sysnet /proc/sys/net
fi

# The fake hardware tree (and, for the opt-in real-hugepage host, the real 2 MB counters, read-write).
# Targets under /run are bound after the private /run exists, through fd 9 (FAKE_ROOT may be hidden
# by then when the state lives under an overmounted directory).
exec 9<"$FAKE_ROOT"
bind_fake() { # kind source target
  case "$1" in
    dir | file) mount --bind "$2" "$3" ;;
    symlink) /usr/bin/python3 "$SYMLINK_HELPER" "$2" "$3" ;;
    *) echo "host-init: unknown mount kind $1" >&2 && return 1 ;;
  esac
}
while read -r kind src target; do
  [ -n "$kind" ] || continue
  case "$target" in /run/*) continue ;; esac
  if [ ! -e "$target" ] && [ ! -L "$target" ]; then
    echo "host-init: $target does not exist on this machine; skipping bind of $src" >&2
    continue
  fi
  bind_fake "$kind" "$FAKE_ROOT/$src" "$target"
done <./mounts
if [ "$REAL_HUGEPAGES" = 1 ]; then
  # A bind copies the source mount's read-only flag: clear it on these two.
  mount --bind /sys/kernel/mm/hugepages /sys/kernel/mm/hugepages
  mount --bind /proc/sys/vm/nr_hugepages /proc/sys/vm/nr_hugepages
  mount -o remount,bind,rw /proc/sys/vm/nr_hugepages
fi
mount -o remount,bind,ro /sys

# Private /usr (so /usr/local and /usr/lib/modules), /etc and /var: overlays on the real directories.
for d in usr etc var; do
  mount -c -t overlay "lab-$d" -o "lowerdir=/$d,upperdir=upper/$d,workdir=work/$d" "/$d"
done
for d in root opt home tmp; do
  mount -c --bind "$d" "/$d"
done
chmod 1777 /tmp

mount -t tmpfs -o mode=0755,size=64m lab-run /run
mkdir -p /run/sshd /run/lock
chmod 0755 /run/sshd
while read -r kind src target; do
  case "$target" in /run/*) ;; *) continue ;; esac
  if [ "$kind" = dir ]; then mkdir -p "$target"; else mkdir -p "${target%/*}" && : >"$target"; fi
  bind_fake "$kind" "/proc/self/fd/9/$src" "$target"
done <./mounts
exec 9<&-

# Private /dev: the few nodes a server needs, its own devpts, shm.
mount -t tmpfs -o mode=0755,size=16m lab-dev /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/tty c 5 0
mkdir -m 755 /dev/pts
mkdir -m 1777 /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,size=64m lab-shm /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr

# LAB_SSHD_LOGLEVEL (from the environment of `up`, e.g. VERBOSE for the benchmark in bench/) makes sshd
# log every connection and every session it starts ("Starting session: command ...") to init.log.
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config ${LAB_SSHD_LOGLEVEL:+-o "LogLevel=$LAB_SSHD_LOGLEVEL"}
