"""The lab's package manager stand-ins (apt-get, dpkg, dpkg-query, yum, dnf, rpm).

They never install anything into /usr. On a Debian-family host the package database is dpkg's own
status file, /var/lib/dpkg/status, in dpkg's format (one stanza per package: Package, Status, Version,
...; lib/dpkg/parse.c and dump.c of dpkg 1.21.23): the probe reads that file itself, as it does on a
real host, so the stand-ins answer from it and write it. `init_status` writes the fresh host's baseline
at its first boot (test/lab/host-init.py). On an RPM-family host an install is recorded in
/var/lib/fakepkg/installed.json. The one real effect: installing the kernel headers package of
profile.installablePackages creates /usr/lib/modules/<ver>/build with the fake kbuild.
"""
import json
import os
import shutil
import sys

import fakelab as L

HERE = os.path.dirname(os.path.abspath(__file__))
DEB_FAMILY = ("debian12", "ubuntu22")
RECORD = "/var/lib/fakepkg/installed.json"
DPKG_STATUS = "/var/lib/dpkg/status"
# dpkg Status values of an installed package: "WANT EFLAG STATE" (held packages are installed too)
DPKG_INSTALLED = ("install ok installed", "hold ok installed")

BASE_DEB = ["bash", "coreutils", "libc6", "dpkg", "apt", "systemd", "openssh-server", "openssh-client", "iproute2",
            "kmod", "procps", "python3", "tar", "gzip", "xz-utils", "sudo", "util-linux", "findutils", "grep",
            "sed", "ca-certificates", "curl"]
BASE_RPM = ["bash", "coreutils", "glibc", "rpm", "systemd", "openssh-server", "openssh-clients", "iproute", "kmod",
            "procps-ng", "python3", "tar", "gzip", "xz", "sudo", "util-linux", "findutils", "grep", "sed",
            "ca-certificates", "curl"]
CATALOG_DEB = BASE_DEB + [
    "gcc", "g++", "make", "build-essential", "pkg-config", "pkgconf", "automake", "autoconf", "libtool", "patch",
    "meson", "ninja-build", "python3-pyelftools", "python3-pip", "libnuma-dev", "numactl", "libssl-dev",
    "libpopt-dev", "libnl-3-dev", "libnl-genl-3-dev", "libnl-route-3-dev", "libpcap-dev", "libsystemd-dev", "pciutils", "ethtool",
    "wget", "git", "unzip", "bzip2", "hwloc", "dpdk", "dpdk-dev", "driverctl", "libelf-dev", "zlib1g-dev",
    "linux-headers-amd64", "linux-headers-generic", "dkms", "keepalived", "ipvsadm", "nginx", "iperf3", "tcpdump",
]
CATALOG_RPM = BASE_RPM + [
    "gcc", "gcc-c++", "make", "pkgconf", "pkgconf-pkg-config", "pkgconfig", "automake", "autoconf", "libtool",
    "patch", "meson", "ninja-build", "python3-pyelftools", "python3-pip", "python36", "numactl-devel", "numactl",
    "openssl-devel", "popt-devel", "libnl3-devel", "libpcap-devel", "systemd-devel", "libpcap", "pciutils", "ethtool", "wget", "git",
    "unzip", "bzip2", "hwloc", "elfutils-libelf-devel", "zlib-devel", "kernel-devel", "kernel-headers",
    "epel-release", "dnf-plugins-core", "yum-utils", "keepalived", "ipvsadm", "nginx", "iperf3", "tcpdump",
]


def os_id():
    return L.profile()["os"]


def is_deb():
    return os_id() in DEB_FAMILY


def headers_prefix():
    return "linux-headers-" if is_deb() else "kernel-devel-"


def read_status():
    """name -> (status, version) of every stanza in dpkg's status file, field names case-insensitive
    and values trimmed as dpkg's parser does (lib/dpkg/parse.c:636-723)."""
    out = {}
    try:
        with open(L.host_path(DPKG_STATUS)) as f:
            text = f.read()
    except OSError:
        return out
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.split("\n"):
            if not line or line[0] in " \t" or ":" not in line:
                continue
            name, value = line.split(":", 1)
            fields[name.rstrip().lower()] = value.strip()
        if fields.get("package"):
            out.setdefault(fields["package"], (fields.get("status", ""), fields.get("version", "")))
    return out


def write_status(pkgs):
    """dpkg's status file for name -> version, every one "install ok installed", written as dpkg writes
    it (writedb: a temporary file renamed over the old; stanzas in name order, a blank line after each)."""
    path = L.host_path(DPKG_STATUS)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + "-new"
    with open(tmp, "w") as f:
        for name in sorted(pkgs):
            f.write("Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\n"
                    "Maintainer: dpvs-deploy lab <lab@localhost>\nArchitecture: amd64\nVersion: %s\n"
                    "Description: %s (lab package)\n\n" % (name, pkgs[name], name))
    os.replace(tmp, path)


def baseline():
    """name -> version of what a fresh host of this profile has installed."""
    out = {n: version_of(n) for n in (BASE_DEB if is_deb() else BASE_RPM)}
    prof = L.profile()
    if prof.get("kernelHeaders"):
        out[headers_prefix() + prof["kernel"]] = prof["kernel"]
    return out


def init_status():
    """A Debian-family host's first boot: its status file is the baseline (not this machine's, which the
    /var overlay would show through)."""
    if is_deb():
        write_status(baseline())


def record():
    """name -> version of what a Debian-family host's status file lists as installed (every package), else
    what was installed after the baseline (the JSON record)."""
    if is_deb():
        if not os.path.exists(L.host_path(DPKG_STATUS)):
            return baseline()  # a host tree the lab never booted (hostbin tests under LAB_ROOT)
        return {n: v for n, (st, v) in read_status().items() if st in DPKG_INSTALLED}
    try:
        with open(L.host_path(RECORD)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save(rec):
    if is_deb():
        write_status(rec)
        return
    path = L.host_path(RECORD)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rec, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def version_of(name):
    if name.startswith(headers_prefix()):
        return name[len(headers_prefix()):]
    return "1.0-1" if is_deb() else "1.0-1.el9"


def installed():
    """name -> version of every installed package: a Debian-family host's status file (written with the
    baseline at its first boot), else the baseline and the JSON record."""
    if is_deb():
        return record()
    out = baseline()
    out.update(record())
    return out


def resolve(name):
    """The package an install request names, or None when the repositories have no such package."""
    base = name.split("=", 1)[0]
    installable = L.profile().get("installablePackages", [])
    if base in installable:
        return base
    if base.endswith((".x86_64", ".noarch")):
        base = base.rsplit(".", 1)[0]
    if base in installable:
        return base
    if base.startswith(("linux-headers-", "kernel-devel-")) and base not in ("linux-headers-amd64",
                                                                            "linux-headers-generic"):
        return None  # a headers package for another kernel: not in the repositories
    if base in ("linux-headers-amd64", "linux-headers-generic", "kernel-devel", "kernel-headers"):
        family = [p for p in installable if p.startswith(headers_prefix())]
        if base != "kernel-headers" and family:
            return family[0]
    catalog = CATALOG_DEB if is_deb() else CATALOG_RPM
    return base if base in catalog else None


def apply_install(pkgs):
    rec = record()
    for p in pkgs:
        rec[p] = version_of(p)
        if p.startswith(headers_prefix()) and p in L.profile().get("installablePackages", []):
            make_build_dir(version_of(p))
    save(rec)


def apply_remove(pkgs):
    rec = record()
    for p in pkgs:
        rec.pop(p, None)
    save(rec)


def make_build_dir(kernel):
    build = L.host_path("/usr/lib/modules/%s/build" % kernel)
    os.makedirs(build, exist_ok=True)
    shutil.copyfile(os.path.join(HERE, "..", "..", "share", "lab", "kbuild.mk"), os.path.join(build, "Makefile"))
    with open(os.path.join(build, "kernel.release"), "w") as f:
        f.write(kernel + "\n")


def not_this_os(tool):
    """A package tool that this host's distribution does not have."""
    print("bash: %s: command not found" % tool, file=sys.stderr)
    sys.exit(127)


def split_args(argv):
    return [a for a in argv if a.startswith("-")], [a for a in argv if not a.startswith("-")]
