#!/usr/bin/python3
"""PID 1 of one lab host. Started by test/lab/lab.ts as

    ip netns exec dd-h-<host> unshare --mount --uts --pid --fork --kill-child --mount-proc \\
        --propagation private -- /usr/bin/python3 -I -S host-init.py <host-dir>

<host-dir>/init.env (written by host-files.ts) sets HOST, ADDRESS, PREFIXLEN, FAKE_ROOT, REAL_HUGEPAGES,
IPV6 and SYMLINK_HELPER; <host-dir>/mounts lists the fake kernel's binds as "kind source target" (source
relative to FAKE_ROOT). It makes the host's mounts with mount(2) itself, in one process (a `mount`
command per mount costs a fork, an exec and libmount's start-up: with 50 hosts starting at once, that
was most of the lab's start-up time), then runs `sshd -D` and stays PID 1: it reaps orphans and, on
SIGINT (systemd's ctrl-alt-del signal, which the lab's `systemctl reboot` sends), reboots the host:
every process stopped (SSH sessions drop), a pause, then a new boot id, /proc/cmdline from the first
`linux` line of the host's own /boot/grub/grub.cfg (as GRUB boots it: BOOT_IMAGE=<image> <args>), the
fake kernel rebooted with it (modules, bindings and hugepages as at boot), /run emptied, sshd again and
the enabled units started. A file `no-return` in <host-dir> makes the next reboot never come back.

Order matters: binds from absolute paths first, while nothing is overmounted yet; then cwd-relative
sources, so a state directory under /root or /tmp still resolves (the cwd keeps it). LAB_TRACE in the
environment writes every step to init.log with its time.
"""
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# statvfs f_flag bits (ST_*) -> mount flags (MS_*), to keep a mount's flags on a bind remount
ST_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME,
            4096: MS_RELATIME}
TRACE = bool(os.environ.get("LAB_TRACE"))
libc = ctypes.CDLL(None, use_errno=True)


def trace(what):
    if TRACE:
        print("+ %.6f %s" % (time.time(), what), file=sys.stderr, flush=True)


def mount(source, target, fstype=None, flags=0, data=None):
    trace("mount %s %s %s %#x %s" % (source, target, fstype, flags, data))
    rc = libc.mount(os.fsencode(source) if source else None, os.fsencode(target),
                    fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                    data.encode() if data else None)
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "host-init: mount %s on %s: %s" % (source, target, os.strerror(e)))


def bind(source, target, recursive=False):
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))


def remount_bind(target, rdonly):
    """`mount -o remount,bind,ro|rw`: the mount's other flags (nosuid, nodev, ...) stay as they are."""
    f = os.statvfs(target).f_flag
    keep = 0
    for st, ms in ST_TO_MS.items():
        if f & st and ms != MS_RDONLY:
            keep |= ms
    mount(None, target, None, MS_REMOUNT | MS_BIND | keep | (MS_RDONLY if rdonly else 0))


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == "'" and v[-1] == "'":
                v = v[1:-1].replace("'\\''", "'")
            env[k] = v
    return env


def read_mounts(path):
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                out.append(tuple(parts))
    return out


def load_symlink_helper(path):
    spec = importlib.util.spec_from_file_location("mount_symlink", path)
    if spec is None or spec.loader is None:
        raise OSError("host-init: cannot load the symlink helper %s" % path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m.mount_symlink


def main():
    os.chdir(sys.argv[1])
    os.umask(0o022)
    env = read_env("init.env")
    mounts = read_mounts("mounts")
    helper = [None]

    def bind_fake(kind, source, target):
        if kind in ("dir", "file"):
            bind(source, target)
        elif kind == "symlink":
            if helper[0] is None:
                helper[0] = load_symlink_helper(env["SYMLINK_HELPER"])
            trace("mount-symlink %s %s" % (source, target))
            helper[0](source, target)
        else:
            raise OSError("host-init: unknown mount kind %s" % kind)

    trace("hostname %s" % env["HOST"])
    socket.sethostname(env["HOST"])
    trace("ip -batch")
    subprocess.run(["ip", "-batch", "-"], check=True, input=(
        "link set lo up\naddr add %s/%s dev eth0\nlink set eth0 up\n" % (env["ADDRESS"], env["PREFIXLEN"])
    ).encode())

    # Global kernel knobs are not namespaced: make them read-only (per-netns /proc/sys/net stays writable).
    for d in ("/proc/sys/vm", "/proc/sys/kernel", "/proc/sys/fs", "/proc/sysrq-trigger"):
        if os.path.exists(d):
            bind(d, d)
            remount_bind(d, True)

    # The boot id: a file of the host's own over the kernel's, new on every (simulated) boot.
    write_boot_id()
    bind("boot_id", "/proc/sys/kernel/random/boot_id")

    # A host without an IPv6 stack (profile ipv6: false) has no /proc/sys/net/ipv6, as on a kernel booted
    # with ipv6.disable=1 (its /proc/net lacks if_inet6 & co.: the fake kernel's procnet leaves them
    # out). procfs cannot drop a directory, so /proc/sys/net becomes a directory holding binds of the
    # real entries but ipv6: the per-netns sysctls under core, ipv4, ... stay the live, writable ones.
    if env.get("IPV6", "1") == "0":
        shutil.rmtree("sysnet", ignore_errors=True)
        os.mkdir("sysnet")
        for n in sorted(os.listdir("/proc/sys/net")):
            if n == "ipv6":
                continue
            e = "/proc/sys/net/" + n
            if os.path.isdir(e):
                os.mkdir("sysnet/" + n)
            else:
                open("sysnet/" + n, "w").close()
            bind(e, "sysnet/" + n)
        bind("sysnet", "/proc/sys/net", recursive=True)

    # The fake hardware tree (and, for the opt-in real-hugepage host, the real 2 MB counters,
    # read-write). Targets under /run are bound after the private /run exists, through a descriptor of
    # FAKE_ROOT (it may be hidden by then when the state lives under an overmounted directory).
    fake = os.open(env["FAKE_ROOT"], os.O_RDONLY | os.O_DIRECTORY)
    for kind, src, target in mounts:
        if target.startswith("/run/"):
            continue
        if not os.path.lexists(target):
            print("host-init: %s does not exist on this machine; skipping bind of %s" % (target, src),
                  file=sys.stderr)
            continue
        bind_fake(kind, os.path.join(env["FAKE_ROOT"], src), target)
    if env.get("REAL_HUGEPAGES") == "1":
        # A bind copies the source mount's read-only flag: clear it on these two.
        bind("/sys/kernel/mm/hugepages", "/sys/kernel/mm/hugepages")
        bind("/proc/sys/vm/nr_hugepages", "/proc/sys/vm/nr_hugepages")
        remount_bind("/proc/sys/vm/nr_hugepages", False)
    remount_bind("/sys", True)

    # Private /usr (so /usr/local and /usr/lib/modules), /etc and /var: overlays on the real directories.
    # The machine's own kernels (/usr/lib/modules/<release>, headers in /usr/src) must not show through:
    # the host sees only its profile's kernel, so these two are opaque in the upper layer (overlayfs
    # hides the lower directory's entries; what the lab put in upper stays).
    for sub in ("usr/lib/modules", "usr/src"):
        os.makedirs("upper/" + sub, exist_ok=True)
        os.setxattr("upper/" + sub, "trusted.overlay.opaque", b"y")
    for d in ("usr", "etc", "var"):
        mount("lab-" + d, "/" + d, "overlay", 0, "lowerdir=/%s,upperdir=upper/%s,workdir=work/%s" % (d, d, d))
    # The opt-in shared compiler cache (CCACHE_BIND, a directory of the machine's, maybe under /root):
    # bound before /root is, while its path still resolves.
    if env.get("CCACHE_BIND"):
        os.makedirs("/var/cache/ccache", exist_ok=True)
        bind(env["CCACHE_BIND"], "/var/cache/ccache")
    for d in ("root", "opt", "home", "tmp"):
        bind(d, "/" + d)
    # Private /boot: the host's bootloader files (grub.cfg, written by the grub-mkconfig stand-in)
    os.makedirs("boot/grub", exist_ok=True)
    if os.path.isdir("/boot"):
        bind("boot", "/boot")
    else:
        print("host-init: this machine has no /boot; the host gets none", file=sys.stderr)
    os.chmod("/tmp", 0o1777)

    mount("lab-run", "/run", "tmpfs", 0, "mode=0755,size=64m")
    for d in ("/run/sshd", "/run/lock"):
        os.makedirs(d, exist_ok=True)
    os.chmod("/run/sshd", 0o755)
    for kind, src, target in mounts:
        if not target.startswith("/run/"):
            continue
        if kind == "dir":
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        bind_fake(kind, "/proc/self/fd/%d/%s" % (fake, src), target)
    os.close(fake)

    # Private /dev: the few nodes a server needs, its own devpts, shm.
    mount("lab-dev", "/dev", "tmpfs", 0, "mode=0755,size=16m")
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                               ("urandom", 1, 9), ("tty", 5, 0)):
        path = "/dev/" + name
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(path, 0o666)
    os.mkdir("/dev/pts", 0o755)
    os.mkdir("/dev/shm")
    os.chmod("/dev/shm", 0o1777)
    mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620")
    os.symlink("pts/ptmx", "/dev/ptmx")
    mount("lab-shm", "/dev/shm", "tmpfs", 0, "mode=1777,size=64m")
    for link, to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                     ("stderr", "/proc/self/fd/2")):
        os.symlink(to, "/dev/" + link)

    # LAB_SSHD_LOGLEVEL (from the environment of `up`, e.g. VERBOSE for the benchmark in bench/) makes
    # sshd log every connection and every session it starts ("Starting session: command ...") to init.log.
    args = ["/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config"]
    if os.environ.get("LAB_SSHD_LOGLEVEL"):
        args += ["-o", "LogLevel=" + os.environ["LAB_SSHD_LOGLEVEL"]]
    # the installer's package database at the first boot: a Debian-family host's dpkg status file holds
    # its profile's baseline packages (the /var overlay would otherwise show this machine's)
    if not os.path.exists("upper/var/lib/dpkg/status"):
        init_package_database()
    # the installer's update-grub: /boot/grub/grub.cfg from the host's /etc/default/grub
    if os.path.isdir("/boot/grub") and not os.path.exists("/boot/grub/grub.cfg"):
        subprocess.run(["/usr/local/sbin/grub-mkconfig", "-o", "/boot/grub/grub.cfg"], stderr=subprocess.DEVNULL)
    sys.stdout.flush()
    supervise(args)


def init_package_database():
    """fakepkg.init_status, loaded from the host's own copy of the stand-ins' library (no extra process)."""
    lib = "/usr/local/lib/lab"
    if not os.path.isfile(os.path.join(lib, "fakepkg.py")):
        return
    sys.path.insert(0, lib)
    try:
        import fakepkg  # noqa: E402  (the host's /usr/local/lib/lab/fakepkg.py)
        fakepkg.init_status()
    finally:
        sys.path.remove(lib)


def start_labd():
    """The stand-in daemon (test/lab/hostbin/lib/lab/labd.py): read-only stand-in calls (uname, modinfo,
    systemctl is-active, dpkg-query ...) run in its warm interpreter instead of a Python start each.
    Started at every boot (a reboot stops every process, the daemon too)."""
    labd = "/usr/local/lib/lab/labd.py"
    if os.path.isfile(labd) and os.path.isdir("/usr/local/lib/lab/py"):
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            os.setsid()
            os.execv("/usr/bin/python3", ["/usr/bin/python3", labd])


class Reboot(Exception):
    pass


REBOOTING = [False]


def on_sigint(_signum, _frame):
    if not REBOOTING[0]:
        REBOOTING[0] = True
        raise Reboot()


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def others():
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]


def stop_all():
    """Like systemd at shutdown: SIGTERM to every process, SIGKILL to what is left after a grace time."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        for pid in others():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline:
            reap()
            if not others():
                return
            time.sleep(0.05)


def write_boot_id():
    with open("boot_id", "w") as f:
        f.write(str(uuid.uuid4()) + "\n")


def grub_cmdline():
    """What GRUB passes for the default entry: BOOT_IMAGE=<image> and the `linux` line's arguments."""
    try:
        with open("/boot/grub/grub.cfg") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "linux":
                    return " ".join(["BOOT_IMAGE=" + parts[1]] + parts[2:])
    except OSError:
        pass
    return None


def mountpoints_under(root):
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4]
            if target.startswith(root + "/"):
                out.add(target[len(root) + 1:].split("/")[0])
    return out


def clear_run():
    """/run is a tmpfs on a real host: empty after a boot (the lab's own mounts under it stay)."""
    keep = mountpoints_under("/run") | {"sshd", "lock"}
    for name in os.listdir("/run"):
        if name in keep:
            continue
        p = "/run/" + name
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass


def boot_again():
    clear_run()
    write_boot_id()
    cmdline = grub_cmdline()
    if cmdline is None:
        with open("/proc/cmdline") as f:
            cmdline = f.read().strip()
    fd = os.open("/run/fakekernel/kernel/ctl", os.O_WRONLY)
    try:
        os.write(fd, ("reboot " + cmdline + "\n").encode())
    finally:
        os.close(fd)
    with open("boots", "a") as f:
        f.write("%f %s\n" % (time.time(), cmdline))


def start_enabled_units():
    """What systemd starts at boot: the units enabled into multi-user.target."""
    wants = "/etc/systemd/system/multi-user.target.wants"
    units = sorted(os.listdir(wants)) if os.path.isdir(wants) else []
    if units:
        subprocess.Popen(["/usr/local/bin/systemctl", "start"] + units, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def supervise(args):
    signal.signal(signal.SIGINT, on_sigint)
    booted_before = False
    while True:
        REBOOTING[0] = False
        try:
            start_labd()
            subprocess.Popen(args)
            if booted_before:
                start_enabled_units()
            while True:
                try:
                    os.wait()
                except ChildProcessError:
                    time.sleep(0.5)
        except Reboot:
            pass
        trace("reboot")
        stop_all()
        if os.path.exists("no-return"):
            trace("no-return: staying down")
            while True:
                reap()
                time.sleep(1)
        time.sleep(float(os.environ.get("LAB_REBOOT_DOWN_S", "1")))
        boot_again()
        booted_before = True


if __name__ == "__main__":
    main()
