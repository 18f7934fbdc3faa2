#!/usr/bin/python3
"""The lab's fake kernel: one FUSE daemon serving <mountpoint>/<host>/... from <stateRoot>/<host>/...

Reads pass through to each host's backing tree, except generated files (meminfo, proc/modules, hugepage
counters, stats). Writes to the kernel's control files (drivers/X/bind, unbind, new_id, remove_id,
drivers_probe, driver_override, nr_hugepages, and the per-host `ctl`) apply the kernel's semantics
synchronously inside write(); every other file is read-only (EACCES), as in sysfs.

Per-host `procnet/` is /proc/net as the host should see it: a symlink per entry of the real per-netns
/proc/1/net (resolved inside the host, so it shows the host's own network namespace) plus toa_stats /
uoa_stats while those modules are loaded; a host without an IPv6 stack (profile ipv6: false) has no
IPv6 entries there (if_inet6, ipv6_route, tcp6, snmp6, ...), as on a kernel booted with
ipv6.disable=1. The orchestrator mounts the `procnet-link` symlink over the
host's /proc/net symlink (see mount-symlink.py).

Usage: /usr/bin/python3 fakekernel.py STATE_ROOT MOUNTPOINT   (prints "ready" once mounted)
"""
import errno
import json
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel  # noqa: E402

try:
    import fusepy as fuselib
except ImportError:  # pragma: no cover - other distributions name it `fuse`
    import fuse as fuselib

FUSE, FuseOSError, Operations = fuselib.FUSE, fuselib.FuseOSError, fuselib.Operations

CONTROL_WO = {"bind", "unbind", "new_id", "remove_id", "drivers_probe"}
RE_DRV = re.compile(r"^sys/bus/pci/drivers/([^/]+)/(bind|unbind|new_id|remove_id)$")
RE_OVERRIDE = re.compile(r"^sys/devices/pci0000:00/([^/]+)/driver_override$")
RE_GLOBAL_HP = re.compile(r"^sys/kernel/mm/hugepages/hugepages-(\d+)kB/(\w+)$")
RE_NODE_HP = re.compile(r"^sys/devices/system/node/node(\d+)/hugepages/hugepages-(\d+)kB/(\w+)$")
RE_NODE_MEMINFO = re.compile(r"^sys/devices/system/node/node(\d+)/meminfo$")
REAL_2M = "/sys/kernel/mm/hugepages/hugepages-2048kB/"
REAL_NODE0_2M = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/"
# /proc/net entries the IPv6 stack makes (if_inet6, ipv6_route, ip6_tables_*, rt6_stats, tcp6, snmp6, ...)
RE_PROCNET_IPV6 = re.compile(r"^(ip6|ipv6|rt6_)|6$")


def fail(code):
    raise FuseOSError(code)


class FakeKernel(Operations):
    def __init__(self, state_root):
        self.state_root = os.path.abspath(state_root)
        self.hosts = {}
        try:
            self.procnet_names = sorted(os.listdir("/proc/self/net"))
        except OSError:
            self.procnet_names = []

    # ---- lookup ----------------------------------------------------------------------------
    def split(self, path):
        parts = path.strip("/").split("/", 1)
        if parts == [""]:
            return None, ""
        return parts[0], parts[1] if len(parts) > 1 else ""

    def host(self, name):
        root = os.path.join(self.state_root, name)
        try:
            st = os.stat(os.path.join(root, "profile.json"))
        except OSError:
            fail(errno.ENOENT)
        key = (st.st_ino, st.st_mtime_ns)
        cached = self.hosts.get(name)
        if cached is None or cached[0] != key:
            try:
                cached = (key, kernel.Host(root))
            except OSError as e:
                fail(e.errno or errno.EIO)
            self.hosts[name] = cached
        return cached[1]

    def real_passthrough(self, h, rel):
        """For the one opt-in host on the machine's real 2 MB counter: where its counter files live."""
        if h.profile.get("hugepages") != "real":
            return None
        if rel == "proc/sys/vm/nr_hugepages":
            return "/proc/sys/vm/nr_hugepages"
        m = RE_GLOBAL_HP.match(rel)
        if m and m.group(1) == "2048":
            return REAL_2M + m.group(2)
        m = RE_NODE_HP.match(rel)
        if m and m.group(1) == "0" and m.group(2) == "2048":
            return REAL_NODE0_2M + m.group(3)
        return None

    def generated(self, h, rel):
        """Text of a generated file, or None when rel is a plain backing file."""
        real = self.real_passthrough(h, rel)
        if real is not None:
            with open(real) as f:
                return f.read()
        if rel == "proc/meminfo":
            return h.meminfo()
        if rel == "proc/modules":
            return h.proc_modules()
        if rel == "proc/sys/vm/nr_hugepages":
            return "%d\n" % sum(h.counts(2048))
        if rel == "ctl":
            return json.dumps(h.state, indent=1) + "\n"
        m = RE_GLOBAL_HP.match(rel)
        if m and int(m.group(1)) in kernel.SIZES_KB:
            size, attr = int(m.group(1)), m.group(2)
            nodes = range(len(h.counts(size)))
            values = {"nr_hugepages": sum(h.counts(size)), "nr_hugepages_mempolicy": sum(h.counts(size)),
                      "free_hugepages": sum(h.free_pages(size, n) for n in nodes), "resv_hugepages": 0,
                      "surplus_hugepages": 0, "nr_overcommit_hugepages": 0}
            return "%d\n" % values[attr] if attr in values else None
        m = RE_NODE_HP.match(rel)
        if m and int(m.group(2)) in kernel.SIZES_KB:
            node, size, attr = int(m.group(1)), int(m.group(2)), m.group(3)
            if node >= len(h.counts(size)):
                return None
            values = {"nr_hugepages": h.counts(size)[node], "free_hugepages": h.free_pages(size, node),
                      "surplus_hugepages": 0}
            return "%d\n" % values[attr] if attr in values else None
        m = RE_NODE_MEMINFO.match(rel)
        if m and int(m.group(1)) < h.profile["numaNodes"]:
            return h.node_meminfo(int(m.group(1)))
        if rel.startswith("procnet/") and rel[8:] in h.stats_files():
            return h.stats_text(rel[8:])
        return None

    def writable(self, rel):
        base = rel.rsplit("/", 1)[-1]
        if rel in ("ctl", "proc/sys/vm/nr_hugepages", "sys/bus/pci/drivers_probe"):
            return True
        if RE_DRV.match(rel) or RE_OVERRIDE.match(rel):
            return True
        return base == "nr_hugepages" and (RE_GLOBAL_HP.match(rel) or RE_NODE_HP.match(rel)) is not None

    def procnet(self, h):
        """Names of the host's /proc/net entries that link to the real netns ones."""
        if h.profile.get("ipv6", True):
            return self.procnet_names
        return [n for n in self.procnet_names if not RE_PROCNET_IPV6.search(n)]

    # ---- FUSE operations -------------------------------------------------------------------
    def init(self, path):
        print("ready", flush=True)

    def getattr(self, path, fh=None):
        name, rel = self.split(path)
        if name is None:
            return self.stat_dict(os.lstat(self.state_root))
        h = self.host(name)
        if rel.startswith("procnet/"):
            entry = rel[8:]
            base = self.stat_dict(os.lstat(h.p("procnet")))
            if entry in h.stats_files():
                return dict(base, st_mode=stat.S_IFREG | 0o444, st_size=0, st_nlink=1)
            if entry in self.procnet(h):
                return dict(base, st_mode=stat.S_IFLNK | 0o777, st_size=len("/proc/1/net/" + entry), st_nlink=1)
            fail(errno.ENOENT)
        try:
            st = self.stat_dict(os.lstat(h.p(rel) if rel else h.root))
        except OSError as e:
            fail(e.errno)
        if stat.S_ISREG(st["st_mode"]) and rel:
            base = rel.rsplit("/", 1)[-1]
            if base in CONTROL_WO:
                st["st_mode"] = stat.S_IFREG | 0o200
            elif self.writable(rel):
                st["st_mode"] = stat.S_IFREG | 0o644
            elif rel.startswith(("sys/", "proc/")):
                st["st_mode"] = stat.S_IFREG | 0o444
            if rel.startswith("proc/"):
                st["st_size"] = 0
            elif rel.startswith("sys/") and base != "config":
                st["st_size"] = 4096
        return st

    @staticmethod
    def stat_dict(st):
        return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime",
                                            "st_mtime", "st_ctime", "st_ino")}

    def readdir(self, path, fh):
        name, rel = self.split(path)
        if name is None:
            names = [d for d in os.listdir(self.state_root)
                     if os.path.exists(os.path.join(self.state_root, d, "profile.json"))]
        else:
            h = self.host(name)
            if rel == "procnet":
                names = self.procnet(h) + h.stats_files()
            else:
                try:
                    names = os.listdir(h.p(rel) if rel else h.root)
                except OSError as e:
                    fail(e.errno)
        return [".", ".."] + names

    def readlink(self, path):
        name, rel = self.split(path)
        if name is None:
            fail(errno.EINVAL)
        h = self.host(name)
        if rel.startswith("procnet/"):
            if rel[8:] in self.procnet(h):
                return "/proc/1/net/" + rel[8:]
            fail(errno.EINVAL)
        try:
            return os.readlink(h.p(rel))
        except OSError as e:
            fail(e.errno)

    def open(self, path, flags):
        name, rel = self.split(path)
        if name is None:
            fail(errno.EISDIR)
        h = self.host(name)
        wants_write = flags & (os.O_WRONLY | os.O_RDWR)
        if wants_write and not self.writable(rel):
            fail(errno.EACCES)
        if not rel.startswith("procnet/") and not os.path.exists(h.p(rel)):
            fail(errno.ENOENT)
        return 0

    def read(self, path, size, offset, fh):
        name, rel = self.split(path)
        h = self.host(name)
        base = rel.rsplit("/", 1)[-1]
        if base in CONTROL_WO:
            fail(errno.EACCES)
        text = self.generated(h, rel)
        if text is not None:
            return text.encode()[offset:offset + size]
        try:
            fd = os.open(h.p(rel), os.O_RDONLY)
        except OSError as e:
            fail(e.errno)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def truncate(self, path, length, fh=None):
        name, rel = self.split(path)
        if name is None or not self.writable(rel):
            fail(errno.EACCES)
        return 0

    def write(self, path, data, offset, fh):
        name, rel = self.split(path)
        h = self.host(name)
        text = data.decode("utf-8", "replace")
        try:
            self.apply_write(h, rel, text)
        except OSError as e:
            fail(e.errno or errno.EIO)
        return len(data)

    def apply_write(self, h, rel, text):
        value = text.strip().strip("\0")
        real = self.real_passthrough(h, rel)
        if real is not None:
            with open(real, "w") as f:
                f.write(text)
            return
        m = RE_DRV.match(rel)
        if m:
            drv, op = m.groups()
            if not h.driver_exists(drv):
                raise kernel._err(errno.ENOENT)
            if op == "bind":
                h.bind(drv, value)
            elif op == "unbind":
                h.unbind(drv, value)
            elif op == "new_id":
                h.new_id(drv, value)
            else:
                h.remove_id(drv, value)
            return
        if rel == "sys/bus/pci/drivers_probe":
            h.probe(value)
            return
        m = RE_OVERRIDE.match(rel)
        if m:
            if m.group(1) not in h.nics:
                raise kernel._err(errno.ENODEV)
            h.set_override(m.group(1), text)
            return
        if rel == "ctl":
            for line in text.splitlines():
                self.control(h, line.split())
            return
        n = self.count(value)
        if rel == "proc/sys/vm/nr_hugepages":
            h.set_global_pages(2048, n)
            return
        m = RE_GLOBAL_HP.match(rel)
        if m and int(m.group(1)) in kernel.SIZES_KB:
            h.set_global_pages(int(m.group(1)), n)
            return
        m = RE_NODE_HP.match(rel)
        if m and int(m.group(2)) in kernel.SIZES_KB and int(m.group(1)) < len(h.counts(int(m.group(2)))):
            h.set_node_pages(int(m.group(2)), int(m.group(1)), n)
            return
        raise kernel._err(errno.EACCES)

    @staticmethod
    def count(value):
        try:
            n = int(value, 10)
        except ValueError:
            raise kernel._err(errno.EINVAL)
        if n < 0:
            raise kernel._err(errno.EINVAL)
        return n

    @staticmethod
    def control(h, words):
        """ctl commands: load MOD [k=v ...] | unload MOD | hugeuse SIZE_KB NODE N | inuse MOD 0|1 | reboot CMDLINE"""
        if not words:
            return
        cmd, args = words[0], words[1:]
        if cmd == "load" and args:
            params = dict(a.split("=", 1) if "=" in a else (a, "1") for a in args[1:])
            h.load(args[0], params)
        elif cmd == "unload" and len(args) == 1:
            h.unload(args[0])
        elif cmd == "hugeuse" and len(args) == 3:
            size, node, n = (int(x) for x in args)
            used = h.state.setdefault("hugeUsed", {}).setdefault(str(size), [0] * len(h.counts(size)))
            used[node] = n
            h.save()
        elif cmd == "reboot":
            h.reboot(" ".join(args))
        elif cmd == "inuse" and len(args) == 2:
            h.state.setdefault("inUse", {})[kernel.norm_module(args[0])] = args[1] == "1"
            h.save()
        else:
            raise kernel._err(errno.EINVAL)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return 0

    def statfs(self, path):
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 0, "f_bfree": 0, "f_bavail": 0, "f_namemax": 255}

    def chmod(self, path, mode):
        fail(errno.EPERM)

    def chown(self, path, uid, gid):
        fail(errno.EPERM)

    def utimens(self, path, times=None):
        fail(errno.EPERM)

    def create(self, path, mode, fi=None):
        fail(errno.EACCES)

    def mkdir(self, path, mode):
        fail(errno.EPERM)

    def rmdir(self, path):
        fail(errno.EPERM)

    def unlink(self, path):
        fail(errno.EPERM)

    def symlink(self, target, source):
        fail(errno.EPERM)

    def rename(self, old, new):
        fail(errno.EPERM)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fakekernel.py STATE_ROOT MOUNTPOINT")
    FUSE(FakeKernel(sys.argv[1]), sys.argv[2], foreground=True, nothreads=True, allow_other=True,
         default_permissions=True, direct_io=True, entry_timeout=0, attr_timeout=0, negative_timeout=0,
         fsname="fakekernel", subtype="fakekernel")


if __name__ == "__main__":
    main()
