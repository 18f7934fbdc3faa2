"""Shared helpers of the lab's fake host tools (they run inside lab hosts only).

Test hooks (lab-only): LAB_ROOT prefixes every host path (/etc, /var, /run, /usr/lib/modules),
LAB_PROFILE names the profile JSON, FAKEKERNEL_ROOT is the host's fake-kernel dir (default
/run/fakekernel/kernel, i.e. <fake-kernel mount>/<host>: its ctl, proc/modules and sys/module).
"""
import errno
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("LAB_ROOT", "").rstrip("/")
KROOT = os.environ.get("FAKEKERNEL_ROOT", "/run/fakekernel/kernel").rstrip("/")

# module -> modules it needs (must match test/lab/fakekernel/kernel.py DEPS)
DEPS = {
    "igb_uio": ["uio"],
    "uio_pci_generic": ["uio"],
    "vfio_pci": ["vfio", "vfio_iommu_type1"],
    "vfio_iommu_type1": ["vfio"],
}
SIGNATURE_MAGIC = b"~Module signature appended~\n"


def host_path(p):
    return ROOT + p


def kernel_path(p):
    """/proc/... or /sys/... as the fake kernel serves them (the host's own /proc/modules may not exist)."""
    return KROOT + p


def ctl_path():
    return KROOT + "/ctl"


_profile = None


def profile():
    global _profile
    if _profile is None:
        path = os.environ.get("LAB_PROFILE") or os.path.join(HERE, "..", "..", "share", "lab", "profile.json")
        with open(path) as f:
            _profile = json.load(f)
    return _profile


def kernel_release():
    return profile()["kernel"]


def norm(name):
    return name.replace("-", "_")


def ctl(command):
    """One command to the fake kernel; raises OSError with the kernel's errno."""
    fd = os.open(ctl_path(), os.O_WRONLY)
    try:
        os.write(fd, (command + "\n").encode())
    finally:
        os.close(fd)


def loaded_modules():
    """[(name, size, refcnt, [holders])] in /proc/modules order (most recent first)."""
    out = []
    try:
        with open(kernel_path("/proc/modules")) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 4:
                    continue
                holders = [h for h in parts[3].split(",") if h and h != "-"]
                out.append((parts[0], int(parts[1]), int(parts[2]), holders))
    except FileNotFoundError:
        pass
    return out


def is_loaded(name):
    return any(m[0] == norm(name) for m in loaded_modules())


def is_builtin(name):
    d = kernel_path("/sys/module/" + norm(name))
    return os.path.isdir(d) and not os.path.exists(os.path.join(d, "initstate"))


def modules_dirs():
    k = kernel_release()
    return [host_path("/lib/modules/" + k), host_path("/usr/lib/modules/" + k)]


def find_ko(name):
    """An installed NAME.ko under /lib/modules/<kernel> (e.g. after `make modules_install`)."""
    wanted = {norm(name) + ".ko", name + ".ko"}
    for base in modules_dirs():
        for dirpath, _, files in os.walk(base):
            if "/build" in dirpath[len(base):] or "/source" in dirpath[len(base):]:
                continue
            for f in files:
                if f in wanted:
                    return os.path.join(dirpath, f)
    return None


def available(name):
    mods = profile().get("availableModules", {})
    return norm(name) in {norm(m) for m in mods} or find_ko(name) is not None


def ko_info(path):
    """modinfo-style fields embedded in a .ko (NUL-separated key=value strings)."""
    with open(path, "rb") as f:
        data = f.read()
    info = {}
    for chunk in data.split(b"\0"):
        for key in (b"vermagic=", b"name=", b"license=", b"description=", b"version=", b"author=",
                    b"depends=", b"srcversion="):
            idx = chunk.find(key)
            if idx == 0 or (idx > 0 and key == b"vermagic="):
                k = key[:-1].decode()
                info.setdefault(k, chunk[idx + len(key):].decode("utf-8", "replace"))
    info["signed"] = data.endswith(SIGNATURE_MAGIC)
    return info


def modprobe_options(name):
    """`options NAME k=v ...` lines from /etc/modprobe.d/*.conf, in file order."""
    params = []
    d = host_path("/etc/modprobe.d")
    try:
        files = sorted(f for f in os.listdir(d) if f.endswith(".conf"))
    except FileNotFoundError:
        return params
    for f in files:
        with open(os.path.join(d, f)) as fh:
            for line in fh:
                words = line.split("#", 1)[0].split()
                if len(words) >= 2 and words[0] == "options" and norm(words[1]) == norm(name):
                    params += words[2:]
    return params


def log(tool, argv):
    """What was called, for tests: /var/log/fakekernel/calls.log."""
    d = host_path("/var/log/fakekernel")
    try:
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "calls.log"), "a") as f:
            f.write(" ".join([tool] + list(argv)) + "\n")
    except OSError:
        pass


def errno_text(e):
    if e.errno == errno.ENOENT:
        return "Unknown symbol in module, or unknown parameter (see dmesg)"
    if e.errno == errno.EEXIST:
        return "File exists"
    return os.strerror(e.errno or errno.EIO)


def die(msg, code=1):
    print(msg, file=sys.stderr)
    sys.exit(code)
