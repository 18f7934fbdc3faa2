"""The fake kernel's model of one lab host: PCI driver binding, modules and hugepage counters.

The host's backing tree (written by writeHostTree in index.ts) is the truth for what `ls`, `readlink`
and `cat` see; state.json next to it holds what is not a file (module load order, dynamic PCI ids,
hugepage counters). Every method applies one kernel operation synchronously and raises OSError with
the errno the real kernel returns.
"""
import errno
import json
import os
import shutil

RESERVE_MB = 512  # memory per node the kernel never gives to hugepages
SIZES_KB = (2048, 1048576)
DPDK_DRIVERS = ("igb_uio", "uio_pci_generic", "vfio-pci")

# module -> modules it needs loaded first (kernel symbol dependencies, simplified)
DEPS = {
    "igb_uio": ["uio"],
    "uio_pci_generic": ["uio"],
    "vfio_pci": ["vfio", "vfio_iommu_type1"],
    "vfio_iommu_type1": ["vfio"],
}
# PCI driver each known module registers (profile.availableModules may add more)
PCI_DRIVER = {
    "igb_uio": "igb_uio",
    "uio_pci_generic": "uio_pci_generic",
    "vfio_pci": "vfio-pci",
    "ixgbe": "ixgbe",
    "i40e": "i40e",
    "mlx5_core": "mlx5_core",
    "virtio_pci": "virtio-pci",
}
OUT_OF_TREE = ("igb_uio", "rte_kni", "toa", "uoa")
SIZES = {"ixgbe": 380928, "i40e": 528384, "mlx5_core": 2117632, "uio": 20480, "uio_pci_generic": 16384,
         "igb_uio": 20480, "vfio": 45056, "vfio_iommu_type1": 45056, "vfio_pci": 16384, "rte_kni": 49152,
         "toa": 20480, "uoa": 36864}
DEFAULT_PARAMS = {
    "igb_uio": {"intr_mode": "(null)", "wc_activate": "0"},
    "rte_kni": {"carrier": "(null)", "kthread_mode": "(null)", "lo_mode": "(null)", "enable_bifurcated": "(null)"},
    "vfio": {"enable_unsafe_noiommu_mode": "N"},
    "vfio_pci": {"ids": "", "nointxmask": "N", "disable_vga": "N", "disable_idle_d3": "N", "enable_sriov": "N",
                 "disable_denylist": "N"},
    "uoa": {"uoa_debug": "0", "uoa_map_timeout": "360", "uoa_map_tab_bits": "12", "uoa_hook_forward": "0"},
}
STATS_FILES = {"toa": ["toa_stats"], "uoa": ["uoa_stats", "uoa_stats_percpu"]}
TOA_STATS = ["syn_recv_sock_toa", "syn_recv_sock_no_toa", "getname_toa_ok", "getname_toa_mismatch",
             "getname_toa_bypass", "getname_toa_empty", "ip6_address_alloc", "ip6_address_free"]
UOA_STATS = ["rcvd", "miss", "invalid", "saved", "ack", "miss", "invalid", "saved", "lookup", "miss_lookup"]


def _err(code):
    return OSError(code, os.strerror(code))


def norm_module(name):
    return name.replace("-", "_")


class Host:
    def __init__(self, root):
        self.root = root
        with open(os.path.join(root, "profile.json")) as f:
            self.profile = json.load(f)
        with open(os.path.join(root, "state.json")) as f:
            self.state = json.load(f)
        self.nics = {n["pci"]: n for n in self.profile["nics"]}
        if not self.state.get("booted"):
            self.boot()

    def boot(self):
        """What the kernel did at boot: built-in and NIC driver modules, each NIC on its kernel driver."""
        for mod in self.state.get("builtin", []):
            write_module_dir(self.p("sys/module/" + mod), mod, {}, refcnt=0, builtin=True)
            drv = self.pci_drivers().get(mod)
            if drv:
                write_driver_dir(self.p(self.drv(drv)), mod, drv)
        boot_modules = self.state.pop("bootModules", [])
        self.state["bootModulesAll"] = list(boot_modules)
        for mod in boot_modules:
            self.load(mod, {})
        for bdf, nic in self.nics.items():
            if self.driver_of(bdf) is None:
                self.bind(nic["driver"], bdf)
        self.state["booted"] = True
        self.save()

    def reboot(self, cmdline):
        """A power cycle into a kernel booted with `cmdline` (what the host's bootloader passed): every
        module but the boot-time ones gone, NICs back on their kernel drivers, no driver_override or
        dynamic id, hugepages only as the command line reserves them (Documentation/admin-guide/mm/
        hugetlbpage.rst: hugepagesz=X hugepages=N pairs, default_hugepagesz=; boot-time pages are spread
        round-robin over the nodes), the IOMMU groups present iff intel_iommu=on, isolcpus= in
        /sys/devices/system/cpu/isolated, and /proc/cmdline as given."""
        tokens = cmdline.split()
        self.state["inUse"] = {}
        self.state["hugeUsed"] = {}
        for bdf in self.nics:
            path = self.p(self.dev(bdf) + "/driver_override")
            if os.path.exists(path):
                write_file(path, "(null)\n")
        for mod in reversed(self.loaded()):
            self.unload(mod)
        self.state["dynids"] = {}
        for mod in self.state.get("bootModulesAll", []):
            if mod not in self.loaded():
                self.load(mod, {})
        for bdf, nic in self.nics.items():
            if self.driver_of(bdf) is None and self.driver_exists(nic["driver"]):
                self.bind(nic["driver"], bdf)
        nodes = len(self.counts(2048))
        for size in SIZES_KB:
            self.state["hugepages"][str(size)] = [0] * nodes

        def size_kb(text):
            unit = text[-1:].upper()
            mult = {"K": 1, "M": 1024, "G": 1048576}.get(unit)
            try:
                return int(text[:-1]) * mult if mult else int(text) // 1024
            except ValueError:
                return None

        default = 2048
        for t in tokens:
            if t.startswith("default_hugepagesz="):
                default = size_kb(t.split("=", 1)[1]) or default
        self.state["defaultHugeKb"] = default
        cur = default
        for t in tokens:
            k, _, v = t.partition("=")
            if k == "hugepagesz":
                cur = size_kb(v) or cur
            elif k == "hugepages" and v.isdigit() and cur in SIZES_KB:
                self.set_global_pages(cur, int(v))
        iommu = any(t.startswith("intel_iommu=") and "on" in t.split("=", 1)[1].split(",") for t in tokens)
        groups = self.p("sys/kernel/iommu_groups")
        for name in os.listdir(groups):
            shutil.rmtree(os.path.join(groups, name))
        for i, nic in enumerate(self.profile["nics"]):
            link = self.p(self.dev(nic["pci"]) + "/iommu_group")
            if os.path.lexists(link):
                os.unlink(link)
            if iommu:
                os.symlink("../../../kernel/iommu_groups/%d" % i, link)
                g = os.path.join(groups, str(i))
                os.makedirs(os.path.join(g, "devices"))
                os.symlink("../../../../devices/pci0000:00/" + nic["pci"], os.path.join(g, "devices", nic["pci"]))
                write_file(os.path.join(g, "type"), "DMA\n")
                write_file(os.path.join(g, "reserved_regions"), "0x00000000fee00000 0x00000000feefffff msi\n")
        isolated = []
        for t in tokens:
            if t.startswith("isolcpus="):
                isolated = cpu_list([p for p in t.split("=", 1)[1].split(",") if p[:1].isdigit()])
        write_file(self.p("sys/devices/system/cpu/isolated"), cpu_text(isolated) + "\n")
        write_file(self.p("proc/cmdline"), cmdline + "\n")
        self.save()

    # ---- helpers ---------------------------------------------------------------------------
    def p(self, rel):
        return os.path.join(self.root, rel)

    def save(self):
        tmp = self.p("state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.p("state.json"))

    def dev(self, bdf):
        return "sys/devices/pci0000:00/" + bdf

    def drv(self, name):
        return "sys/bus/pci/drivers/" + name

    def driver_of(self, bdf):
        link = self.p(self.dev(bdf) + "/driver")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def driver_exists(self, name):
        return os.path.isdir(self.p(self.drv(name)))

    def override_of(self, bdf):
        with open(self.p(self.dev(bdf) + "/driver_override")) as f:
            v = f.read().strip()
        return None if v in ("", "(null)") else v

    def matches(self, drv, bdf):
        nic = self.nics[bdf]
        override = self.override_of(bdf)
        if override is not None:
            return override == drv
        ids = {(nic["vendor"], nic["device"])} if nic["driver"] == drv else set()
        ids |= {tuple(x) for x in self.state["dynids"].get(drv, [])}
        return (nic["vendor"], nic["device"]) in ids

    def module_of_driver(self, drv):
        for mod, d in self.pci_drivers().items():
            if d == drv:
                return mod
        return None

    def pci_drivers(self):
        out = dict(PCI_DRIVER)
        for mod, d in self.profile.get("availableModules", {}).items():
            if d:
                out[norm_module(mod)] = d
        return out

    # ---- PCI -------------------------------------------------------------------------------
    def bind(self, drv, bdf, probing=False):
        if bdf not in self.nics or not self.driver_exists(drv):
            raise _err(errno.ENODEV)
        if self.driver_of(bdf) is not None:
            raise _err(errno.EBUSY)
        if not self.matches(drv, bdf):
            raise _err(errno.ENODEV)
        if drv == "vfio-pci" and not self.profile["iommu"]:
            raise _err(errno.EINVAL)  # vfio-pci probe: no IOMMU group
        os.symlink("../../../bus/pci/drivers/" + drv, self.p(self.dev(bdf) + "/driver"))
        os.symlink("../../../../devices/pci0000:00/" + bdf, self.p(self.drv(drv) + "/" + bdf))
        nic = self.nics[bdf]
        if drv == nic["driver"]:
            write_netdev(self.p(self.dev(bdf)), nic, list(self.nics).index(bdf) + 2)

    def unbind(self, drv, bdf):
        if bdf not in self.nics or self.driver_of(bdf) != drv:
            raise _err(errno.ENODEV)
        os.unlink(self.p(self.dev(bdf) + "/driver"))
        os.unlink(self.p(self.drv(drv) + "/" + bdf))
        shutil.rmtree(self.p(self.dev(bdf) + "/net"), ignore_errors=True)

    def probe(self, bdf, only=None):
        """drivers_probe: attach an unbound device to the first driver that matches (or only to `only`,
        as driver registration and new_id do)."""
        if bdf not in self.nics:
            raise _err(errno.ENODEV)
        if self.driver_of(bdf) is not None:
            return
        drivers = [only] if only else sorted(os.listdir(self.p("sys/bus/pci/drivers")))
        for drv in drivers:
            if self.matches(drv, bdf):
                try:
                    self.bind(drv, bdf)
                    return
                except OSError:
                    continue  # a failing probe leaves the device unbound, as in the kernel

    def probe_all(self, only):
        for bdf in self.nics:
            self.probe(bdf, only)

    @staticmethod
    def parse_id(text):
        parts = text.split()
        if len(parts) < 2:
            raise _err(errno.EINVAL)
        try:
            v, d = (int(x, 16) for x in parts[:2])
        except ValueError:
            raise _err(errno.EINVAL)
        return ["%04x" % v, "%04x" % d]

    def new_id(self, drv, text):
        pair = self.parse_id(text)
        ids = self.state["dynids"].setdefault(drv, [])
        if pair in ids:
            raise _err(errno.EEXIST)
        ids.append(pair)
        self.save()
        self.probe_all(drv)

    def remove_id(self, drv, text):
        pair = self.parse_id(text)
        ids = self.state["dynids"].get(drv, [])
        if pair not in ids:
            raise _err(errno.ENODEV)
        ids.remove(pair)
        self.save()

    def set_override(self, bdf, text):
        value = text.split("\0", 1)[0].rstrip("\n")
        if len(value) >= 4096:
            raise _err(errno.EINVAL)
        with open(self.p(self.dev(bdf) + "/driver_override"), "w") as f:
            f.write((value or "(null)") + "\n")

    # ---- hugepages -------------------------------------------------------------------------
    def counts(self, size):
        return self.state["hugepages"][str(size)]

    def capacity(self, size, node):
        avail_kb = (self.profile["memPerNodeMb"] - RESERVE_MB) * 1024
        for other in SIZES_KB:
            if other != size:
                avail_kb -= self.counts(other)[node] * other
        return max(0, avail_kb // size)

    def set_node_pages(self, size, node, n):
        self.counts(size)[node] = max(0, min(n, self.capacity(size, node)))
        self.save()

    def set_global_pages(self, size, n):
        """Like the kernel: allocate round-robin over the nodes until done or full; free round-robin."""
        counts = self.counts(size)
        nodes = range(len(counts))
        while sum(counts) < n:
            grew = False
            for node in nodes:
                if sum(counts) < n and counts[node] < self.capacity(size, node):
                    counts[node] += 1
                    grew = True
            if not grew:
                break
        while sum(counts) > max(n, 0):
            for node in sorted(nodes, key=lambda x: -counts[x]):
                if sum(counts) > n and counts[node] > 0:
                    counts[node] -= 1
        self.save()

    def free_pages(self, size, node):
        used = self.state.get("hugeUsed", {}).get(str(size), [0] * len(self.counts(size)))[node]
        return max(0, self.counts(size)[node] - used)

    # ---- modules ---------------------------------------------------------------------------
    def loaded(self):
        return [m["name"] for m in self.state["modules"]]

    def holders(self, mod):
        return [m for m in self.loaded() if mod in DEPS.get(m, [])]

    def load(self, name, params):
        mod = norm_module(name)
        if mod in self.loaded() or mod in self.state.get("builtin", []):
            raise _err(errno.EEXIST)
        if any(dep not in self.loaded() for dep in DEPS.get(mod, [])):
            raise _err(errno.ENOENT)  # insmod: Unknown symbol in module
        if mod == "toa" and not self.profile.get("ipv6", True):
            raise _err(errno.EPERM)  # toa: "get ipv6 struct from kernel fail"
        values = dict(DEFAULT_PARAMS.get(mod, {}))
        values.update(params)
        self.state["modules"].append({"name": mod, "size": SIZES.get(mod, 16384), "params": values})
        self.save()
        write_module_dir(self.p("sys/module/" + mod), mod, values, refcnt=0, builtin=False)
        for dep in DEPS.get(mod, []):
            self.refresh_refcnt(dep)
            os.symlink("../../" + mod, self.p("sys/module/%s/holders/%s" % (dep, mod)))
        drv = self.pci_drivers().get(mod)
        if drv:
            write_driver_dir(self.p(self.drv(drv)), mod, drv)
            if mod == "vfio_pci" and values.get("ids"):
                for pair in values["ids"].split(","):
                    self.state["dynids"].setdefault(drv, []).append(self.parse_id(pair.replace(":", " ")))
                self.save()
            self.probe_all(drv)

    def unload(self, name):
        mod = norm_module(name)
        if mod in self.state.get("builtin", []):
            raise _err(errno.EPERM)
        if mod not in self.loaded():
            raise _err(errno.ENOENT)
        if self.holders(mod) or self.state.get("inUse", {}).get(mod):
            raise _err(errno.EBUSY)
        drv = self.pci_drivers().get(mod)
        if drv and self.driver_exists(drv):
            for bdf in self.nics:
                if self.driver_of(bdf) == drv:
                    self.unbind(drv, bdf)
            shutil.rmtree(self.p(self.drv(drv)))
            self.state["dynids"].pop(drv, None)
        self.state["modules"] = [m for m in self.state["modules"] if m["name"] != mod]
        self.save()
        shutil.rmtree(self.p("sys/module/" + mod))
        for dep in DEPS.get(mod, []):
            try:
                os.unlink(self.p("sys/module/%s/holders/%s" % (dep, mod)))
            except FileNotFoundError:
                pass
            self.refresh_refcnt(dep)

    def refresh_refcnt(self, mod):
        path = self.p("sys/module/%s/refcnt" % mod)
        if os.path.exists(path):
            with open(path, "w") as f:
                f.write("%d\n" % len(self.holders(mod)))

    def stats_files(self):
        out = []
        for mod in self.loaded():
            out += STATS_FILES.get(mod, [])
        return out

    # ---- generated files -------------------------------------------------------------------
    def proc_modules(self):
        lines = []
        for m in reversed(self.state["modules"]):
            hold = self.holders(m["name"])
            users = ",".join(hold) + "," if hold else "-"
            taint = " (OE)" if m["name"] in OUT_OF_TREE else ""
            lines.append("%s %d %d %s Live 0x0000000000000000%s\n" % (m["name"], m["size"], len(hold), users, taint))
        return "".join(lines)

    def huge_kb(self):
        return sum(sum(self.counts(s)) * s for s in SIZES_KB)

    def meminfo(self):
        prof = self.profile
        total = prof["numaNodes"] * prof["memPerNodeMb"] * 1024
        huge = self.huge_kb()
        used = 600 * 1024 * prof["numaNodes"]
        free = max(0, total - huge - used)
        avail = max(0, free + 200 * 1024)
        dflt = self.state.get("defaultHugeKb", 2048)
        n2 = sum(self.counts(dflt))
        f2 = sum(self.free_pages(dflt, n) for n in range(prof["numaNodes"]))
        rows = [("MemTotal", total), ("MemFree", free), ("MemAvailable", avail), ("Buffers", 20480),
                ("Cached", 204800), ("SwapCached", 0), ("Active", 153600), ("Inactive", 102400),
                ("Active(anon)", 61440), ("Inactive(anon)", 0), ("Active(file)", 92160),
                ("Inactive(file)", 102400), ("Unevictable", 0), ("Mlocked", 0), ("SwapTotal", 0),
                ("SwapFree", 0), ("Zswap", 0), ("Zswapped", 0), ("Dirty", 12), ("Writeback", 0),
                ("AnonPages", 61440), ("Mapped", 40960), ("Shmem", 1024), ("KReclaimable", 30720),
                ("Slab", 61440), ("SReclaimable", 30720), ("SUnreclaim", 30720), ("KernelStack", 4096),
                ("PageTables", 2048), ("SecPageTables", 0), ("NFS_Unstable", 0), ("Bounce", 0),
                ("WritebackTmp", 0), ("CommitLimit", (total - huge) // 2), ("Committed_AS", 409600),
                ("VmallocTotal", 34359738367), ("VmallocUsed", 20480), ("VmallocChunk", 0),
                ("Percpu", 2048), ("HardwareCorrupted", 0), ("AnonHugePages", 0), ("ShmemHugePages", 0),
                ("ShmemPmdMapped", 0), ("FileHugePages", 0), ("FilePmdMapped", 0)]
        out = "".join("%-15s %8d kB\n" % (k + ":", v) for k, v in rows)
        out += "HugePages_Total: %5d\nHugePages_Free:  %5d\nHugePages_Rsvd:  %5d\nHugePages_Surp:  %5d\n" % (
            n2, f2, 0, 0)
        out += "Hugepagesize:   %8d kB\nHugetlb:        %8d kB\n" % (dflt, huge)
        out += "DirectMap4k:      106496 kB\nDirectMap2M:     %8d kB\n" % (total - 106496)
        return out

    def node_meminfo(self, node):
        total = self.profile["memPerNodeMb"] * 1024
        huge = sum(self.counts(s)[node] * s for s in SIZES_KB)
        free = max(0, total - huge - 600 * 1024)
        rows = [("MemTotal", total), ("MemFree", free), ("MemUsed", total - free), ("SwapCached", 0),
                ("Active", 153600), ("Inactive", 102400), ("Dirty", 0), ("Writeback", 0), ("FilePages", 204800),
                ("Mapped", 40960), ("AnonPages", 61440), ("Shmem", 1024), ("KernelStack", 4096),
                ("PageTables", 2048), ("Slab", 61440), ("SReclaimable", 30720), ("SUnreclaim", 30720),
                ("AnonHugePages", 0)]
        out = "".join("Node %d %-15s %8d kB\n" % (node, k + ":", v) for k, v in rows)
        out += "Node %d HugePages_Total: %5d\nNode %d HugePages_Free:  %5d\nNode %d HugePages_Surp:  %5d\n" % (
            node, self.counts(2048)[node], node, self.free_pages(2048, node), node, 0)
        return out

    def stats_text(self, name):
        cpus = self.profile["numaNodes"] * self.profile["cpusPerNode"] * (2 if self.profile["smt"] else 1)
        names = TOA_STATS if name.startswith("toa") else UOA_STATS
        head = " " * 26 + "".join("CPU%-8d" % i for i in range(cpus)) + "\n"
        return head + "".join("%-25s:" % n + "%-10d " % 0 * cpus + "\n" for n in names)


def cpu_list(parts):
    out = set()
    for part in parts:
        a, _, b = part.partition("-")
        if a.isdigit() and (not b or b.isdigit()):
            out.update(range(int(a), int(b or a) + 1))
    return sorted(out)


def cpu_text(cpus):
    """The kernel's %*pbl form: 1-3,11."""
    out, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else "%d-%d" % (cpus[i], cpus[j]))
        i = j + 1
    return ",".join(out)


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def write_netdev(devdir, nic, ifindex):
    """The net/<ifname> directory a kernel NIC driver creates when it binds."""
    d = os.path.join(devdir, "net", nic["ifname"])
    os.makedirs(d, exist_ok=True)
    up = nic.get("management", False)
    for name, value in (("address", nic["mac"]), ("operstate", "up" if up else "down"), ("mtu", "1500"),
                        ("type", "1"), ("ifindex", str(ifindex)), ("addr_len", "6"),
                        ("broadcast", "ff:ff:ff:ff:ff:ff"), ("tx_queue_len", "1000"),
                        ("flags", "0x1003" if up else "0x1002"), ("dev_id", "0x0"),
                        ("carrier", "1" if up else "0")):
        write_file(os.path.join(d, name), value + "\n")
    os.symlink("../../../" + os.path.basename(devdir), os.path.join(d, "device"))


def write_module_dir(d, mod, params, refcnt, builtin):
    os.makedirs(os.path.join(d, "parameters"), exist_ok=True)
    if not builtin:
        os.makedirs(os.path.join(d, "holders"), exist_ok=True)
        write_file(os.path.join(d, "initstate"), "live\n")
        write_file(os.path.join(d, "refcnt"), "%d\n" % refcnt)
        if mod in OUT_OF_TREE:
            write_file(os.path.join(d, "taint"), "OE\n")
    for k, v in params.items():
        write_file(os.path.join(d, "parameters", k), "%s\n" % v)


def write_driver_dir(d, mod, drv):
    os.makedirs(d, exist_ok=True)
    for name in ("bind", "unbind", "new_id", "remove_id", "uevent"):
        write_file(os.path.join(d, name), "")
    os.symlink("../../../../module/" + mod, os.path.join(d, "module"))
