#!/usr/bin/python3
"""Mount the symlink SOURCE itself over the symlink TARGET (neither is followed).

mount(2) always follows symlinks, so `mount --bind` cannot do this; open_tree(2) with
AT_SYMLINK_NOFOLLOW plus move_mount(2) without MOVE_MOUNT_T_SYMLINKS can (Linux >= 5.2).
The lab uses it to replace a host's /proc/net (-> self/net) with a link to its fake procnet dir.
"""
import ctypes
import os
import sys

SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
AT_FDCWD = -100
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = 0o2000000
AT_SYMLINK_NOFOLLOW = 0x100
MOVE_MOUNT_F_EMPTY_PATH = 0x4


def mount_symlink(source, target):
    """Mount the symlink `source` over the symlink `target`; OSError on failure."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(SYS_OPEN_TREE, AT_FDCWD, os.fsencode(source),
                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW)
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, "mount-symlink: open_tree %s: %s" % (source, os.strerror(e)))
    try:
        rc = libc.syscall(SYS_MOVE_MOUNT, ctypes.c_int(fd), b"", AT_FDCWD, os.fsencode(target),
                          MOVE_MOUNT_F_EMPTY_PATH)
        if rc < 0:
            e = ctypes.get_errno()
            raise OSError(e, "mount-symlink: move_mount onto %s: %s" % (target, os.strerror(e)))
    finally:
        os.close(fd)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mount-symlink.py SOURCE TARGET")
    try:
        mount_symlink(sys.argv[1], sys.argv[2])
    except OSError as e:
        sys.exit(e.strerror)


if __name__ == "__main__":
    main()
